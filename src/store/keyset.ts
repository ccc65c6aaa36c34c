import { createHash } from 'node:crypto';
import type { FilterExpr } from './filter-expr.js';
import { compileFilter } from './filter-sql.js';
import type { InsertOptions, NewOperation, OperationRecord, Page, PageQuery } from './store.js';

/**
 * What both backends share: keyset pages over a `seq` column, the cursors of sorted listings, the
 * scope key of the resource index, the ListOperations query, and the record of a newly inserted
 * operation (what was written, so it is not read back).
 */

/** A page of `pageSize` items from `pageSize + 1` rows: the extra row only says that more follow. */
export function keysetPage<R extends { seq: number }, T>(rows: R[], pageSize: number, map: (row: R) => T): Page<T> {
  const items = rows.slice(0, pageSize);
  const last = items.at(-1);
  return { items: items.map(map), next: rows.length > pageSize && last ? String(last.seq) : undefined };
}

/** The seq a page cursor holds; a cursor this store did not make is an error (page tokens are signed, so it is a bug). */
export function seqCursor(after: string | undefined): number | undefined {
  if (after === undefined) return undefined;
  const seq = Number(after);
  if (!Number.isSafeInteger(seq) || seq < 0) throw new Error(`invalid cursor ${after}`);
  return seq;
}

/** The record of an operation as insertOperation wrote it: running, or done with its outcome. */
export function insertedRecord(op: NewOperation, finished: InsertOptions['finished']): OperationRecord {
  return {
    ...op,
    endTime: finished?.endTime,
    statusMessage: '',
    requestedCancellation: false,
    done: finished !== undefined,
    error: finished?.outcome.error,
    response: finished?.outcome.response,
  };
}

/**
 * The cursor of a sorted listing with `keys` sort fields: the last item's sort values, then its
 * seq. `isValue` says which values the backend writes into its positions.
 */
export function positionCursor<T>(after: string | undefined, keys: number, isValue: (value: unknown) => value is T): (T | null)[] | undefined {
  if (after === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(after);
  } catch {
    parsed = undefined;
  }
  const valid = Array.isArray(parsed) && parsed.length === keys + 1 && Number.isSafeInteger(parsed[keys]) && parsed.every((v) => v === null || isValue(v));
  if (!valid) throw new Error(`invalid cursor ${after}`);
  return parsed as (T | null)[];
}

/**
 * A resource's parent and collection as one integer, the first key of the resource index: 48 bits
 * of a SHA-256, so a listing reads only its own entries. A collision costs time, never a wrong
 * result: listings also compare the parent and collection themselves.
 */
export function indexScope(parent: string, collection: string): number {
  const key = `${collection}\n${parent}`;
  let scope = scopes.get(key);
  if (scope === undefined) {
    scope = createHash('sha256').update(key).digest().readIntBE(0, 6);
    // A few parents take nearly every write; the rest are forgotten wholesale rather than one by one.
    if (scopes.size >= MAX_SCOPES) scopes.clear();
    scopes.set(key, scope);
  }
  return scope;
}

/** indexScope's hashes, by `collection\nparent`: a SHA-256 per resource written cost 1.5% of a create. */
const scopes = new Map<string, number>();
const MAX_SCOPES = 10_000;

/**
 * ListOperations as SQL with `?` placeholders: newest first, after the cursor, filtered on the
 * columns that `columns` names for the store's filter fields (done, verb, target, errorCode).
 */
export function operationsPageQuery(query: PageQuery & { filter?: FilterExpr }, columns: Readonly<Record<string, string>>): { sql: string; params: unknown[] } {
  const where = ['parent = ?'];
  const params: unknown[] = [query.parent];
  const after = seqCursor(query.after);
  if (after !== undefined) {
    where.push('seq < ?');
    params.push(after);
  }
  if (query.filter) {
    const compiled = compileFilter(query.filter, columns);
    where.push(`(${compiled.sql})`);
    params.push(...compiled.params);
  }
  return { sql: `SELECT * FROM operations WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT ?`, params: [...params, query.pageSize + 1] };
}
