import pg from 'pg';
import { PreconditionFailedError } from '../common/preconditions.js';
import type { CommitHook } from './commit-hook.js';
import type { FilterExpr } from './filter-expr.js';
import { toNumberedPlaceholders } from './filter-sql.js';
import { insertedRecord, keysetPage, operationsPageQuery, seqCursor } from './keyset.js';
import { loadMigrations } from './migrations.js';
import { PostgresResourceIndex, type ResourceRow } from './postgres-resource-index.js';
import type { JsonRow, Write } from './postgres-write.js';
import { rethrowUnavailable } from './postgres-errors.js';
import { CHANNEL, PostgresEvents } from './postgres-events.js';
import { GroupCommit, type Work } from './postgres-group-commit.js';
import { PostgresIam } from './postgres-iam.js';
import { PostgresServiceAccountKeys } from './postgres-service-account-keys.js';
import {
  EtagMismatchError,
  LeaseLostError,
  RequestIdReusedError,
  type IamPolicyRecord,
  type InsertOptions,
  type Lease,
  type NewOperation,
  type NewServiceAccountKey,
  type OperationRecord,
  type Outcome,
  type Page,
  type PageQuery,
  type RequestKey,
  type ResourceChange,
  type ResourceIndex,
  type ResourceQuery,
  type ResourceRecord,
  type ServiceAccountKeyRecord,
  type Store,
} from './store.js';

/** The filter fields of listOperations and the columns that hold them; compileFilter compares booleans as 1 and 0. */
const OPERATION_FILTER_COLUMNS = {
  done: '(done::int)',
  verb: 'verb',
  target: 'target',
  errorCode: 'error_code',
} as const;

/** bigint columns (seq, times in milliseconds) as numbers: all stay far below 2^53. */
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Migrations run under this session-level advisory lock, so nodes starting together apply each once. */
const MIGRATION_LOCK = "hashtextextended('devconnect-emulator migrations', 0)";

interface OperationRow {
  seq: number;
  name: string;
  parent: string;
  kind: string;
  input: string;
  verb: string;
  target: string;
  create_time: number;
  end_time: number | null;
  status_message: string;
  requested_cancellation: boolean;
  done: boolean;
  error_code: number | null;
  error_message: string | null;
  response_type: string | null;
  response_value: Buffer | null;
  request_fingerprint: string | null;
}

function toOperation(row: OperationRow): OperationRecord {
  return {
    name: row.name,
    parent: row.parent,
    kind: row.kind,
    input: row.input,
    verb: row.verb,
    target: row.target,
    createTime: new Date(row.create_time),
    endTime: row.end_time === null ? undefined : new Date(row.end_time),
    statusMessage: row.status_message,
    requestedCancellation: row.requested_cancellation,
    done: row.done,
    error: row.error_code === null ? undefined : { code: row.error_code, message: row.error_message ?? '' },
    response: row.response_type === null || row.response_value === null ? undefined : { typeUrl: row.response_type, value: new Uint8Array(row.response_value) },
  };
}

/** An operation's row as to_jsonb gives it (devconnect_write's answer to a retry or a cancel): bytea as `\x…` hex. */
function fromJsonRow(json: JsonRow): OperationRow {
  const hex = json.response_value;
  return { ...(json as unknown as OperationRow), response_value: hex === null ? null : Buffer.from(hex.slice(2), 'hex') };
}

function toResource(row: ResourceRow): ResourceRecord {
  return { name: row.name, parent: row.parent, collection: row.collection, etag: row.etag ?? '', data: new Uint8Array(row.data) };
}

const isRefusal = (error: unknown): boolean =>
  error instanceof PreconditionFailedError || error instanceof EtagMismatchError || error instanceof RequestIdReusedError || error instanceof LeaseLostError;

/** How long a call waits for a database connection before it fails UNAVAILABLE. */
const CONNECT_TIMEOUT_MS = 2_000;

export interface PostgresStoreOptions {
  /** Connections kept at most: one carries the group of writes being committed, the others serve reads. Default 10. */
  maxConnections?: number;
  /** Told how long each group commit took (metrics). */
  onCommit?: CommitHook;
}

/**
 * The store on PostgreSQL, which several nodes share. Writes commit in groups, one group at a time
 * per node (postgres-group-commit.ts); preconditions are checked under locks inside the group's
 * transaction (postgres-write.ts), so writers on different nodes cannot both pass them.
 */
export class PostgresStore implements Store {
  private readonly writes: GroupCommit;
  private readonly index = new PostgresResourceIndex();
  private readonly keys = new PostgresServiceAccountKeys();
  private readonly iam = new PostgresIam();

  private constructor(
    private readonly pool: pg.Pool,
    readonly events: PostgresEvents,
    onCommit?: CommitHook,
  ) {
    this.writes = new GroupCommit(pool, isRefusal, onCommit);
  }

