import type { InsertOptions, NewOperation, OperationRecord, Page } from './store.js';

/**
 * What both backends share: keyset pages over a `seq` column, and the record of a newly inserted
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
