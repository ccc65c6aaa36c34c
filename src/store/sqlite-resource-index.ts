import type Database from 'better-sqlite3';
import { indexScope, positionCursor } from './keyset.js';
import type { CompareOp, FilterExpr } from './filter-expr.js';
import { compileFilter, type SqlFragment } from './filter-sql.js';
import type { IndexValue, Page, ResourceIndex, ResourceQuery, SortKey } from './store.js';

export interface ResourceRow {
  seq: number;
  name: string;
  parent: string;
  collection: string;
  etag: string | null;
  data: Buffer;
}

/**
 * Where a filtered listing starts. A filter term that matches fewer entries than this is read
 * through the index first, and the few resources it names are sorted (a filter that matches
 * nothing costs nothing, whatever the size of the parent). Otherwise the listing walks the first
 * sort field's entries in order and stops at a full page, checking the filter on the way: a term
 * matching this many entries fills a page soon enough. Counting up to this many entries is the
 * price of the choice: a fraction of a millisecond.
 */
const NARROW = 1000;

/** A sort position: the values of the sort fields, then the seq (which makes the order total). */
type Position = (string | number | null)[];

/** A listed row with the values of its sort fields as `key0`, `key1`, … */
type SortedRow = ResourceRow & { [key: `key${number}`]: string | number | null | undefined };

/** Where a listing query starts: a table expression binding `r` (resources), with conditions of its own. */
interface From {
  sql: string;
  where?: SqlFragment;
  /** `k0`, the first sort field's entries, is the table walked. */
  walksFirstKey?: boolean;
}

/** A filter term as a condition on one field's entries in the index, and how to narrow a listing with it. */
interface Narrowing {
  field: string;
  condition: (value: string) => string;
  params: unknown[];
}

/**
 * The values listings filter and sort resources by, kept in `resource_fields` (migration 000006)
 * and written in the transaction that writes the resource; and the listings that read them.
 */
export class SqliteResourceIndex {
  private readonly statements;

  constructor(private readonly db: Database.Database) {
    this.statements = {
      clear: db.prepare('DELETE FROM resource_fields WHERE resource_seq = ?'),
      // One row a statement: measured twice as fast as one INSERT of many VALUES rows.
      insert: db.prepare('INSERT INTO resource_fields (resource_seq, field, scope, value) VALUES (?, ?, ?, ?)'),
      // INDEXED BY: the planner otherwise takes resources_by_collection (migration 000011), which also
      // serves this WHERE and ORDER BY but walks every resource of the collection to find none unindexed.
      unindexed: db.prepare('SELECT * FROM resources INDEXED BY resources_unindexed WHERE collection = ? AND indexed = 0 AND seq > ? ORDER BY seq LIMIT ?'),
      toIndex: db.prepare("SELECT seq, parent, collection FROM resources WHERE name = ? AND indexed = 0 AND COALESCE(etag, '') = ?"),
      markIndexed: db.prepare('UPDATE resources SET indexed = 1 WHERE seq = ?'),
    };
  }

  /** Within a write: replaces the entries of the resource `seq` with `index` (with none when undefined). Deletes need nothing: a trigger removes their entries. */
  write(seq: number, parent: string, collection: string, index: ResourceIndex | undefined): void {
    this.statements.clear.run(seq);
    if (index === undefined) return;
    const scope = indexScope(parent, collection);
    for (const [field, value] of Object.entries(index)) this.statements.insert.run(seq, field, scope, sqlValue(value));
  }

  /** Within a write: indexes a resource stored without an index that still has `etag`; false when there is none such. */
  index(name: string, etag: string, index: ResourceIndex): boolean {
    const row = this.statements.toIndex.get(name, etag) as Pick<ResourceRow, 'seq' | 'parent' | 'collection'> | undefined;
    if (!row) return false;
    this.write(row.seq, row.parent, row.collection, index);
    this.statements.markIndexed.run(row.seq);
    return true;
  }

  /** Up to `limit` resources of `collection` without an index, after `after` (a seq), oldest first. */
  unindexed(collection: string, after: number, limit: number): ResourceRow[] {
    return this.statements.unindexed.all(collection, after, limit) as ResourceRow[];
  }