  /** Connects to `databaseUrl` (postgres://…) and brings its schema up to date. */
  static async open(databaseUrl: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({
      connectionString: databaseUrl,
      max: options.maxConnections ?? 10,
      types: TYPES,
      // While the database is unreachable, a call fails in this time (UNAVAILABLE) rather than queueing for a connection.
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
    });
    // An idle connection that breaks (the server restarted) is dropped by the pool, and the next
    // query opens another; without a listener the pool's 'error' event would end the process.
    pool.on('error', () => {});
    const events = new PostgresEvents({ connectionString: databaseUrl, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true });
    try {
      await migrate(pool);
      await events.start();
    } catch (error) {
      await events.close();
      await pool.end();
      throw error;
    }
    return new PostgresStore(pool, events, options.onCommit);
  }

  insertOperation(op: NewOperation, options: InsertOptions = {}): Promise<OperationRecord> {
    const { require = [], finished, request, lease } = options;
    const insert: Write = { kind: 'insert', op, request, require, change: finished?.change, outcome: finished?.outcome, endTime: finished?.endTime, lease, notify: this.events.payload('created') };
    return this.writes
      .write(insert)
      .then((result) =>
        // A retry: the first request's operation, as it is now (its write committed before this one's lock was granted).
        'earlier' in result ? toOperation(fromJsonRow(result.earlier)) : insertedRecord(op, finished),
      )
      .catch(rethrowUnavailable);
  }

  async getOperation(name: string): Promise<OperationRecord | undefined> {
    const { rows } = await this.statement(this.pool.query<OperationRow>('SELECT * FROM operations WHERE name = $1', [name]));
    return rows[0] && toOperation(rows[0]);
  }

  getOperationByRequest(request: RequestKey): Promise<OperationRecord | undefined> {
    return this.statement(operationByRequest(this.pool, request));
  }

  async listOperations(query: PageQuery & { filter?: FilterExpr }): Promise<Page<OperationRecord>> {
    const { sql, params } = operationsPageQuery(query, OPERATION_FILTER_COLUMNS);
    const { rows } = await this.statement(this.pool.query<OperationRow>(toNumberedPlaceholders(sql), params));
    return keysetPage(rows, query.pageSize, toOperation);
  }

  async listUnfinishedOperations(): Promise<OperationRecord[]> {
    const { rows } = await this.statement(this.pool.query<OperationRow>('SELECT * FROM operations WHERE NOT done ORDER BY seq'));
    return rows.map(toOperation);
  }

  async unfinishedTargets(targets: readonly string[]): Promise<Set<string>> {
    const { rows } = await this.statement(
      this.pool.query<{ target: string }>('SELECT DISTINCT target FROM operations WHERE target = ANY($1::text[]) AND NOT done', [targets]),
    );
    return new Set(rows.map((r) => r.target));
  }

  async unfinishedTargetsUnder(prefix: string): Promise<Set<string>> {
    // Read from operations_unfinished_by_target (migration 000009): the targets of the work in flight, not its rows.
    const { rows } = await this.statement(
      this.pool.query<{ target: string }>('SELECT DISTINCT target FROM operations WHERE NOT done AND starts_with(target, $1)', [prefix]),
    );
    return new Set(rows.map((r) => r.target));
  }

  /**
   * One statement of its own, on a connection of the pool, beside the group commit: every node runs
   * it every half second, and it would otherwise hold up the writes queued behind it for a
   * transaction's three round trips. It is its own transaction; it changes no operation this node
   * writes, and a finish of one it claims waits for its row lock.
   */
  async claimOperations(lease: Lease, expiredBefore: Date, limit: number): Promise<OperationRecord[]> {
    // SKIP LOCKED: two nodes claiming at once take different operations instead of waiting on each other.
    const { rows } = await this.statement(
      this.pool.query<OperationRow>(
        `UPDATE operations SET owner = $1, lease_until = $2
         WHERE seq IN (SELECT seq FROM operations WHERE NOT done AND (lease_until IS NULL OR lease_until < $3)
                       ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED)
         RETURNING *`,
        [lease.owner, lease.until.getTime(), expiredBefore.getTime(), limit],
      ),
    );
    return rows.sort((a, b) => a.seq - b.seq).map(toOperation);
  }

