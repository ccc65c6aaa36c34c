import pg from 'pg';
import { PreconditionFailedError } from '../common/preconditions.js';
import type { FilterExpr } from './filter-expr.js';
import { toNumberedPlaceholders } from './filter-sql.js';
import { insertedRecord, keysetPage, operationsPageQuery, seqCursor } from './keyset.js';
import { loadMigrations } from './migrations.js';
import { PostgresChanges } from './postgres-changes.js';
import { GroupCommit } from './postgres-group-commit.js';
import { PostgresIam } from './postgres-iam.js';
import type { ResourceRow } from './postgres-resource-index.js';
import { PostgresServiceAccountKeys } from './postgres-service-account-keys.js';
import {
  EtagMismatchError,
  RequestIdReusedError,
  type IamPolicyRecord,
  type InsertOptions,
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

function toResource(row: ResourceRow): ResourceRecord {
  return { name: row.name, parent: row.parent, collection: row.collection, etag: row.etag ?? '', data: new Uint8Array(row.data) };
}

/** The values of an operation's outcome columns (all NULL for a running one): end_time, error_code, error_message, response_type, response_value. */
function outcomeValues(outcome: Outcome | undefined, endTime: Date | undefined): unknown[] {
  const value = outcome?.response?.value;
  return [
    endTime?.getTime() ?? null,
    outcome?.error?.code ?? null,
    outcome?.error?.message ?? null,
    outcome?.response?.typeUrl ?? null,
    value ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : null,
  ];
}



const isRefusal = (error: unknown): boolean =>
  error instanceof PreconditionFailedError || error instanceof EtagMismatchError || error instanceof RequestIdReusedError;

export interface PostgresStoreOptions {
  /** Connections kept at most: one carries the group of writes being committed, the others serve reads. Default 10. */
  maxConnections?: number;
}

/**
 * The store on PostgreSQL, which several nodes share. Writes commit in groups, one group at a time
 * per node (postgres-group-commit.ts); preconditions are checked under locks inside the group's
 * transaction (postgres-changes.ts), so writers on different nodes cannot both pass them.
 */
export class PostgresStore implements Store {
  private readonly writes: GroupCommit;
  private readonly changes = new PostgresChanges();
  private readonly keys = new PostgresServiceAccountKeys();
  private readonly iam = new PostgresIam();

  private constructor(private readonly pool: pg.Pool) {
    this.writes = new GroupCommit(pool, isRefusal);
  }

  /** Connects to `databaseUrl` (postgres://…) and brings its schema up to date. */
  static async open(databaseUrl: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: options.maxConnections ?? 10, types: TYPES });
    // An idle connection that breaks (the server restarted) is dropped by the pool, and the next
    // query opens another; without a listener the pool's 'error' event would end the process.
    pool.on('error', () => {});
    try {
      await migrate(pool);
    } catch (error) {
      await pool.end();
      throw error;
    }
    return new PostgresStore(pool);
  }

  insertOperation(op: NewOperation, options: InsertOptions = {}): Promise<OperationRecord> {
    const { require = [], finished, request } = options;
    return this.writes.run(async (tx) => {
      if (request) {
        // Retries of one request on two nodes: the second waits for the first's commit, then finds its operation.
        await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 1))', [request.key]);
        const earlier = await operationByRequest(tx, request);
        if (earlier) return earlier;
      }
      await this.changes.lock(tx, require, finished?.change);
      await this.changes.check(tx, require);
      // The change is applied first: when it fails, nothing has been written.
      if (finished?.change) {
        await this.changes.check(tx, finished.change.require);
        await this.changes.apply(tx, finished.change);
      }
      const outcome = finished?.outcome;
      await tx.query(
        `INSERT INTO operations (name, parent, kind, input, verb, target, create_time, done, end_time, error_code, error_message,
           response_type, response_value, request_key, request_fingerprint)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
        [op.name, op.parent, op.kind, op.input, op.verb, op.target, op.createTime.getTime(), finished !== undefined, ...outcomeValues(outcome, finished?.endTime), request?.key ?? null, request?.fingerprint ?? null],
      );
      return insertedRecord(op, finished);
    });
  }

  async getOperation(name: string): Promise<OperationRecord | undefined> {
    const { rows } = await this.pool.query<OperationRow>('SELECT * FROM operations WHERE name = $1', [name]);
    return rows[0] && toOperation(rows[0]);
  }

  getOperationByRequest(request: RequestKey): Promise<OperationRecord | undefined> {
    return operationByRequest(this.pool, request);
  }

  async listOperations(query: PageQuery & { filter?: FilterExpr }): Promise<Page<OperationRecord>> {
    const { sql, params } = operationsPageQuery(query, OPERATION_FILTER_COLUMNS);
    const { rows } = await this.pool.query<OperationRow>(toNumberedPlaceholders(sql), params);
    return keysetPage(rows, query.pageSize, toOperation);
  }

  async listUnfinishedOperations(): Promise<OperationRecord[]> {
    const { rows } = await this.pool.query<OperationRow>('SELECT * FROM operations WHERE NOT done ORDER BY seq');
    return rows.map(toOperation);
  }

  requestCancel(name: string): Promise<OperationRecord | undefined> {
    return this.writes.run(async (tx) => {
      await tx.query('UPDATE operations SET requested_cancellation = true WHERE name = $1 AND NOT done', [name]);
      const { rows } = await tx.query<OperationRow>('SELECT * FROM operations WHERE name = $1', [name]);
      return rows[0] && toOperation(rows[0]);
    });
  }

  setStatusMessage(name: string, message: string): Promise<void> {
    return this.writes.run(async (tx) => {
      await tx.query('UPDATE operations SET status_message = $1 WHERE name = $2 AND NOT done', [message, name]);
    });
  }

  finishOperation(name: string, outcome: Outcome, endTime: Date, change?: ResourceChange): Promise<boolean> {
    return this.writes.run(async (tx) => {
      if (change) await this.applyChange(tx, change);
      // `NOT done` is checked again on the row once locked: of two nodes finishing it, one does.
      const { rowCount } = await tx.query(
        `UPDATE operations SET done = true, end_time = $2, error_code = $3, error_message = $4, response_type = $5, response_value = $6
         WHERE name = $1 AND NOT done`,
        [name, ...outcomeValues(outcome, endTime)],
      );
      return rowCount === 1;
    });
  }

  deleteOperation(name: string): Promise<boolean> {
    return this.writes.run(async (tx) => (await tx.query('DELETE FROM operations WHERE name = $1', [name])).rowCount === 1);
  }

  applyResourceChange(change: ResourceChange): Promise<void> {
    return this.writes.run((tx) => this.applyChange(tx, change));
  }

  private async applyChange(tx: pg.PoolClient, change: ResourceChange): Promise<void> {
    await this.changes.lock(tx, [], change);
    await this.changes.check(tx, change.require);
    await this.changes.apply(tx, change);
  }

  async getResource(name: string): Promise<ResourceRecord | undefined> {
    const { rows } = await this.pool.query<ResourceRow>('SELECT * FROM resources WHERE name = $1', [name]);
    return rows[0] && toResource(rows[0]);
  }

  async listResources(query: ResourceQuery): Promise<Page<ResourceRecord>> {
    if (query.filter !== undefined || (query.order?.length ?? 0) > 0) {
      const sorted = await this.changes.index.list(this.pool, query);
      return { items: sorted.items.map(toResource), next: sorted.next };
    }
    const { rows } = await this.pool.query<ResourceRow>(
      'SELECT * FROM resources WHERE parent = $1 AND collection = $2 AND seq > $3 ORDER BY seq LIMIT $4',
      [query.parent, query.collection, seqCursor(query.after) ?? 0, query.pageSize + 1],
    );
    return keysetPage(rows, query.pageSize, toResource);
  }

  async listUnindexedResources(query: { collection: string; pageSize: number; after?: string }): Promise<Page<ResourceRecord>> {
    const rows = await this.changes.index.unindexed(this.pool, query.collection, seqCursor(query.after) ?? 0, query.pageSize + 1);
    return keysetPage(rows, query.pageSize, toResource);
  }

  indexResource(name: string, etag: string, index: ResourceIndex): Promise<boolean> {
    return this.writes.run(async (tx) => {
      await this.changes.lock(tx, [{ kind: 'etag', name, etag }]);
      return this.changes.index.index(tx, name, etag, index);
    });
  }

  createServiceAccountKey(key: NewServiceAccountKey): Promise<ServiceAccountKeyRecord> {
    return this.writes.run((tx) => this.keys.create(tx, key));
  }

  getServiceAccountKey(keyId: string): Promise<ServiceAccountKeyRecord | undefined> {
    return this.keys.get(this.pool, keyId);
  }

  listServiceAccountKeys(email?: string): Promise<ServiceAccountKeyRecord[]> {
    return this.keys.list(this.pool, email);
  }

  deleteServiceAccountKey(keyId: string, deleteTime: Date): Promise<boolean> {
    return this.writes.run((tx) => this.keys.delete(tx, keyId, deleteTime));
  }

  getIamPolicy(resource: string): Promise<IamPolicyRecord | undefined> {
    return this.iam.getPolicy(this.pool, resource);
  }

  setIamPolicy(policy: IamPolicyRecord, expectedEtag?: string | null): Promise<void> {
    return this.writes.run((tx) => this.iam.setPolicy(tx, policy, expectedEtag));
  }

  getIamGroups(): Promise<Record<string, string[]>> {
    return this.iam.getGroups(this.pool);
  }

  setIamGroups(groups: Record<string, string[]>): Promise<void> {
    return this.writes.run((tx) => this.iam.setGroups(tx, groups));
  }

  /** Answers every write issued so far, then closes the connections. */
  async close(): Promise<void> {
    await this.writes.idle();
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
