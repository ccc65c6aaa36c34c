import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { FilterExpr } from './filter-expr.js';
import { compileFilter } from './filter-sql.js';
import { loadMigrations } from './migrations.js';
import {
  ResourceExistsError,
  type NewOperation,
  type OperationRecord,
  type Outcome,
  type Page,
  type PageQuery,
  type ResourceChange,
  type ResourceRecord,
  type Store,
} from './store.js';

/** Filter fields of ListOperations and the columns that hold them. */
const OPERATION_FILTER_COLUMNS = {
  done: 'done',
  'metadata.verb': 'verb',
  'metadata.target': 'target',
  'error.code': 'error_code',
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
}

interface ResourceRow {
  seq: number;
  name: string;
  parent: string;
  collection: string;
  data: Buffer;
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
  return { name: row.name, parent: row.parent, collection: row.collection, data: new Uint8Array(row.data) };
}

function page<R extends { seq: number }, T>(rows: R[], pageSize: number, map: (row: R) => T): Page<T> {
  const items = rows.slice(0, pageSize);
  const last = items[items.length - 1];
  return { items: items.map(map), next: rows.length > pageSize && last ? String(last.seq) : undefined };
}

function cursor(after: string | undefined): number | undefined {
  if (after === undefined) return undefined;
  const seq = Number(after);
  if (!Number.isSafeInteger(seq) || seq < 0) throw new Error(`invalid cursor ${after}`);
  return seq;
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

  private constructor(db: Database.Database) {
    this.db = db;
    this.statements = {
      insertOperation: db.prepare(
        `INSERT INTO operations (name, parent, kind, input, verb, target, create_time)
         VALUES (@name, @parent, @kind, @input, @verb, @target, @createTime) RETURNING *`,
      ),
      getOperation: db.prepare('SELECT * FROM operations WHERE name = ?'),
      unfinished: db.prepare('SELECT * FROM operations WHERE done = 0 ORDER BY seq'),
      requestCancel: db.prepare('UPDATE operations SET requested_cancellation = 1 WHERE name = ? AND done = 0'),
      setStatusMessage: db.prepare('UPDATE operations SET status_message = ? WHERE name = ? AND done = 0'),
      finishOperation: db.prepare(
        `UPDATE operations SET done = 1, end_time = @endTime, error_code = @errorCode, error_message = @errorMessage,
           response_type = @responseType, response_value = @responseValue
         WHERE name = @name AND done = 0`,
      ),
      deleteOperation: db.prepare('DELETE FROM operations WHERE name = ?'),
      getResource: db.prepare('SELECT * FROM resources WHERE name = ?'),
      insertResource: db.prepare(
        'INSERT INTO resources (name, parent, collection, data) VALUES (@name, @parent, @collection, @data) ON CONFLICT (name) DO NOTHING',
      ),
      deleteResource: db.prepare('DELETE FROM resources WHERE name = ?'),
      listResources: db.prepare(
        `SELECT * FROM resources WHERE parent = @parent AND collection = @collection AND seq > @after
         ORDER BY seq LIMIT @limit`,
      ),
    };
  }

  /** Opens (creating if needed) `<dataDir>/devconnect.sqlite`, or an in-memory database for ':memory:'. */
  static open(dataDir: string): SqliteStore {
    let file = ':memory:';
    if (dataDir !== ':memory:') {
      mkdirSync(dataDir, { recursive: true });
      file = join(dataDir, 'devconnect.sqlite');
    }
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    migrate(db);
    return new SqliteStore(db);
  }

  async insertOperation(op: NewOperation): Promise<OperationRecord> {
    const row = this.statements.insertOperation.get({ ...op, createTime: op.createTime.getTime() }) as OperationRow;
    return toOperation(row);
  }

  async getOperation(name: string): Promise<OperationRecord | undefined> {
    const row = this.statements.getOperation.get(name) as OperationRow | undefined;
    return row && toOperation(row);
  }

  async listOperations(query: PageQuery & { filter?: FilterExpr }): Promise<Page<OperationRecord>> {
    const where = ['parent = ?'];
    const params: unknown[] = [query.parent];
    const after = cursor(query.after);
    if (after !== undefined) {
      where.push('seq < ?');
      params.push(after);
    }
    if (query.filter) {
      const compiled = compileFilter(query.filter, OPERATION_FILTER_COLUMNS);
      where.push(`(${compiled.sql})`);
      params.push(...compiled.params);
    }
    // A filter makes a different statement each time; SQLite prepares in microseconds.
    const rows = this.db
      .prepare(`SELECT * FROM operations WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT ?`)
      .all(...params, query.pageSize + 1) as OperationRow[];
    return page(rows, query.pageSize, toOperation);
  }

  async listUnfinishedOperations(): Promise<OperationRecord[]> {
    return (this.statements.unfinished.all() as OperationRow[]).map(toOperation);
  }

  async requestCancel(name: string): Promise<OperationRecord | undefined> {
    this.statements.requestCancel.run(name);
    return this.getOperation(name);
  }

  async setStatusMessage(name: string, message: string): Promise<void> {
    this.statements.setStatusMessage.run(message, name);
  }

  async finishOperation(name: string, outcome: Outcome, endTime: Date, change?: ResourceChange): Promise<boolean> {
    const finish = this.db.transaction((): boolean => {
      if (change?.kind === 'create') {
        const inserted = this.statements.insertResource.run({ ...change.resource, data: Buffer.from(change.resource.data) });
        if (inserted.changes === 0) throw new ResourceExistsError(change.resource.name);
      } else if (change?.kind === 'delete') {
        this.statements.deleteResource.run(change.name);
      }
      const updated = this.statements.finishOperation.run({
        name,
        endTime: endTime.getTime(),
        errorCode: outcome.error?.code ?? null,
        errorMessage: outcome.error?.message ?? null,
        responseType: outcome.response?.typeUrl ?? null,
        responseValue: outcome.response ? Buffer.from(outcome.response.value) : null,
      });
      return updated.changes === 1;
    });
    return finish();
  }

  async deleteOperation(name: string): Promise<boolean> {
    return this.statements.deleteOperation.run(name).changes === 1;
  }

  async getResource(name: string): Promise<ResourceRecord | undefined> {
    const row = this.statements.getResource.get(name) as ResourceRow | undefined;
    return row && toResource(row);
  }

  async listResources(query: PageQuery & { collection: string }): Promise<Page<ResourceRecord>> {
    const rows = this.statements.listResources.all({
      parent: query.parent,
      collection: query.collection,
      after: cursor(query.after) ?? 0,
      limit: query.pageSize + 1,
    }) as ResourceRow[];
    return page(rows, query.pageSize, toResource);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

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
