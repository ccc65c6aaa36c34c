import { chmodSync, mkdirSync } from 'node:fs';
import { PreconditionFailedError, type Precondition } from '../common/preconditions.js';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import type { CommitHook } from './commit-hook.js';
import { WalCheckpoints } from './sqlite-checkpoints.js';
import type { FilterExpr } from './filter-expr.js';
import { insertedRecord, keysetPage, operationsPageQuery, seqCursor } from './keyset.js';
import { loadMigrations } from './migrations.js';
import { SqliteIam } from './sqlite-iam.js';
import { SqliteResourceIndex, type ResourceRow } from './sqlite-resource-index.js';
import { SqliteServiceAccountKeys } from './sqlite-service-account-keys.js';
import {
  EtagMismatchError,
  LeaseLostError,
  RequestIdReusedError,
  type InsertOptions,
  type Lease,
  type NewOperation,
  type OperationRecord,
  type Outcome,
  type IamPolicyRecord,
  type Page,
  type PageQuery,
  type RequestKey,
  type ResourceChange,
  type ResourceIndex,
  type ResourceQuery,
  type NewServiceAccountKey,
  type ResourceRecord,
  type ServiceAccountKeyRecord,
  type Store,
} from './store.js';

/** The name of the retention task in cluster_tasks. */
const RETENTION_TASK = 'retention';

/** The filter fields of listOperations and the columns that hold them. */
const OPERATION_FILTER_COLUMNS = {
  done: 'done',
  verb: 'verb',
  target: 'target',
  errorCode: 'error_code',
} as const;

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
  requested_cancellation: number;
  done: number;
  error_code: number | null;
  error_message: string | null;
  response_type: string | null;
  response_value: Buffer | null;
  request_fingerprint: string | null;
}

/** better-sqlite3 binds Buffers, not plain Uint8Arrays: a view of the same memory, no copy. */
function bytes(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** The columns of an operation's outcome (all NULL for a running one). */
function outcomeColumns(outcome: Outcome | undefined, endTime: Date | undefined) {
  return {
    endTime: endTime?.getTime() ?? null,
    errorCode: outcome?.error?.code ?? null,
    errorMessage: outcome?.error?.message ?? null,
    responseType: outcome?.response?.typeUrl ?? null,
    responseValue: outcome?.response ? bytes(outcome.response.value) : null,
  };
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
    requestedCancellation: row.requested_cancellation === 1,
    done: row.done === 1,
    error: row.error_code === null ? undefined : { code: row.error_code, message: row.error_message ?? '' },
    response:
      row.response_type === null || row.response_value === null
        ? undefined
        : { typeUrl: row.response_type, value: new Uint8Array(row.response_value) },
  };
}

function toResource(row: ResourceRow): ResourceRecord {
  return { name: row.name, parent: row.parent, collection: row.collection, etag: row.etag ?? '', data: new Uint8Array(row.data) };
}