  /**
   * One statement of its own beside the group commit, as claimOperations. SKIP LOCKED: it takes no
   * row it would wait for, so it never joins a deadlock with a group commit of this node finishing
   * several of them in another order (PostgreSQL breaks one only after deadlock_timeout, 1 s, in
   * which every write of that group waits). A row skipped, held by a write in flight, is reported
   * as it was last committed: still this node's, its lease renewed at the next beat.
   */
  async renewLeases(owner: string, until: Date): Promise<Array<Pick<OperationRecord, 'name' | 'requestedCancellation'>>> {
    const { rows } = await this.statement(
      this.pool.query<{ name: string; requested_cancellation: boolean }>(
        `WITH renewed AS (
           UPDATE operations SET lease_until = $2
           WHERE seq IN (SELECT seq FROM operations WHERE owner = $1 AND NOT done FOR UPDATE SKIP LOCKED)
           RETURNING seq, name, requested_cancellation)
         SELECT name, requested_cancellation FROM renewed
         UNION ALL
         SELECT name, requested_cancellation FROM operations o
         WHERE owner = $1 AND NOT done AND NOT EXISTS (SELECT 1 FROM renewed r WHERE r.seq = o.seq)`,
        [owner, until.getTime()],
      ),
    );
    return rows.map((row) => ({ name: row.name, requestedCancellation: row.requested_cancellation }));
  }

  /**
   * A write of the group commit (migration 000011): on the node that runs the operation, the
   * engine asks the handler to stop as the flag is queued, and an outcome queued before the group
   * goes out commits with the flag, in one statement. The notification goes out when it commits:
   * the node running the operation, if another, stops it then.
   */
  requestCancel(name: string): Promise<OperationRecord | undefined> {
    return this.writes
      .write({ kind: 'cancel', name, notify: this.events.payload('cancel') })
      .then((result) => ('row' in result ? toOperation(fromJsonRow(result.row)) : undefined))
      .catch(rethrowUnavailable);
  }

  setStatusMessage(name: string, message: string): Promise<void> {
    return this.write(async (tx) => {
      await tx.query(
        `WITH changed AS (UPDATE operations SET status_message = $1 WHERE name = $2 AND NOT done RETURNING name)
         SELECT pg_notify('${CHANNEL}', $3 || name) FROM changed`,
        [message, name, this.events.payload('status')],
      );
    });
  }

  finishOperation(name: string, outcome: Outcome, endTime: Date, change?: ResourceChange, owner?: string): Promise<boolean> {
    return this.writes
      .write({ kind: 'finish', name, owner, outcome, endTime, change, notify: this.events.payload('done') })
      .then((result) => 'updated' in result && result.updated)
      .catch(rethrowUnavailable);
  }

  expireOperations(options: { doneBefore: Date; requestIdsBefore: Date; every: number; limit: number }): Promise<{ ran: boolean; operations: number; requestIds: number }> {
    return this.write(async (tx) => {
      const skipped = { ran: false, operations: 0, requestIds: 0 };
      // One node at a time; a node that finds the lock taken skips, as one that finds the task done recently.
      const { rows: locked } = await tx.query<{ locked: boolean }>("SELECT pg_try_advisory_xact_lock(hashtextextended('devconnect-emulator retention', 0)) AS locked");
      if (!locked[0]!.locked) return skipped;
      const now = Date.now();
      const { rows: last } = await tx.query<{ last_run: number }>("SELECT last_run FROM cluster_tasks WHERE name = 'retention'");
      if (last[0] && last[0].last_run > now - options.every) return skipped;
      const cutoff = options.doneBefore.getTime();
      const expired = await tx.query(
        'DELETE FROM operations WHERE seq IN (SELECT seq FROM operations WHERE create_time < $1 AND done AND end_time < $1 ORDER BY create_time LIMIT $2)',
        [cutoff, options.limit],
      );
      const forgotten = await tx.query('UPDATE operations SET request_key = NULL, request_fingerprint = NULL WHERE request_key IS NOT NULL AND create_time < $1', [
        options.requestIdsBefore.getTime(),
      ]);
      await tx.query(
        "INSERT INTO cluster_tasks (name, last_run) VALUES ('retention', $1) ON CONFLICT (name) DO UPDATE SET last_run = excluded.last_run",
        [now],
      );
      return { ran: true, operations: expired.rowCount ?? 0, requestIds: forgotten.rowCount ?? 0 };
    });
  }

  deleteOperation(name: string): Promise<boolean> {
    return this.write(async (tx) => {
      const { rowCount } = await tx.query(
        `WITH deleted AS (DELETE FROM operations WHERE name = $1 RETURNING name) SELECT pg_notify('${CHANNEL}', $2 || name) FROM deleted`,
        [name, this.events.payload('deleted')],
      );
      return rowCount === 1;
    });
  }

  applyResourceChange(change: ResourceChange): Promise<void> {
    return this.writes
      .write({ kind: 'change', change })
      .then(() => undefined)
      .catch(rethrowUnavailable);
  }

  async getResource(name: string): Promise<ResourceRecord | undefined> {
    const { rows } = await this.statement(this.pool.query<ResourceRow>('SELECT * FROM resources WHERE name = $1', [name]));
    return rows[0] && toResource(rows[0]);
  }

