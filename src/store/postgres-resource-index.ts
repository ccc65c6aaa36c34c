import type pg from 'pg';
import { indexScope, positionCursor } from './keyset.js';
import type { FilterExpr } from './filter-expr.js';
import { compileFilter, toNumberedPlaceholders, type SqlFragment } from './filter-sql.js';
import type { IndexValue, Page, ResourceIndex, ResourceQuery, SortKey } from './store.js';

export interface ResourceRow {
  seq: number;
  name: string;
  parent: string;
  collection: string;
  etag: string | null;
  data: Buffer;
}

/** A sort position: the values of the sort fields, then the seq (which makes the order total). */
type Position = IndexValue[];

/** The three value columns of an entry, in the order a listing sorts by them (store.ts: a field has values of one type). */
const VALUE_COLUMNS = ['bool_value', 'number_value', 'text_value'] as const;

/** The column that holds a value of this type. */
function columnOf(value: string | number | boolean): (typeof VALUE_COLUMNS)[number] {
  return typeof value === 'boolean' ? 'bool_value' : typeof value === 'number' ? 'number_value' : 'text_value';
}


/**
 * The values listings filter and sort resources by, kept in `resource_fields` (migration 000004)
 * and written in the transaction that writes the resource; and the listings that read them. Unlike
 * SQLite's (sqlite-resource-index.ts), the listing is one statement: PostgreSQL keeps statistics
 * and picks between walking the sort order and reading the filter's few matches itself.
 */
export class PostgresResourceIndex {
  /** Within a write: replaces the entries of the resource `seq` with `index` (with none when undefined). Deletes need nothing: the foreign key removes their entries. */
  async write(tx: pg.PoolClient, seq: number, parent: string, collection: string, index: ResourceIndex | undefined): Promise<void> {
    await tx.query('DELETE FROM resource_fields WHERE resource_seq = $1', [seq]);
    if (index === undefined) return;
    const entries = Object.entries(index);
    if (entries.length === 0) return;
    const pick = (type: string) => entries.map(([, v]) => (typeof v === type ? v : null));
    await tx.query(
      `INSERT INTO resource_fields (resource_seq, scope, field, text_value, number_value, bool_value)
       SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::float8[], $6::boolean[])`,
      [seq, indexScope(parent, collection), entries.map(([field]) => field), pick('string'), pick('number'), pick('boolean')],
    );
  }

  /** Within a write: indexes a resource stored without an index that still has `etag`; false when there is none such. */
  async index(tx: pg.PoolClient, name: string, etag: string, index: ResourceIndex): Promise<boolean> {
    const { rows } = await tx.query<Pick<ResourceRow, 'seq' | 'parent' | 'collection'>>(
      "UPDATE resources SET indexed = true WHERE name = $1 AND NOT indexed AND COALESCE(etag, '') = $2 RETURNING seq, parent, collection",
      [name, etag],
    );
    const row = rows[0];
    if (!row) return false;
    await this.write(tx, row.seq, row.parent, row.collection, index);
    return true;
  }

  /** Up to `limit` resources of `collection` without an index, after `after` (a seq), oldest first. */
  async unindexed(db: pg.Pool, collection: string, after: number, limit: number): Promise<ResourceRow[]> {
    const { rows } = await db.query<ResourceRow>('SELECT * FROM resources WHERE collection = $1 AND NOT indexed AND seq > $2 ORDER BY seq LIMIT $3', [collection, after, limit]);
    return rows;
  }