  /**
   * A page of a filtered or sorted listing: sorted by `order`, then by seq (oldest first); the
   * cursor is the position of the page's last resource, so pages neither repeat nor skip what
   * was there throughout, whatever is written between them.
   */
  list(query: ResourceQuery): Page<ResourceRow> {
    const order = query.order ?? [];
    const after = positionCursor(query.after, order.length, (v): v is string | number => typeof v === 'string' || typeof v === 'number');
    const filter = query.filter && compileFilter(query.filter, columnsOf(query.filter));
    // A resource without an index has no values to match or sort by: it waits for indexResource.
    const where: SqlFragment[] = [parentAndCollection(query)];
    if (filter) where.push(filter);
    if (after) where.push(afterPosition(order, after));
    const limit = query.pageSize + 1;
    if (query.parent === undefined) {
      // Every parent: the collection's resources in seq order (resources_by_collection, migration 000011), filtered on the way.
      const rows = this.select({ sql: 'resources r' }, order, where, limit);
      return this.page(rows, order, query.pageSize);
    }

    const scope = indexScope(query.parent, query.collection);
    const narrowing = this.narrowest(scope, query.filter);
    let rows: SortedRow[];
    if (narrowing) {
      const from = {
        sql: 'resource_fields d CROSS JOIN resources r ON r.seq = d.resource_seq',
        where: { sql: `d.scope = ? AND d.field = ? AND ${narrowing.condition('d.value')}`, params: [scope, narrowing.field, ...narrowing.params] },
      };
      rows = this.select(from, order, where, limit);
    } else if (order.length === 0) {
      rows = this.select({ sql: 'resources r' }, order, where, limit);
    } else {
      rows = [];
      for (const segment of this.segments(order[0]!, after?.[0])) {
        // CROSS JOIN makes the walked index the outer loop, whatever SQLite would guess without statistics.
        const from = {
          sql: 'resource_fields k0 CROSS JOIN resources r ON r.seq = k0.resource_seq',
          where: { sql: `k0.scope = ? AND k0.field = ? AND ${segment.sql}`, params: [scope, order[0]!.field, ...segment.params] },
          walksFirstKey: true,
        };
        rows.push(...this.select(from, order, where, limit - rows.length));
        if (rows.length === limit) break;
      }
    }
    return this.page(rows, order, query.pageSize);
  }

  /** The page of `pageSize` rows read (one more says that more follow), and the position of its last as the cursor. */
  private page(rows: SortedRow[], order: readonly SortKey[], pageSize: number): Page<ResourceRow> {
    const items = rows.slice(0, pageSize);
    const last = items.at(-1);
    const next = rows.length > pageSize && last ? JSON.stringify([...order.map((_, i) => last[`key${i}`] ?? null), last.seq]) : undefined;
    return { items, next };
  }

  /**
   * The walk of the first sort field's entries, in two parts that each follow its index: the
   * resources without a value (first ascending, last descending), and the others, from the
   * cursor's value on. One part would need `value <= ? OR value IS NULL`, which no index serves.
   */
  private segments(lead: SortKey, from: string | number | null | undefined): SqlFragment[] {
    const none = { sql: 'k0.value IS NULL', params: [] };
    const some = from === undefined || from === null ? { sql: 'k0.value IS NOT NULL', params: [] } : { sql: `k0.value ${lead.descending ? '<=' : '>='} ?`, params: [from] };
    if (lead.descending) return from === null ? [none] : [some, none];
    return from === undefined || from === null ? [none, some] : [some];
  }

  /** The rows of one query: `from` is where it starts (with its own conditions), the sort fields are joined to it. */
  private select(from: From, order: readonly SortKey[], where: readonly SqlFragment[], limit: number): SortedRow[] {
    const joins: string[] = [];
    const params: unknown[] = [];
    order.forEach((key, i) => {
      if (i === 0 && from.walksFirstKey) return;
      joins.push(`${i === 0 ? 'JOIN' : 'LEFT JOIN'} resource_fields k${i} ON k${i}.resource_seq = r.seq AND k${i}.field = ?`);
      params.push(key.field);
    });
    const conditions = from.where ? [from.where, ...where] : where;
    for (const condition of conditions) params.push(...condition.params);
    const sql = [
      `SELECT r.seq, r.name, r.parent, r.collection, r.etag, r.data${order.map((_, i) => `, k${i}.value AS key${i}`).join('')}`,
      `FROM ${from.sql}`,
      ...joins,
      `WHERE ${conditions.map((c) => c.sql).join(' AND ')}`,
      `ORDER BY ${[...order.map((key, i) => `k${i}.value${key.descending ? ' DESC' : ''}`), 'r.seq'].join(', ')}`,
      'LIMIT ?',
    ].join(' ');
    // A filter makes a different statement each time; SQLite prepares in microseconds.
    return this.db.prepare(sql).all(...params, limit) as SortedRow[];
  }