  async listResources(query: ResourceQuery): Promise<Page<ResourceRecord>> {
    if (query.filter !== undefined || (query.order?.length ?? 0) > 0 || query.parent === undefined) {
      const sorted = await this.statement(this.index.list(this.pool, query));
      return { items: sorted.items.map(toResource), next: sorted.next };
    }
    const { rows } = await this.statement(this.pool.query<ResourceRow>(
      'SELECT * FROM resources WHERE parent = $1 AND collection = $2 AND seq > $3 ORDER BY seq LIMIT $4',
      [query.parent, query.collection, seqCursor(query.after) ?? 0, query.pageSize + 1],
    ));
    return keysetPage(rows, query.pageSize, toResource);
  }

  async listUnindexedResources(query: { collection: string; pageSize: number; after?: string }): Promise<Page<ResourceRecord>> {
    const rows = await this.statement(this.index.unindexed(this.pool, query.collection, seqCursor(query.after) ?? 0, query.pageSize + 1));
    return keysetPage(rows, query.pageSize, toResource);
  }

  indexResource(name: string, etag: string, index: ResourceIndex): Promise<boolean> {
    return this.write(async (tx) => {
      // As a change of this resource would: it waits for a write of the resource in flight, then reads what that committed.
      await tx.query('SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))', [name]);
      return this.index.index(tx, name, etag, index);
    });
  }

  createServiceAccountKey(key: NewServiceAccountKey): Promise<ServiceAccountKeyRecord> {
    return this.write((tx) => this.keys.create(tx, key));
  }

  getServiceAccountKey(keyId: string): Promise<ServiceAccountKeyRecord | undefined> {
    return this.statement(this.keys.get(this.pool, keyId));
  }

  listServiceAccountKeys(email?: string): Promise<ServiceAccountKeyRecord[]> {
    return this.statement(this.keys.list(this.pool, email));
  }

  deleteServiceAccountKey(keyId: string, deleteTime: Date): Promise<boolean> {
    return this.write((tx) => this.keys.delete(tx, keyId, deleteTime));
  }

  getIamPolicy(resource: string): Promise<IamPolicyRecord | undefined> {
    return this.statement(this.iam.getPolicy(this.pool, resource));
  }

  setIamPolicy(policy: IamPolicyRecord, expectedEtag?: string | null): Promise<void> {
    return this.write((tx) => this.iam.setPolicy(tx, policy, expectedEtag));
  }

  getIamGroups(): Promise<Record<string, string[]>> {
    return this.statement(this.iam.getGroups(this.pool));
  }

  setIamGroups(groups: Record<string, string[]>): Promise<void> {
    return this.write((tx) => this.iam.setGroups(tx, groups));
  }

  ensureSecret(name: string, value: Uint8Array): Promise<Uint8Array> {
    return this.write(async (tx) => {
      await tx.query('INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, Buffer.from(value)]);
      const { rows } = await tx.query<{ value: Buffer }>('SELECT value FROM secrets WHERE name = $1', [name]);
      return new Uint8Array(rows[0]!.value);
    });
  }

  /** A write, committed with the others of its group; UNAVAILABLE when the database cannot be reached. */
  private write<T>(work: Work<T>): Promise<T> {
    return this.writes.run(work).catch(rethrowUnavailable);
  }

  /** A statement of its own on a connection of the pool (a read, or a write that is its own transaction); UNAVAILABLE when the database cannot be reached. */
  private statement<T>(query: Promise<T>): Promise<T> {
    return query.catch(rethrowUnavailable);
  }

  /** Answers every write issued so far, then closes the connections. */
  async close(): Promise<void> {
    await this.writes.idle();
    await this.events.close();
    if (!this.pool.ended) await this.pool.end();
  }
}

/** The operation of an earlier request with this key, if any; throws RequestIdReusedError for another request with it. */
async function operationByRequest(db: pg.Pool | pg.PoolClient, request: RequestKey): Promise<OperationRecord | undefined> {
  const { rows } = await db.query<OperationRow>('SELECT * FROM operations WHERE request_key = $1', [request.key]);
  const first = rows[0];
  if (first && first.request_fingerprint !== request.fingerprint) throw new RequestIdReusedError(request.key);
  return first && toOperation(first);
}

/**
 * Applies the numbered files of migrations/postgres not applied yet, each in its own transaction.
 * The advisory lock makes nodes that start together take turns: the first applies them, the others
 * then find them applied.
 */
async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`);
    try {
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY)');
      const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
      const applied = new Set(rows.map((r) => r.version));
      for (const migration of loadMigrations('postgres')) {
        if (applied.has(migration.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(migration.sql);
          await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [migration.version]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw error;
        }
      }
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`);
    }
  } finally {
    client.release();
  }
}