/**
 * The embedded default store: one SQLite file in WAL mode. `synchronous = NORMAL` makes every
 * committed transaction survive a crash of the process (SIGKILL); only a power loss can lose
 * the last transactions. better-sqlite3 is synchronous, which is what makes this store fast:
 * each call is a few microseconds of work on the event loop, with no thread hop.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly statements;
  private readonly serviceAccountKeys: SqliteServiceAccountKeys;
  private readonly iam: SqliteIam;
  private readonly resourceIndex: SqliteResourceIndex;

  /** Writes waiting for the next group commit. */
  private pending: PendingWrite[] = [];
  private readonly groupCommit: (batch: PendingWrite[]) => Settled[];

  private constructor(
    db: Database.Database,
    private readonly onCommit?: CommitHook,
    private readonly checkpoints?: WalCheckpoints,
  ) {
    this.db = db;
    // No savepoint per write: a write function either fails before it changes anything (a
    // PreconditionFailedError, EtagMismatchError or RequestIdReusedError, which fails only that write) or not at all; any
    // other error rolls back the whole group and fails every write in it.
    this.groupCommit = db.transaction((batch: PendingWrite[]) =>
      batch.map((item): Settled => {
        try {
          return { ok: true, value: item.work() };
        } catch (error) {
          if (error instanceof PreconditionFailedError || error instanceof EtagMismatchError || error instanceof RequestIdReusedError || error instanceof LeaseLostError) return { ok: false, error };
          throw error;
        }
      }),
    );
    this.serviceAccountKeys = new SqliteServiceAccountKeys(db);
    this.iam = new SqliteIam(db);
    this.resourceIndex = new SqliteResourceIndex(db);
    this.statements = {
      insertOperation: db.prepare(
        `INSERT INTO operations (name, parent, kind, input, verb, target, create_time, done, end_time, error_code, error_message,
           response_type, response_value, request_key, request_fingerprint, owner, lease_until)
         VALUES (@name, @parent, @kind, @input, @verb, @target, @createTime, @done, @endTime, @errorCode, @errorMessage,
           @responseType, @responseValue, @requestKey, @requestFingerprint, @owner, @leaseUntil)`,
      ),
      getOperation: db.prepare('SELECT * FROM operations WHERE name = ?'),
      operationByRequest: db.prepare('SELECT * FROM operations WHERE request_key = ?'),
      unfinished: db.prepare('SELECT * FROM operations WHERE done = 0 ORDER BY seq'),
      unfinishedTarget: db.prepare('SELECT 1 FROM operations WHERE target = ? AND done = 0 LIMIT 1').pluck(),
      // substr, not LIKE: a prefix is matched byte for byte, `_` and `%` included.
      unfinishedTargetsUnder: db.prepare('SELECT DISTINCT target FROM operations WHERE done = 0 AND substr(target, 1, ?) = ?').pluck(),
      claimable: db.prepare('SELECT * FROM operations WHERE done = 0 AND (lease_until IS NULL OR lease_until < ?) ORDER BY seq LIMIT ?'),
      lease: db.prepare('UPDATE operations SET owner = ?, lease_until = ? WHERE name = ?'),
      renewLeases: db.prepare('UPDATE operations SET lease_until = ? WHERE owner = ? AND done = 0 RETURNING name, requested_cancellation'),
      holder: db.prepare('SELECT owner, done FROM operations WHERE name = ?'),
      lastRun: db.prepare('SELECT last_run FROM cluster_tasks WHERE name = ?').pluck(),
      ranTask: db.prepare('INSERT INTO cluster_tasks (name, last_run) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET last_run = excluded.last_run'),
      expireOperations: db.prepare(
        'DELETE FROM operations WHERE seq IN (SELECT seq FROM operations WHERE create_time < ? AND done = 1 AND end_time < ? ORDER BY create_time LIMIT ?)',
      ),
      forgetRequestIds: db.prepare('UPDATE operations SET request_key = NULL, request_fingerprint = NULL WHERE request_key IS NOT NULL AND create_time < ?'),
      insertSecret: db.prepare('INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING'),
      secret: db.prepare('SELECT value FROM secrets WHERE name = ?').pluck(),
      requestCancel: db.prepare('UPDATE operations SET requested_cancellation = 1 WHERE name = ? AND done = 0'),
      setStatusMessage: db.prepare('UPDATE operations SET status_message = ? WHERE name = ? AND done = 0'),
      finishOperation: db.prepare(
        `UPDATE operations SET done = 1, end_time = @endTime, error_code = @errorCode, error_message = @errorMessage,
           response_type = @responseType, response_value = @responseValue
         WHERE name = @name AND done = 0`,
      ),
      deleteOperation: db.prepare('DELETE FROM operations WHERE name = ?'),
      getResource: db.prepare('SELECT * FROM resources WHERE name = ?'),
      resourceEtag: db.prepare('SELECT etag FROM resources WHERE name = ?'),
      hasChildren: db.prepare('SELECT 1 FROM resources WHERE parent = ? LIMIT 1').pluck(),
      // An update keeps the row (and its seq), so a listing keeps its order.
      putResource: db
        .prepare(
          `INSERT INTO resources (name, parent, collection, etag, data, indexed) VALUES (@name, @parent, @collection, @etag, @data, @indexed)
           ON CONFLICT (name) DO UPDATE SET parent = excluded.parent, collection = excluded.collection, etag = excluded.etag, data = excluded.data,
             indexed = excluded.indexed
           RETURNING seq`,
        )
        .pluck(),
      deleteResource: db.prepare('DELETE FROM resources WHERE name = ?'),
      // The names below `name/`: from 'name/' up to, not including, 'name0' ('0' follows '/').
      deleteDescendants: db.prepare("DELETE FROM resources WHERE name >= ? || '/' AND name < ? || '0'"),
      listResources: db.prepare(
        `SELECT * FROM resources WHERE parent = @parent AND collection = @collection AND seq > @after
         ORDER BY seq LIMIT @limit`,
      ),
    };
  }

  /** Opens (creating if needed) `<dataDir>/devconnect.sqlite`, or an in-memory database for ':memory:'. */
  static open(dataDir: string, options: { onCommit?: CommitHook } = {}): SqliteStore {
    let file = ':memory:';
    if (dataDir !== ':memory:') {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      file = join(dataDir, 'devconnect.sqlite');
    }
    const db = new Database(file);
    // The database holds the server's secrets (its token signing key): readable by its owner only.
    // SQLite gives the -wal and -shm files the database file's permissions.
    if (file !== ':memory:') chmodSync(file, 0o600);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    migrate(db);
    return new SqliteStore(db, options.onCommit, file === ':memory:' ? undefined : new WalCheckpoints(file, db));
  }

  insertOperation(op: NewOperation, options: InsertOptions = {}): Promise<OperationRecord> {
    const { require, finished, request } = options;
    return this.write(() => {
      const earlier = request && this.operationByRequest(request);
      if (earlier) return earlier;
      if (require) this.check(require);
      // The change is applied first: when it fails, nothing has been written.
      if (finished?.change) this.applyChange(finished.change);
      // One INSERT, finished or not: the record is what was written, so it is not read back.
      const outcome = finished?.outcome;
      this.statements.insertOperation.run({
        ...op,
        createTime: op.createTime.getTime(),
        done: finished ? 1 : 0,
        ...outcomeColumns(outcome, finished?.endTime),
        requestKey: request?.key ?? null,
        requestFingerprint: request?.fingerprint ?? null,
        owner: options.lease?.owner ?? null,
        leaseUntil: options.lease?.until.getTime() ?? null,
      });
      return insertedRecord(op, finished);
    });
  }

  async getOperation(name: string): Promise<OperationRecord | undefined> {
    const row = this.statements.getOperation.get(name) as OperationRow | undefined;
    return row && toOperation(row);
  }

  async getOperationByRequest(request: RequestKey): Promise<OperationRecord | undefined> {
    return this.operationByRequest(request);
  }

  /** The operation of an earlier request with this key, if any; throws RequestIdReusedError for another request with it. */
  private operationByRequest(request: RequestKey): OperationRecord | undefined {
    const first = this.statements.operationByRequest.get(request.key) as OperationRow | undefined;
    if (first && first.request_fingerprint !== request.fingerprint) throw new RequestIdReusedError(request.key);
    return first && toOperation(first);
  }

  async listOperations(query: PageQuery & { filter?: FilterExpr }): Promise<Page<OperationRecord>> {
    const { sql, params } = operationsPageQuery(query, OPERATION_FILTER_COLUMNS);
    // A filter makes a different statement each time; SQLite prepares in microseconds.
    const rows = this.db.prepare(sql).all(...params) as OperationRow[];
    return keysetPage(rows, query.pageSize, toOperation);
  }

  async listUnfinishedOperations(): Promise<OperationRecord[]> {
    return (this.statements.unfinished.all() as OperationRow[]).map(toOperation);
  }

  async unfinishedTargets(targets: readonly string[]): Promise<Set<string>> {
    const busy = new Set<string>();
    for (const target of targets) if (this.statements.unfinishedTarget.get(target) !== undefined) busy.add(target);
    return busy;
  }

  async unfinishedTargetsUnder(prefix: string): Promise<Set<string>> {
    return new Set(this.statements.unfinishedTargetsUnder.all(prefix.length, prefix) as string[]);
  }

  claimOperations(lease: Lease, expiredBefore: Date, limit: number): Promise<OperationRecord[]> {
    return this.write(() => {
      const rows = this.statements.claimable.all(expiredBefore.getTime(), limit) as OperationRow[];
      for (const row of rows) this.statements.lease.run(lease.owner, lease.until.getTime(), row.name);
      return rows.map(toOperation);
    });
  }

  renewLeases(owner: string, until: Date): Promise<Array<Pick<OperationRecord, 'name' | 'requestedCancellation'>>> {
    return this.write(() =>
      (this.statements.renewLeases.all(until.getTime(), owner) as Array<{ name: string; requested_cancellation: number }>).map((row) => ({
        name: row.name,
        requestedCancellation: row.requested_cancellation === 1,
      })),
    );
  }

  requestCancel(name: string): Promise<OperationRecord | undefined> {
    return this.write(() => {
      this.statements.requestCancel.run(name);
      const row = this.statements.getOperation.get(name) as OperationRow | undefined;
      return row && toOperation(row);
    });
  }

  setStatusMessage(name: string, message: string): Promise<void> {
    return this.write(() => {
      this.statements.setStatusMessage.run(message, name);
    });
  }

  finishOperation(name: string, outcome: Outcome, endTime: Date, change?: ResourceChange, owner?: string): Promise<boolean> {
    return this.write((): boolean => {
      if (owner !== undefined) {
        const holder = this.statements.holder.get(name) as { owner: string | null; done: number } | undefined;
        if (holder && holder.owner !== owner) throw new LeaseLostError(name);
      }
      if (change) this.applyChange(change);
      return this.statements.finishOperation.run({ name, ...outcomeColumns(outcome, endTime) }).changes === 1;
    });
  }

  /** Within a write: checks the change's preconditions (PreconditionFailedError before writing anything), then applies it. */
  private applyChange(change: ResourceChange): void {
    this.check(change.require);
    if (change.delete) {
      this.statements.deleteResource.run(change.delete.name);
      if (change.delete.cascade) this.statements.deleteDescendants.run(change.delete.name, change.delete.name);
    }
    if (change.deleteChildrenOf !== undefined) this.statements.deleteDescendants.run(change.deleteChildrenOf, change.deleteChildrenOf);
    if (change.put) {
      const { name, parent, collection, etag, data, index } = change.put;
      const seq = this.statements.putResource.get({ name, parent, collection, etag, data: bytes(data), indexed: index ? 1 : 0 }) as number;
      this.resourceIndex.write(seq, parent, collection, index);
    }
  }

  /** Within a write: every precondition holds, or PreconditionFailedError for the first that does not. Reads in the group's transaction take no lock of their own. */
  private check(preconditions: readonly Precondition[]): void {
    for (const p of preconditions) {
      let holds: boolean;
      if (p.kind === 'no-children') {
        holds = this.statements.hasChildren.get(p.name) === undefined;
      } else {
        const row = this.statements.resourceEtag.get(p.name) as { etag: string | null } | undefined;
        holds = p.kind === 'absent' ? row === undefined : p.kind === 'etag' ? row !== undefined && (row.etag ?? '') === p.etag : row !== undefined;
      }
      if (!holds) throw new PreconditionFailedError(p);
    }
  }

  expireOperations(options: { doneBefore: Date; requestIdsBefore: Date; every: number; limit: number }): Promise<{ ran: boolean; operations: number; requestIds: number }> {
    return this.write(() => {
      const now = Date.now();
      const last = this.statements.lastRun.get(RETENTION_TASK) as number | undefined;
      if (last !== undefined && last > now - options.every) return { ran: false, operations: 0, requestIds: 0 };
      const cutoff = options.doneBefore.getTime();
      const operations = this.statements.expireOperations.run(cutoff, cutoff, options.limit).changes;
      const requestIds = this.statements.forgetRequestIds.run(options.requestIdsBefore.getTime()).changes;
      this.statements.ranTask.run(RETENTION_TASK, now);
      return { ran: true, operations, requestIds };
    });
  }

  deleteOperation(name: string): Promise<boolean> {
    return this.write(() => this.statements.deleteOperation.run(name).changes === 1);
  }

  applyResourceChange(change: ResourceChange): Promise<void> {
    return this.write(() => this.applyChange(change));
  }

  async getResource(name: string): Promise<ResourceRecord | undefined> {
    const row = this.statements.getResource.get(name) as ResourceRow | undefined;
    return row && toResource(row);
  }

  async listResources(query: ResourceQuery): Promise<Page<ResourceRecord>> {
    if (query.filter !== undefined || (query.order?.length ?? 0) > 0 || query.parent === undefined) {
      const sorted = this.resourceIndex.list(query);
      return { items: sorted.items.map(toResource), next: sorted.next };
    }
    const rows = this.statements.listResources.all({
      parent: query.parent,
      collection: query.collection,
      after: seqCursor(query.after) ?? 0,
      limit: query.pageSize + 1,
    }) as ResourceRow[];
    return keysetPage(rows, query.pageSize, toResource);
  }

  async listUnindexedResources(query: { collection: string; pageSize: number; after?: string }): Promise<Page<ResourceRecord>> {
    const rows = this.resourceIndex.unindexed(query.collection, seqCursor(query.after) ?? 0, query.pageSize + 1);
    return keysetPage(rows, query.pageSize, toResource);
  }

  indexResource(name: string, etag: string, index: ResourceIndex): Promise<boolean> {
    return this.write(() => this.resourceIndex.index(name, etag, index));
  }

  createServiceAccountKey(key: NewServiceAccountKey): Promise<ServiceAccountKeyRecord> {
    return this.write(() => this.serviceAccountKeys.create(key));
  }

  async getServiceAccountKey(keyId: string): Promise<ServiceAccountKeyRecord | undefined> {
    return this.serviceAccountKeys.get(keyId);
  }

  async listServiceAccountKeys(email?: string): Promise<ServiceAccountKeyRecord[]> {
    return this.serviceAccountKeys.list(email);
  }

  deleteServiceAccountKey(keyId: string, deleteTime: Date): Promise<boolean> {
    return this.write(() => this.serviceAccountKeys.delete(keyId, deleteTime));
  }

  async getIamPolicy(resource: string): Promise<IamPolicyRecord | undefined> {
    return this.iam.getPolicy(resource);
  }

  setIamPolicy(policy: IamPolicyRecord, expectedEtag?: string | null): Promise<void> {
    return this.write(() => this.iam.setPolicy(policy, expectedEtag));
  }

  async getIamGroups(): Promise<Record<string, string[]>> {
    return this.iam.getGroups();
  }

  setIamGroups(groups: Record<string, string[]>): Promise<void> {
    return this.write(() => this.iam.setGroups(groups));
  }

  ensureSecret(name: string, value: Uint8Array): Promise<Uint8Array> {
    return this.write(() => {
      this.statements.insertSecret.run(name, bytes(value));
      return new Uint8Array(this.statements.secret.get(name) as Buffer);
    });
  }

  async close(): Promise<void> {
    this.flush();
    await this.checkpoints?.close();
    if (this.db.open) this.db.close();
  }

  /**
   * Group commit: writes issued in the same turn of the event loop are committed together in one
   * transaction on the next turn, and each caller is answered only after that COMMIT. One commit
   * per batch instead of one per write is most of the store's cost under load.
   */
  private write<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    let settled: Settled[];
    const started = performance.now();
    try {
      settled = this.groupCommit(batch);
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    this.onCommit?.((performance.now() - started) / 1_000);
    this.checkpoints?.committed();
    settled.forEach((result, i) => {
      const item = batch[i];
      if (!item) return;
      if (result.ok) item.resolve(result.value);
      else item.reject(result.error);
    });
  }
}

interface PendingWrite {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)');
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
  );
  for (const migration of loadMigrations('sqlite')) {
    if (applied.has(migration.version)) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (version) VALUES (?)').run(migration.version);
    })();
  }
}
