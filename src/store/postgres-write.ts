import type pg from 'pg';
import { PreconditionFailedError, type Precondition } from '../common/preconditions.js';
import { indexScope } from './keyset.js';
import { LeaseLostError, RequestIdReusedError, type Lease, type NewOperation, type Outcome, type RequestKey, type ResourceChange } from './store.js';

/**
 * The writes that carry resource changes, as data for `devconnect_write` (migration 000007): the
 * function does, server-side, what took a statement each: the request id, the lease, the locks,
 * the preconditions, the change, the row. A group commit sends a run of them in one call
 * (`writeAll`), one round trip for the run.
 */
export type Write =
  | { kind: 'insert'; op: NewOperation; request?: RequestKey; require: readonly Precondition[]; change?: ResourceChange; outcome?: Outcome; endTime?: Date; lease?: Lease; notify: string }
  | { kind: 'finish'; name: string; owner?: string; outcome: Outcome; endTime: Date; change?: ResourceChange; notify: string }
  | { kind: 'change'; change: ResourceChange }
  /** A cancel's flag (migration 000011): in the group, so an outcome queued behind it commits with it. */
  | { kind: 'cancel'; name: string; notify: string };

/**
 * `earlier`: the row of the operation a retry of the same request made; `row`: the operation a
 * cancel flagged, or found done (`updated: false` when there is none).
 */
export type WriteResult = { updated: boolean } | { earlier: JsonRow } | { row: JsonRow };

/** A row of `operations` as to_jsonb gives it: bytea as `\x…` hex. */
export type JsonRow = Record<string, unknown> & { response_value: string | null };

export type Answer =
  | { ok: true; updated: boolean }
  | { earlier: JsonRow }
  | { row: JsonRow }
  | { refused: 'request-reused' | 'lease-lost' }
  | { refused: 'precondition'; of: 'require' | 'change'; index: number };

/** Runs `writes` in order, in one call (on the group's transaction, or alone as its own); one answer each. */
export async function writeAll(db: pg.PoolClient, writes: readonly Write[]): Promise<Answer[]> {
  const { rows } = await db.query<{ r: Answer[] }>('SELECT devconnect_write_all($1::jsonb) AS r', [JSON.stringify(writes.map(toJson))]);
  return rows[0]!.r;
}

/** What a write's answer means: its result, or its refusal thrown as the store's error for it (nothing of it was written). */
export function settle(w: Write, answer: Answer): WriteResult {
  if ('ok' in answer) return { updated: answer.updated };
  if ('earlier' in answer || 'row' in answer) return answer;
  switch (answer.refused) {
    case 'request-reused':
      throw new RequestIdReusedError(w.kind === 'insert' ? (w.request?.key ?? '') : '');
    case 'lease-lost':
      throw new LeaseLostError(w.kind === 'finish' ? w.name : '');
    case 'precondition': {
      const preconditions = answer.of === 'require' && w.kind === 'insert' ? w.require : w.kind === 'cancel' ? [] : (w.change?.require ?? []);
      throw new PreconditionFailedError(preconditions[answer.index]!);
    }
  }
}

function toJson(w: Write): Record<string, unknown> {
  if (w.kind === 'cancel') return { kind: w.kind, name: w.name, notify: w.notify };
  const require = w.kind === 'insert' ? w.require : [];
  const { exclusive, shared } = lockNames(require, w.change);
  const json: Record<string, unknown> = { kind: w.kind, exclusive, shared, require };
  if (w.change) json.change = changeJson(w.change);
  if (w.kind === 'insert') {
    json.op = { ...w.op, createTime: w.op.createTime.getTime() };
    json.notify = w.notify;
    if (w.request) json.request = w.request;
    if (w.outcome) json.outcome = outcomeJson(w.outcome, w.endTime!);
    if (w.lease) {
      json.owner = w.lease.owner;
      json.leaseUntil = w.lease.until.getTime();
    }
  } else if (w.kind === 'finish') {
    json.name = w.name;
    json.outcome = outcomeJson(w.outcome, w.endTime);
    json.notify = w.notify;
    if (w.owner !== undefined) json.owner = w.owner;
  }
  return json;
}

function outcomeJson(outcome: Outcome, endTime: Date): Record<string, unknown> {
  return {
    endTime: endTime.getTime(),
    errorCode: outcome.error?.code,
    errorMessage: outcome.error?.message,
    responseType: outcome.response?.typeUrl,
    responseValue: outcome.response && base64(outcome.response.value),
  };
}

function changeJson(change: ResourceChange): Record<string, unknown> {
  const json: Record<string, unknown> = { require: change.require };
  if (change.delete) json.delete = change.delete;
  if (change.deleteChildrenOf !== undefined) json.deleteChildrenOf = change.deleteChildrenOf;
  if (change.put) {
    const { name, parent, collection, etag, data, index } = change.put;
    const put: Record<string, unknown> = { name, parent, collection, etag, data: base64(data) };
    if (index) {
      put.scope = indexScope(parent, collection);
      // [field, text, number, bool]: the one column that holds the value's type (migration 000004).
      put.index = Object.entries(index).map(([field, v]) => [
        field,
        typeof v === 'string' ? v : null,
        typeof v === 'number' ? v : null,
        typeof v === 'boolean' ? v : null,
      ]);
    }
    json.put = put;
  }
  return json;
}

function base64(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
}

/** The names above `name` (`projects/p`, `projects/p/locations/l`, ...): a put holds them against a cascade delete. */
function ancestors(name: string): string[] {
  const parts = name.split('/');
  return parts.slice(1, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

/**
 * The names a write locks, before anything is read: transaction-scoped advisory locks on their
 * hashes, since a row lock (SELECT ... FOR UPDATE) cannot guard a name that has no row yet, which
 * `absent` and `no-children` are about. A write takes its own name and the names it deletes below
 * exclusively, and shares the names it only reads or sits below: two creates of one name, a
 * child's create and its parent's delete (with or without `force`), two updates over one etag
 * each wait for the other's commit, and then read what it committed (READ COMMITTED reads what was
 * committed before each statement). Sorted, so two writes never wait on each other in a cycle; a
 * hash collision only makes two writes wait for each other.
 */
export function lockNames(require: readonly Precondition[], change?: ResourceChange): { exclusive: string[]; shared: string[] } {
  const exclusive = new Set<string>();
  const shared = new Set<string>();
  for (const p of [...require, ...(change?.require ?? [])]) (p.kind === 'no-children' ? exclusive : shared).add(p.name);
  if (change?.put) {
    exclusive.add(change.put.name);
    for (const name of ancestors(change.put.name)) shared.add(name);
  }
  if (change?.delete) exclusive.add(change.delete.name);
  if (change?.deleteChildrenOf !== undefined) exclusive.add(change.deleteChildrenOf);
  for (const name of exclusive) shared.delete(name);
  return { exclusive: [...exclusive].sort(), shared: [...shared].sort() };
}