  /** The term of the filter's top-level AND that matches the fewest entries of this scope, if fewer than NARROW. */
  private narrowest(scope: number, filter: FilterExpr | undefined): Narrowing | undefined {
    let best: Narrowing | undefined;
    let fewest = NARROW;
    for (const narrowing of narrowings(filter)) {
      const count = this.db
        .prepare(`SELECT count(*) FROM (SELECT 1 FROM resource_fields WHERE scope = ? AND field = ? AND ${narrowing.condition('value')} LIMIT ${NARROW})`)
        .pluck()
        .get(scope, narrowing.field, ...narrowing.params) as number;
      if (count < fewest) {
        best = narrowing;
        fewest = count;
      }
    }
    return best;
  }

}


/** The listing's parent (unset: every parent, for a filtered listing in seq order only) and collection, among indexed resources. */
function parentAndCollection(query: ResourceQuery): SqlFragment {
  if (query.parent !== undefined) return { sql: 'r.parent = ? AND r.collection = ? AND r.indexed = 1', params: [query.parent, query.collection] };
  if (query.filter === undefined || (query.order?.length ?? 0) > 0) throw new Error('a listing under every parent needs a filter and has no order');
  return { sql: 'r.collection = ? AND r.indexed = 1', params: [query.collection] };
}

/** Booleans as 1 and 0, as compileFilter compares them. */
function sqlValue(value: IndexValue): string | number | null {
  return typeof value === 'boolean' ? (value ? 1 : 0) : value;
}

/** Each field of the filter as the value of the listed resource's entry (NULL without one), for compileFilter. */
function columnsOf(expr: FilterExpr): Record<string, string> {
  const columns = Object.create(null) as Record<string, string>;
  const visit = (e: FilterExpr): void => {
    if (e.kind === 'and' || e.kind === 'or') e.args.forEach(visit);
    else if (e.kind === 'not') visit(e.arg);
    else columns[e.field] = `(SELECT value FROM resource_fields WHERE resource_seq = r.seq AND field = '${e.field.replaceAll("'", "''")}')`;
  };
  visit(expr);
  return columns;
}

/**
 * The terms of the filter's top-level AND that can narrow a listing, as conditions on index
 * entries that every resource the term matches has: equality, ranges, prefixes (`*`).
 */
function narrowings(filter: FilterExpr | undefined): Narrowing[] {
  if (filter === undefined) return [];
  const terms = filter.kind === 'and' ? filter.args : [filter];
  return terms.flatMap((term): Narrowing[] => {
    if (term.kind !== 'compare' || term.op === '!=') return [];
    const value = sqlValue(term.value);
    if (term.op === '=' && typeof value === 'string' && value.endsWith('*')) {
      const prefix = value.slice(0, -1);
      if (prefix === '') return [{ field: term.field, condition: (v) => `${v} IS NOT NULL`, params: [] }];
      const above = successor(prefix);
      return [
        above === undefined
          ? { field: term.field, condition: (v) => `${v} >= ?`, params: [prefix] }
          : { field: term.field, condition: (v) => `${v} >= ? AND ${v} < ?`, params: [prefix, above] },
      ];
    }
    const op: CompareOp = term.op;
    return [{ field: term.field, condition: (v) => `${v} ${op} ?`, params: [value] }];
  });
}

/**
 * The least string above every string that starts with `prefix`, in code point order (SQLite
 * compares text as UTF-8 bytes, which is that order); undefined when there is none.
 */
function successor(prefix: string): string | undefined {
  const points = [...prefix];
  const last = points.pop()?.codePointAt(0) ?? 0x10ffff;
  if (last === 0x10ffff) return undefined;
  return points.join('') + String.fromCodePoint(last + 1 === 0xd800 ? 0xe000 : last + 1);
}


/**
 * The listed resource comes after `at` in the order of `keys`, then seq: it is beyond it on the
 * first key, or level on it and after it on the rest. Without a value (NULL) sorts first.
 */
function afterPosition(keys: readonly SortKey[], at: Position): SqlFragment {
  const params: unknown[] = [];
  const after = (i: number): string => {
    if (i === keys.length) {
      params.push(at[i]);
      return 'r.seq > ?';
    }
    const column = `k${i}.value`;
    const value = at[i] ?? null;
    let beyond: string;
    let level: string;
    if (value === null) {
      beyond = keys[i]!.descending ? '0' : `${column} IS NOT NULL`;
      level = `${column} IS NULL`;
    } else {
      beyond = keys[i]!.descending ? `(${column} < ? OR ${column} IS NULL)` : `${column} > ?`;
      level = `${column} = ?`;
      params.push(value, value);
    }
    return `(${beyond} OR (${level} AND ${after(i + 1)}))`;
  };
  const sql = after(0);
  return { sql, params };
}