  /**
   * A page of a filtered or sorted listing: sorted by `order`, then by seq (oldest first); the
   * cursor is the position of the page's last resource, so pages neither repeat nor skip what
   * was there throughout, whatever is written between them.
   */
  async list(db: pg.Pool, query: ResourceQuery): Promise<Page<ResourceRow>> {
    const order = query.order ?? [];
    const after = positionCursor(query.after, order.length, (v): v is string | number | boolean => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean');
    const parent = query.parent;
    // Under every parent (the server's own sweeps): the collection's resources in seq order (resources_by_collection, migration 000010).
    if (parent === undefined && (query.filter === undefined || order.length > 0)) throw new Error('a listing under every parent needs a filter and has no order');
    const scope = indexScope(parent ?? '', query.collection);
    const params: unknown[] = [];
    // A sorted listing leaves out resources without an entry for its first sort field (store.ts).
    const joins = order.map((key, i) => {
      if (i > 0) {
        params.push(key.field);
        return `LEFT JOIN resource_fields k${i} ON k${i}.resource_seq = r.seq AND k${i}.field = ?`;
      }
      params.push(key.field, scope);
      return 'JOIN resource_fields k0 ON k0.resource_seq = r.seq AND k0.field = ? AND k0.scope = ?';
    });
    // A resource without an index has no values to match or sort by: it waits for indexResource.
    const where: SqlFragment[] = [
      parent === undefined ? { sql: 'r.collection = ? AND r.indexed', params: [query.collection] } : { sql: 'r.parent = ? AND r.collection = ? AND r.indexed', params: [parent, query.collection] },
    ];
    if (query.filter) {
      const { fields, typed, columns } = filterColumns(query.filter);
      fields.forEach((field, i) => {
        joins.push(`LEFT JOIN resource_fields f${i} ON f${i}.resource_seq = r.seq AND f${i}.field = ?`);
        params.push(field);
      });
      where.push(compileFilter(typed, columns));
    }
    if (after) where.push(afterPosition(order, after));
    for (const condition of where) params.push(...condition.params);
    const keys = order.map((key, i) => VALUE_COLUMNS.map((c) => `k${i}.${c} ${key.descending ? 'DESC NULLS LAST' : 'ASC NULLS FIRST'}`).join(', '));
    const sql = [
      `SELECT r.*${order.map((_, i) => VALUE_COLUMNS.map((c) => `, k${i}.${c} AS k${i}_${c}`).join('')).join('')}`,
      'FROM resources r',
      ...joins,
      `WHERE ${where.map((c) => c.sql).join(' AND ')}`,
      `ORDER BY ${[...keys, 'r.seq'].join(', ')}`,
      'LIMIT ?',
    ].join(' ');
    const { rows } = await db.query<ResourceRow & Record<string, IndexValue>>(toNumberedPlaceholders(sql), [...params, query.pageSize + 1]);
    const items = rows.slice(0, query.pageSize);
    const last = items.at(-1);
    const valueAt = (i: number): IndexValue => (last && VALUE_COLUMNS.map((c) => last[`k${i}_${c}`]).find((v) => v !== null && v !== undefined)) ?? null;
    const next = rows.length > query.pageSize && last ? JSON.stringify([...order.map((_, i) => valueAt(i)), last.seq]) : undefined;
    return { items, next };
  }
}

/**
 * The filter with each field renamed to field and type, and the column of each: the same field
 * compared with a number reads `number_value`, with a string `text_value`. compileFilter compares
 * booleans as 1 and 0, hence `bool_value::int`. Field names go in as parameters of the joins.
 */
function filterColumns(filter: FilterExpr): { fields: string[]; typed: FilterExpr; columns: Record<string, string> } {
  const fields: string[] = [];
  const columns = Object.create(null) as Record<string, string>;
  const rename = (e: FilterExpr): FilterExpr => {
    if (e.kind === 'and' || e.kind === 'or') return { ...e, args: e.args.map(rename) };
    if (e.kind === 'not') return { ...e, arg: rename(e.arg) };
    let i = fields.indexOf(e.field);
    if (i === -1) i = fields.push(e.field) - 1;
    const column = columnOf(e.value);
    const typed = `${i}:${column}`;
    columns[typed] = column === 'bool_value' ? `(f${i}.bool_value::int)` : `f${i}.${column}`;
    return { ...e, field: typed };
  };
  return { fields, typed: rename(filter), columns };
}


/**
 * The listed resource comes after `at` in the order of `keys`, then seq: it is beyond it on the
 * first key, or level on it and after it on the rest. Without a value (all three columns NULL)
 * sorts first ascending, last descending.
 */
function afterPosition(keys: readonly SortKey[], at: Position): SqlFragment {
  const params: unknown[] = [];
  const after = (i: number): string => {
    if (i === keys.length) {
      params.push(at[i]);
      return 'r.seq > ?';
    }
    const value = at[i] ?? null;
    let beyond: string;
    let level: string;
    if (value === null) {
      const none = VALUE_COLUMNS.map((c) => `k${i}.${c} IS NULL`).join(' AND ');
      beyond = keys[i]!.descending ? 'false' : `NOT (${none})`;
      level = `(${none})`;
    } else {
      const column = `k${i}.${columnOf(value)}`;
      beyond = keys[i]!.descending ? `(${column} < ? OR ${column} IS NULL)` : `${column} > ?`;
      level = `${column} = ?`;
      params.push(value, value);
    }
    return `(${beyond} OR (${level} AND ${after(i + 1)}))`;
  };
  const sql = after(0);
  return { sql, params };
}
