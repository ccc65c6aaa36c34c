/**
 * The contract every Store backend must pass (like hono's common router suite): a backend's test
 * file calls `storeContract('name', open, options)` and gets the whole suite registered.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { parseFilter, renameFields, type FieldType } from '../../src/api/filter.js';
import { PreconditionFailedError, type Precondition } from '../../src/common/preconditions.js';
import {
  LeaseLostError,
  RequestIdReusedError,
  EtagMismatchError,
  type IamPolicyRecord,
  type NewOperation,
  type OperationRecord,
  type Page,
  type NewServiceAccountKey,
  type ResourceChange,
  type ResourceRecord,
  type Store,
} from '../../src/store/store.js';

export interface ContractOptions {
  /** Opens a new store on the durable storage of `closed` (already closed). Omit for backends that keep nothing. */
  reopen?: (closed: Store) => Promise<Store>;
  /**
   * Makes the stored resource `name` like one written before the backend kept etags (SQLite: a NULL
   * etag column, see migration 000005). Omit for backends that never had such resources.
   */
  clearEtag?: (store: Store, name: string) => Promise<void>;
}

const P = 'projects/p/locations/us-central1';
const Q = 'projects/q/locations/europe-west1';
const FIELDS: Record<string, FieldType> = { done: 'bool', 'metadata.verb': 'string', 'metadata.target': 'string', 'error.code': 'int' };
/** The store's names of those fields (the API renames them before it asks). */
const STORE_FIELDS = { done: 'done', 'metadata.verb': 'verb', 'metadata.target': 'target', 'error.code': 'errorCode' };
const storeFilter = (text: string) => renameFields(parseFilter(text, FIELDS), STORE_FIELDS);
const T0 = Date.UTC(2025, 0, 2, 3, 4, 5, 678);
const RESPONSE = { typeUrl: 'type.googleapis.com/google.cloud.developerconnect.v1.Connection', value: new Uint8Array([0, 1, 127, 128, 255]) };

let counter = 0;
function newOp(fields: Partial<NewOperation> = {}): NewOperation {
  const id = `operation-${T0}-${(++counter).toString(16).padStart(6, '0')}`;
  return {
    name: `${fields.parent ?? P}/operations/${id}`,
    parent: P,
    kind: 'connections.create',
    input: JSON.stringify({ id, note: 'ünïcode ✓' }),
    verb: 'create',
    target: `${fields.parent ?? P}/connections/${id}`,
    createTime: new Date(T0 + counter),
    ...fields,
  };
}

function resource(parent: string, id: string, collection = 'connections'): ResourceRecord {
  return { name: `${parent}/${collection}/${id}`, parent, collection, etag: `etag-${id}`, data: new Uint8Array([id.length, 0, 255, ...Buffer.from(id)]) };
}

/** The change of a create: the resource must not exist yet. */
function creating(record: ResourceRecord): ResourceChange {
  return { require: [{ kind: 'absent', name: record.name }], put: record };
}

function deleting(name: string, require: Precondition[] = [], cascade = false): ResourceChange {
  return { require, delete: { name, cascade } };
}

/** A PreconditionFailedError for this kind of precondition on this name. */
function preconditionFailed(kind: Precondition['kind'], name: string): (error: unknown) => boolean {
  return (error: unknown) => error instanceof PreconditionFailedError && error.precondition.kind === kind && error.precondition.name === name;
}

/** Inserts `count` operations, oldest first. */
async function insertMany(store: Store, count: number, fields: Partial<NewOperation> = {}): Promise<OperationRecord[]> {
  const records: OperationRecord[] = [];
  for (let i = 0; i < count; i++) records.push(await store.insertOperation(newOp(fields)));
  return records;
}

/** Resources exist only through finished operations: this is how a backend gets one. */
async function addResource(store: Store, record: ResourceRecord): Promise<void> {
  const op = await store.insertOperation(newOp({ parent: record.parent }));
  assert.equal(await store.finishOperation(op.name, { response: RESPONSE }, new Date(T0), creating(record)), true);
}

/** Follows `next` cursors to the end; `between` runs after each page (to change the data under the cursor). */
async function pages<T>(read: (after?: string) => Promise<Page<T>>, pageSize: number, between?: (index: number) => Promise<void>): Promise<T[][]> {
  const result: T[][] = [];
  let after: string | undefined;
  do {
    const page = await read(after);
    assert.ok(page.items.length <= pageSize, `page of ${page.items.length} items for pageSize ${pageSize}`);
    if (page.next !== undefined) assert.equal(page.items.length, pageSize, 'only the last page may be short');
    result.push(page.items);
    assert.ok(result.length < 100, 'cursor does not advance');
    after = page.next;
    if (after !== undefined) await between?.(result.length - 1);
  } while (after !== undefined);
  return result;
}

const names = (records: { name: string }[]): string[] => records.map((r) => r.name);
/** A record without its absent (undefined) fields: backends may omit them or set them to undefined. */
const defined = (record: object | undefined): object | undefined =>
  record && Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));

/** Removes a resource (with `cascade`, what is below it too) through a finished operation, with no precondition. */
async function removeResource(store: Store, name: string, cascade = false): Promise<void> {
  const op = await store.insertOperation(newOp());
  assert.equal(await store.finishOperation(op.name, { response: RESPONSE }, new Date(T0), deleting(name, [], cascade)), true);
}

/**
 * The ways a precondition reaches the commit it guards: a change given to finishOperation; the
 * `require` of insertOperation (checked as the operation starts); the change of insertOperation's
 * `finished`.
 */
const WAYS = ['finishOperation', 'insertOperation with require', 'insertOperation with finished'] as const;
type Way = (typeof WAYS)[number];
/** The ways that write a change in the same commit that checks its preconditions: what racing writers use. */
type ChangeWay = Exclude<Way, 'insertOperation with require'>;
const END = new Date(T0 + 9_000);

const finishedWith = (change: ResourceChange) => ({ finished: { outcome: { response: RESPONSE }, endTime: END, change } });

/** The names a change writes or requires: what a refused write must leave as it was. */
const touched = (change: ResourceChange): string[] =>
  [change.put?.name, change.delete?.name, ...change.require.map((p) => p.name)].filter((n): n is string => n !== undefined);

/**
 * Commits `change` made `way`, and asserts its operation is done with its outcome. Made through
 * `require`, the change itself is applied by the operation's finish, without preconditions of its own.
 */
async function commit(store: Store, way: Way, change: ResourceChange): Promise<void> {
  const op = newOp();
  switch (way) {
    case 'finishOperation':
      await store.insertOperation(op);
      assert.equal(await store.finishOperation(op.name, { response: RESPONSE }, END, change), true, way);
      break;
    case 'insertOperation with require':
      assert.equal((await store.insertOperation(op, { require: change.require })).done, false, way);
      assert.equal(await store.finishOperation(op.name, { response: RESPONSE }, END, { ...change, require: [] }), true, way);
      break;
    case 'insertOperation with finished':
      assert.equal((await store.insertOperation(op, finishedWith(change))).done, true, way);
      break;
  }
  const got = await store.getOperation(op.name);
  assert.deepEqual([got?.done, got?.endTime, got?.response], [true, END, RESPONSE], `${way}: the operation is done with its outcome`);
}

/**
 * Asserts that `change` made `way` is refused (PreconditionFailedError for `kind` on `name`) and
 * that nothing of that write was committed: no operation, or for finishOperation one still running
 * without outcome; no change to the resources the change touches, nor to those `watched`.
 */
async function refuse(store: Store, way: Way, change: ResourceChange, kind: Precondition['kind'], name: string, watched: string[] = []): Promise<void> {
  const all = [...touched(change), ...watched];
  const before = await Promise.all(all.map((n) => store.getResource(n)));
  const op = newOp();
  const message = `${way}: refused by ${kind} ${name}`;
  if (way === 'finishOperation') {
    const running = await store.insertOperation(op);
    await assert.rejects(store.finishOperation(op.name, { response: RESPONSE }, END, change), preconditionFailed(kind, name), message);
    assert.deepEqual(defined(await store.getOperation(op.name)), defined(running), `${way}: the operation stays running, without outcome`);
    assert.ok(names(await store.listUnfinishedOperations()).includes(op.name), `${way}: the operation is still unfinished`);
  } else {
    const options = way === 'insertOperation with require' ? { require: change.require } : finishedWith(change);
    await assert.rejects(store.insertOperation(op, options), preconditionFailed(kind, name), message);
    assert.equal(await store.getOperation(op.name), undefined, `${way}: no operation was written`);
  }
  assert.deepEqual(await Promise.all(all.map((n) => store.getResource(n))), before, `${way}: no resource changed`);
}

/** A write prepared to be issued in the same turn as others (one group commit), and what refuses it when it loses. */
interface Writer {
  way: ChangeWay;
  op: string;
  write: () => Promise<unknown>;
  loses: (error: unknown) => boolean;
}

/** Prepares a write of `change` made `way` (finishOperation finishes an operation inserted now). */
async function prepare(store: Store, way: ChangeWay, change: ResourceChange, loses: (error: unknown) => boolean): Promise<Writer> {
  const op = newOp();
  if (way === 'finishOperation') {
    await store.insertOperation(op);
    return { way, op: op.name, write: () => store.finishOperation(op.name, { response: RESPONSE }, END, change), loses };
  }
  return { way, op: op.name, write: () => store.insertOperation(op, finishedWith(change)), loses };
}

/**
 * Issues every write in one turn (one group commit) and asserts which committed: `wins` is how many
 * may (default one); every other is refused by its precondition with nothing of it committed.
 * Returns the indexes of the winners.
 */
async function race(store: Store, writers: Writer[], wins = 1): Promise<number[]> {
  const results = await Promise.allSettled(writers.map((w) => w.write()));
  const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
  const said = results.map((r, i) => `${writers[i]!.way}: ${r.status === 'fulfilled' ? 'committed' : String(r.reason)}`).join('; ');
  assert.equal(winners.length, wins, `${wins} of ${writers.length} writers win: ${said}`);
  for (const [i, result] of results.entries()) {
    const writer = writers[i]!;
    const op = await store.getOperation(writer.op);
    if (result.status === 'fulfilled') {
      assert.equal(op?.done, true, `${writer.way}: the winner's operation is done`);
      continue;
    }
    assert.ok(writer.loses(result.reason), `${writer.way}: refused by the expected precondition, not ${String(result.reason)}`);
    if (writer.way === 'finishOperation') assert.deepEqual([op?.done, op?.endTime, op?.response], [false, undefined, undefined], 'the loser stays running');
    else assert.equal(op, undefined, 'the loser wrote no operation');
  }
  return winners;
}

/** Every pair of racing ways, the same and mixed. */
const RACING_WAYS: [ChangeWay, ChangeWay][] = [
  ['finishOperation', 'finishOperation'],
  ['insertOperation with finished', 'insertOperation with finished'],
  ['finishOperation', 'insertOperation with finished'],
  ['insertOperation with finished', 'finishOperation'],
];

export function storeContract(name: string, open: () => Promise<Store>, options: ContractOptions = {}): void {
  describe(`Store contract: ${name}`, () => {
    const opened = new Set<Store>();
    async function fresh(): Promise<Store> {
      const store = await open();
      opened.add(store);
      return store;
    }
    afterEach(async () => {
      for (const store of opened) await store.close();
      opened.clear();
    });

    it('insertOperation returns a running record and getOperation reads every field back', async () => {
      const store = await fresh();
      const op = newOp({ kind: 'connections.delete', verb: 'delete', target: `${P}/connections/é-✓`, input: '{"a":"\\u0000 ü"}' });
      const inserted = await store.insertOperation(op);
      const running: OperationRecord = { ...op, statusMessage: '', requestedCancellation: false, done: false };
      assert.deepEqual(defined(inserted), running);
      assert.equal(inserted.createTime.getTime(), T0 + counter, 'createTime keeps milliseconds');
      assert.deepEqual(defined(await store.getOperation(op.name)), running);
      assert.equal(await store.getOperation(`${op.name}-missing`), undefined);

      await store.setStatusMessage(op.name, 'Installing… 50%');
      const end = new Date(T0 + 60_000);
      assert.equal(await store.finishOperation(op.name, { response: RESPONSE }, end), true);
      assert.deepEqual(defined(await store.getOperation(op.name)), { ...running, statusMessage: 'Installing… 50%', done: true, endTime: end, response: RESPONSE });

      const failed = await store.insertOperation(newOp());
      assert.equal(await store.finishOperation(failed.name, { error: { code: 6, message: 'exists ✗' } }, end), true);
      const got = await store.getOperation(failed.name);
      assert.deepEqual(got?.error, { code: 6, message: 'exists ✗' });
      assert.equal(got?.response, undefined);
      assert.deepEqual(got?.endTime, end);
    });

    it('listOperations is newest first, per parent, with keyset pages that end', async () => {
      const store = await fresh();
      const ops = await insertMany(store, 7);
      await insertMany(store, 2, { parent: Q });
      const read = (after?: string) => store.listOperations({ parent: P, pageSize: 3, after });
      const result = await pages(read, 3);
      assert.deepEqual(result.map((p) => p.length), [3, 3, 1]);
      assert.deepEqual(names(result.flat()), names(ops).reverse());
      assert.equal((await store.listOperations({ parent: Q, pageSize: 10 })).items.length, 2);
      const all = await store.listOperations({ parent: P, pageSize: 7 });
      assert.equal(all.items.length, 7);
      assert.equal(all.next, undefined, 'no cursor when nothing follows');
      assert.deepEqual(defined(await store.listOperations({ parent: 'projects/none/locations/x', pageSize: 5 })), { items: [] });
    });

    it('listOperations keeps insertion order for operations created in the same millisecond', async () => {
      const store = await fresh();
      const ops = await insertMany(store, 5, { createTime: new Date(T0) });
      const result = await pages((after) => store.listOperations({ parent: P, pageSize: 2, after }), 2);
      assert.deepEqual(names(result.flat()), names(ops).reverse());
    });

    it('listOperations pages neither repeat nor skip when operations are inserted or deleted between pages', async () => {
      const store = await fresh();
      const ops = await insertMany(store, 9);
      const newer: OperationRecord[] = [];
      const result = await pages(
        (after) => store.listOperations({ parent: P, pageSize: 3, after }),
        3,
        async (index) => {
          newer.push(...(await insertMany(store, 2)));
          // The cursor's own record goes away: the next page must still start right after it.
          if (index === 0) assert.equal(await store.deleteOperation(ops[6]!.name), true);
        },
      );
      const expected = names(ops).reverse().filter((n) => n !== ops[6]!.name);
      // The record under the cursor was already listed on page 1.
      assert.deepEqual(names(result.flat()), [ops[8]!.name, ops[7]!.name, ops[6]!.name, ...expected.slice(2)]);
      assert.equal(newer.length, 4);
      assert.deepEqual(names((await store.listOperations({ parent: P, pageSize: 4 })).items), names(newer).reverse());
    });

    it('listOperations applies done, metadata.verb, metadata.target and error.code filters, also across pages', async () => {
      const store = await fresh();
      const end = new Date(T0);
      const running = await store.insertOperation(newOp({ target: `${P}/connections/alpha` }));
      const ok = await store.insertOperation(newOp({ target: `${P}/connections/alpine` }));
      await store.finishOperation(ok.name, { response: RESPONSE }, end);
      const failed = await store.insertOperation(newOp({ verb: 'delete', target: `${P}/connections/beta` }));
      await store.finishOperation(failed.name, { error: { code: 5, message: 'not found' } }, end);
      const cancelled = await store.insertOperation(newOp({ target: `${P}/connections/100%_x` }));
      await store.finishOperation(cancelled.name, { error: { code: 1, message: 'cancelled' } }, end);
      // Matches every filter below but lives under another parent.
      await store.insertOperation(newOp({ parent: Q, verb: 'delete', target: `${P}/connections/alpha` }));

      const list = async (filter: string): Promise<string[]> => {
        const expr = storeFilter(filter);
        assert.ok(expr, filter);
        return names((await store.listOperations({ parent: P, pageSize: 100, filter: expr })).items);
      };
      const cases: [string, OperationRecord[]][] = [
        ['done = true', [cancelled, failed, ok]],
        ['done = false', [running]],
        ['metadata.verb = "delete"', [failed]],
        ['metadata.verb != "delete"', [cancelled, ok, running]],
        [`metadata.target = "${P}/connections/alp*"`, [ok, running]],
        [`metadata.target = "${P}/connections/100%_*"`, [cancelled]],
        [`metadata.target = "${P}/connections/100__*"`, []],
        ['error.code = 1', [cancelled]],
        ['error.code != 5', [cancelled, ok, running]],
        ['error.code >= 1', [cancelled, failed]],
        ['NOT error.code = 5', [cancelled, ok, running]],
        ['done = true AND metadata.verb = "create"', [cancelled, ok]],
        ['metadata.verb = "delete" OR error.code = 1', [cancelled, failed]],
      ];
      for (const [filter, expected] of cases) assert.deepEqual(await list(filter), names(expected), filter);

      const doneExpr = storeFilter('done = true');
      const paged = await pages((after) => store.listOperations({ parent: P, pageSize: 1, after, filter: doneExpr }), 1);
      assert.deepEqual(names(paged.flat()), names([cancelled, failed, ok]));
    });

    it('requestCancel flags only operations that are not done', async () => {
      const store = await fresh();
      const [running, finished] = await insertMany(store, 2);
      await store.finishOperation(finished!.name, { response: RESPONSE }, new Date(T0));

      const flagged = await store.requestCancel(running!.name);
      assert.equal(flagged?.requestedCancellation, true);
      assert.equal(flagged?.done, false);
      assert.equal((await store.getOperation(running!.name))?.requestedCancellation, true);
      assert.equal((await store.requestCancel(running!.name))?.requestedCancellation, true, 'asking twice is harmless');

      const untouched = await store.requestCancel(finished!.name);
      assert.equal(untouched?.requestedCancellation, false);
      assert.deepEqual(untouched?.response, RESPONSE);
      assert.equal(await store.requestCancel(`${P}/operations/missing`), undefined);

      assert.equal(await store.finishOperation(running!.name, { error: { code: 1, message: 'cancelled' } }, new Date(T0)), true);
      const ended = await store.getOperation(running!.name);
      assert.equal(ended?.requestedCancellation, true, 'finishing keeps the flag');
      assert.equal(ended?.error?.code, 1);
    });

    it('a cancel and the outcome issued right after it commit in that order (the engine stops a handler as the flag is queued)', async () => {
      const store = await fresh();
      const [op] = await insertMany(store, 1);
      const [flagged, finished] = await Promise.all([
        store.requestCancel(op!.name),
        store.finishOperation(op!.name, { error: { code: 1, message: 'cancelled' } }, new Date(T0)),
      ]);
      assert.equal(flagged?.done, false, 'the flag is answered as of before the outcome');
      assert.equal(flagged?.requestedCancellation, true);
      assert.equal(finished, true);
      const ended = await store.getOperation(op!.name);
      assert.deepEqual([ended?.done, ended?.requestedCancellation, ended?.error?.code], [true, true, 1]);
    });

    it('finishOperation commits the outcome and a create change together', async () => {
      const store = await fresh();
      const op = await store.insertOperation(newOp());
      const created = resource(P, 'created');
      assert.equal(await store.finishOperation(op.name, { response: RESPONSE }, new Date(T0), creating(created)), true);
      assert.deepEqual(await store.getResource(created.name), created);
      assert.equal((await store.getOperation(op.name))?.done, true);
      assert.equal(await store.getResource(`${P}/connections/missing`), undefined);
    });

    it('a create change that meets an existing resource throws PreconditionFailedError (absent) and writes nothing', async () => {
      const store = await fresh();
      const original = resource(P, 'taken');
      await addResource(store, original);
      const op = await store.insertOperation(newOp());
      await store.setStatusMessage(op.name, 'working');
      const clash = { ...original, data: new Uint8Array([9, 9, 9]) };
      await assert.rejects(
        store.finishOperation(op.name, { response: RESPONSE }, new Date(T0), creating(clash)),
        preconditionFailed('absent', original.name),
      );
      const after = await store.getOperation(op.name);
      assert.deepEqual(defined(after), defined({ ...op, statusMessage: 'working' }), 'the operation stays running, without outcome');
      assert.deepEqual(await store.getResource(original.name), original, 'the existing resource is untouched');
      assert.deepEqual(names(await store.listUnfinishedOperations()), [op.name]);
      // What the engine does next: finish it with ALREADY_EXISTS.
      assert.equal(await store.finishOperation(op.name, { error: { code: 6, message: 'exists' } }, new Date(T0)), true);
      assert.equal((await store.getOperation(op.name))?.error?.code, 6);
    });

    it('insertOperation whose precondition fails commits nothing when that resource exists, even in a group with other writes', async () => {
      const store = await fresh();
      const taken = resource(P, 'taken');
      await addResource(store, taken);
      const before = names(await store.listOperations({ parent: P, pageSize: 100 }).then((p) => p.items));
      const clash = newOp({ target: taken.name });
      const free = newOp({ target: `${P}/connections/free` });
      // Issued together, so a batching backend commits them in one group.
      const [refused, accepted] = await Promise.allSettled([store.insertOperation(clash, { require: [{ kind: 'absent', name: taken.name }] }), store.insertOperation(free, { require: [{ kind: 'absent', name: free.target }] })]);
      assert.ok(refused.status === 'rejected' && preconditionFailed('absent', taken.name)(refused.reason), `refused: ${refused.status}`);
      assert.equal(accepted.status, 'fulfilled');
      assert.equal(await store.getOperation(clash.name), undefined, 'the refused operation was not written');
      assert.equal((await store.getOperation(free.name))?.name, free.name);
      assert.deepEqual(names((await store.listOperations({ parent: P, pageSize: 100 })).items), [free.name, ...before]);
    });

    it('insertOperation with finished commits the operation done together with its change, or nothing when the change fails', async () => {
      const store = await fresh();
      const end = new Date(T0 + 5_000);
      const made = resource(P, 'made');
      const op = newOp({ target: made.name });
      const record = await store.insertOperation(op, { require: [{ kind: 'absent', name: made.name }], finished: { outcome: { response: RESPONSE }, endTime: end, change: creating(made) } });
      const done: OperationRecord = { ...op, statusMessage: '', requestedCancellation: false, done: true, endTime: end, response: RESPONSE };
      assert.deepEqual(defined(record), done);
      assert.deepEqual(defined(await store.getOperation(op.name)), done);
      assert.deepEqual(await store.getResource(made.name), made);
      assert.deepEqual(names(await store.listUnfinishedOperations()), [], 'never seen running');

      const clash = newOp({ target: made.name });
      const changed = { ...made, data: new Uint8Array([1]) };
      await assert.rejects(
        store.insertOperation(clash, { finished: { outcome: { response: RESPONSE }, endTime: end, change: creating(changed) } }),
        preconditionFailed('absent', made.name),
      );
      assert.equal(await store.getOperation(clash.name), undefined, 'no operation was written');
      assert.deepEqual(await store.getResource(made.name), made, 'the resource is untouched');

      const failed = newOp();
      await store.insertOperation(failed, { finished: { outcome: { error: { code: 1, message: 'Operation was cancelled.' } }, endTime: end } });
      const got = await store.getOperation(failed.name);
      assert.deepEqual([got?.done, got?.error, got?.response, got?.endTime], [true, { code: 1, message: 'Operation was cancelled.' }, undefined, end]);
    });

    it('insertOperation with a request id returns the first operation to a retry, and refuses the id for another request', async () => {
      const store = await fresh();
      const request = { key: 'CreateConnection 5f0c…', fingerprint: 'abc' };
      const first = await store.insertOperation(newOp(), { request });
      const made = resource(P, 'once');
      const retry = newOp({ target: made.name });
      const again = await store.insertOperation(retry, { request, require: [{ kind: 'absent', name: made.name }], finished: { outcome: { response: RESPONSE }, endTime: new Date(T0), change: creating(made) } });
      assert.equal(again.name, first.name, 'the retry gets the first operation');
      assert.equal(again.done, false);
      assert.equal(await store.getOperation(retry.name), undefined, 'nothing else was written');
      assert.equal(await store.getResource(made.name), undefined, 'not even the change');
      assert.equal((await store.getOperationByRequest(request))?.name, first.name);
      assert.equal(await store.getOperationByRequest({ key: 'CreateConnection other', fingerprint: 'abc' }), undefined);

      const other = newOp();
      await assert.rejects(store.insertOperation(other, { request: { ...request, fingerprint: 'xyz' } }), (error: unknown) => error instanceof RequestIdReusedError);
      await assert.rejects(store.getOperationByRequest({ ...request, fingerprint: 'xyz' }), (error: unknown) => error instanceof RequestIdReusedError);
      assert.equal(await store.getOperation(other.name), undefined);
    });

    it('deleteChildrenOf removes everything below a resource and keeps it, its siblings and their children, with the put in the same change', async () => {
      const store = await fresh();
      const connector = resource(P, 'gh', 'accountConnectors');
      const sibling = resource(P, 'gh2', 'accountConnectors');
      await addResource(store, connector);
      await addResource(store, sibling);
      const users = ['u1', 'u2'].map((id) => resource(connector.name, id, 'users'));
      const theirs = resource(sibling.name, 'u1', 'users');
      for (const r of [...users, theirs]) await addResource(store, r);
      const grandchild = resource(users[0]!.name, 'k', 'keys');
      await addResource(store, grandchild);
      const updated = { ...connector, etag: 'etag-gh-2', data: new Uint8Array([7]) };
      const op = await store.insertOperation(newOp());
      assert.equal(await store.finishOperation(op.name, { response: RESPONSE }, new Date(T0), { require: [{ kind: 'etag', name: connector.name, etag: connector.etag }], put: updated, deleteChildrenOf: connector.name }), true);
      assert.deepEqual(await store.getResource(connector.name), updated);
      for (const gone of [...users, grandchild]) assert.equal(await store.getResource(gone.name), undefined, gone.name);
      assert.deepEqual(await store.getResource(sibling.name), sibling);
      assert.deepEqual(await store.getResource(theirs.name), theirs);
    });

    it('a delete change removes the resource with the outcome, and deleting nothing succeeds', async () => {
      const store = await fresh();
      const doomed = resource(P, 'doomed');
      const kept = resource(P, 'kept');
      await addResource(store, doomed);
      await addResource(store, kept);
      const [del, again] = await insertMany(store, 2, { verb: 'delete' });
      assert.equal(await store.finishOperation(del!.name, { response: RESPONSE }, new Date(T0), deleting(doomed.name)), true);
      assert.equal(await store.getResource(doomed.name), undefined);
      assert.deepEqual(await store.getResource(kept.name), kept);
      assert.equal(await store.finishOperation(again!.name, { response: RESPONSE }, new Date(T0), deleting(doomed.name)), true);
      assert.equal((await store.getOperation(again!.name))?.done, true);
    });

    it('finishOperation on a done or deleted operation returns false, keeps the record, and still applies the change', async () => {
      const store = await fresh();
      const [done, deleted] = await insertMany(store, 2);
      const firstEnd = new Date(T0 + 1);
      await store.finishOperation(done!.name, { response: RESPONSE }, firstEnd);
      const before = await store.getOperation(done!.name);
      const late = resource(P, 'late');
      assert.equal(await store.finishOperation(done!.name, { error: { code: 13, message: 'x' } }, new Date(T0 + 2), creating(late)), false);
      assert.deepEqual(await store.getOperation(done!.name), before, 'the first outcome stands');
      assert.deepEqual(await store.getResource(late.name), late);

      assert.equal(await store.deleteOperation(deleted!.name), true);
      assert.equal(await store.deleteOperation(deleted!.name), false);
      const orphan = resource(P, 'orphan');
      assert.equal(await store.finishOperation(deleted!.name, { response: RESPONSE }, new Date(T0), creating(orphan)), false);
      assert.equal(await store.getOperation(deleted!.name), undefined, 'a deleted operation is not brought back');
      assert.deepEqual(await store.getResource(orphan.name), orphan);
      assert.equal(await store.finishOperation(deleted!.name, { response: RESPONSE }, new Date(T0), deleting(orphan.name)), false);
      assert.equal(await store.getResource(orphan.name), undefined);
      await store.setStatusMessage(deleted!.name, 'still working');
    });

    it('listUnfinishedOperations lists the running ones of every parent, oldest first', async () => {
      const store = await fresh();
      const [a, b, c, d] = await insertMany(store, 4);
      const [e] = await insertMany(store, 1, { parent: Q });
      await store.finishOperation(b!.name, { response: RESPONSE }, new Date(T0));
      await store.deleteOperation(c!.name);
      await store.requestCancel(d!.name);
      const unfinished = await store.listUnfinishedOperations();
      assert.deepEqual(names(unfinished), names([a!, d!, e!]));
      assert.deepEqual(unfinished.map((r) => r.requestedCancellation), [false, true, false]);
      assert.deepEqual(defined(unfinished[0]), defined(a));
    });

    it('unfinishedTargets and unfinishedTargetsUnder name the resources that unfinished operations act on, and no others', async () => {
      const store = await fresh();
      const conn = (id: string) => `${P}/connections/${id}`;
      await store.insertOperation(newOp({ target: conn('a') }));
      await store.insertOperation(newOp({ target: conn('a') }));
      await store.insertOperation(newOp({ target: `${conn('b')}/gitRepositoryLinks/l` }));
      await store.insertOperation(newOp({ target: `${P}/connectionsX/c` }));
      await store.insertOperation(newOp({ target: `${Q}/connections/a` }));
      const [done] = await insertMany(store, 1, { target: conn('d') });
      await store.finishOperation(done!.name, { response: RESPONSE }, new Date(T0));
      // A prefix is matched as it is: `_` and `%` are not wildcards.
      await store.insertOperation(newOp({ target: `${P}/connections_/e` }));

      assert.deepEqual(await store.unfinishedTargets([conn('a'), conn('b'), conn('d'), conn('z')]), new Set([conn('a')]));
      assert.deepEqual(await store.unfinishedTargets([]), new Set());
      assert.deepEqual(await store.unfinishedTargetsUnder(`${P}/connections/`), new Set([conn('a'), `${conn('b')}/gitRepositoryLinks/l`]));
      assert.deepEqual(await store.unfinishedTargetsUnder(`${P}/connections%`), new Set());
      assert.deepEqual(await store.unfinishedTargetsUnder(`${P}/nothing/`), new Set());
    });

    describe('leases', () => {
      const lease = (owner: string, untilMs: number) => ({ owner, until: new Date(untilMs) });

      it('claimOperations takes unfinished operations never leased or whose lease ended, oldest first, up to the limit; not those held or done', async () => {
        const store = await fresh();
        const now = Date.now();
        const never = await store.insertOperation(newOp());
        const expired = await store.insertOperation(newOp(), { lease: lease('node-a', now - 1_000) });
        const held = await store.insertOperation(newOp(), { lease: lease('node-a', now + 60_000) });
        const done = await store.insertOperation(newOp(), { lease: lease('node-a', now - 1_000) });
        await store.finishOperation(done.name, { response: RESPONSE }, new Date(T0));
        await store.requestCancel(expired.name);

        const first = await store.claimOperations(lease('node-b', now + 10_000), new Date(now), 1);
        assert.deepEqual(names(first), [never.name]);
        const rest = await store.claimOperations(lease('node-b', now + 10_000), new Date(now), 10);
        assert.deepEqual(names(rest), [expired.name]);
        assert.equal(rest[0]!.requestedCancellation, true, 'a claim carries the cancellation flag');
        assert.deepEqual(await store.claimOperations(lease('node-c', now + 10_000), new Date(now), 10), [], 'what node-b now holds is not claimable');
        assert.deepEqual(names(await store.claimOperations(lease('node-c', now + 10_000), new Date(now + 120_000), 10)), names([never, expired, held]));
      });

      it('renewLeases extends what one owner holds and reports cancellation flags; done and others\' operations are left out', async () => {
        const store = await fresh();
        const now = Date.now();
        const mine = await store.insertOperation(newOp(), { lease: lease('node-a', now + 1_000) });
        const cancelled = await store.insertOperation(newOp(), { lease: lease('node-a', now + 1_000) });
        const finished = await store.insertOperation(newOp(), { lease: lease('node-a', now + 1_000) });
        await store.insertOperation(newOp(), { lease: lease('node-b', now + 120_000) });
        await store.requestCancel(cancelled.name);
        await store.finishOperation(finished.name, { response: RESPONSE }, new Date(T0), undefined, 'node-a');
        const renewed = await store.renewLeases('node-a', new Date(now + 60_000));
        assert.deepEqual(
          renewed.sort((x, y) => x.name.localeCompare(y.name)),
          [
            { name: mine.name, requestedCancellation: false },
            { name: cancelled.name, requestedCancellation: true },
          ].sort((x, y) => x.name.localeCompare(y.name)),
        );
        assert.deepEqual(await store.claimOperations(lease('node-c', now + 60_000), new Date(now + 30_000), 10).then(names), [], 'renewed leases are not claimable before they end');
      });

      it('finishOperation with an owner is refused with LeaseLostError, writing nothing, once another node claimed the operation', async () => {
        const store = await fresh();
        const now = Date.now();
        const op = await store.insertOperation(newOp(), { lease: lease('node-a', now - 1) });
        await store.claimOperations(lease('node-b', now + 60_000), new Date(now), 10);
        const made = resource(P, 'leased');
        await assert.rejects(store.finishOperation(op.name, { response: RESPONSE }, new Date(T0), creating(made), 'node-a'), LeaseLostError);
        assert.equal((await store.getOperation(op.name))?.done, false);
        assert.equal(await store.getResource(made.name), undefined, 'the change of a refused finish is not applied');
        assert.equal(await store.finishOperation(op.name, { response: RESPONSE }, new Date(T0), creating(made), 'node-b'), true);
        assert.deepEqual(await store.getResource(made.name), made);
        // The old holder's work ends after the new holder finished: still refused, its change not applied.
        await store.applyResourceChange(deleting(made.name));
        await assert.rejects(store.finishOperation(op.name, { error: { code: 1, message: 'x' } }, new Date(T0), creating(made), 'node-a'), LeaseLostError);
        assert.equal(await store.getResource(made.name), undefined);
      });
    });

    it('expireOperations deletes done operations ended before the cutoff, forgets old request ids, and runs at most once per interval', async () => {
      const store = await fresh();
      const now = Date.now();
      const at = (ms: number) => new Date(now + ms);
      const old = await store.insertOperation(newOp({ createTime: at(-10_000) }), { request: { key: 'k-old', fingerprint: 'f' } });
      await store.finishOperation(old.name, { response: RESPONSE }, at(-9_000));
      const oldRunning = await store.insertOperation(newOp({ createTime: at(-10_000) }));
      const endedLate = await store.insertOperation(newOp({ createTime: at(-10_000) }));
      await store.finishOperation(endedLate.name, { response: RESPONSE }, at(-1_000));
      const recent = await store.insertOperation(newOp({ createTime: at(-1_000) }), { request: { key: 'k-new', fingerprint: 'f' } });

      const first = await store.expireOperations({ doneBefore: at(-5_000), requestIdsBefore: at(-5_000), every: 60_000, limit: 100 });
      assert.deepEqual(first, { ran: true, operations: 1, requestIds: 0 }, 'the old done one goes (its request id with it)');
      assert.equal(await store.getOperation(old.name), undefined);
      for (const kept of [oldRunning, endedLate, recent]) assert.ok(await store.getOperation(kept.name), `${kept.name} is kept`);
      assert.equal((await store.getOperationByRequest({ key: 'k-new', fingerprint: 'f' }))?.name, recent.name);

      assert.equal((await store.expireOperations({ doneBefore: at(0), requestIdsBefore: at(0), every: 60_000, limit: 100 })).ran, false, 'not again within the interval');
      const later = await store.expireOperations({ doneBefore: at(0), requestIdsBefore: at(0), every: 0, limit: 100 });
      assert.deepEqual(later, { ran: true, operations: 1, requestIds: 1 }, 'with a zero interval it runs: endedLate goes, the recent request id is forgotten');
      assert.ok(await store.getOperation(recent.name), 'forgetting a request id keeps its operation');
      assert.equal(await store.getOperationByRequest({ key: 'k-new', fingerprint: 'f' }), undefined);
      assert.ok(await store.getOperation(oldRunning.name), 'a running operation is never deleted');
    });

    it('ensureSecret stores the first value offered and returns it to every later (or racing) caller', async () => {
      const store = await fresh();
      const [a, b] = await Promise.all([store.ensureSecret('k', new Uint8Array([1, 2, 3])), store.ensureSecret('k', new Uint8Array([9]))]);
      assert.deepEqual([...a], [...b]);
      assert.deepEqual([...(await store.ensureSecret('k', new Uint8Array([7])))], [...a]);
      assert.deepEqual([...(await store.ensureSecret('other', new Uint8Array([0, 255])))], [0, 255]);
    });

    it('listResources is oldest first per parent and collection, with pages that neither repeat nor skip', async () => {
      const store = await fresh();
      const mine = ['c1', 'c2', 'c3', 'c4', 'c5'].map((id) => resource(P, id));
      for (const r of [mine[0]!, resource(Q, 'c1'), mine[1]!, resource(P, 'k1', 'keys'), ...mine.slice(2)]) await addResource(store, r);
      const added: ResourceRecord[] = [];
      const result = await pages(
        (after) => store.listResources({ parent: P, collection: 'connections', pageSize: 2, after }),
        2,
        async (index) => {
          if (index === 0) {
            // Delete the cursor's own resource and one not yet listed; add one that must come last.
            for (const name of [mine[1]!.name, mine[3]!.name]) {
              await store.finishOperation((await store.insertOperation(newOp())).name, { response: RESPONSE }, new Date(T0), deleting(name));
            }
            added.push(resource(P, 'c6'));
            await addResource(store, added[0]!);
          }
        },
      );
      assert.deepEqual(result.flat(), [mine[0], mine[1], mine[2], mine[4], added[0]]);
      assert.deepEqual(names((await store.listResources({ parent: P, collection: 'keys', pageSize: 10 })).items), [`${P}/keys/k1`]);
      assert.deepEqual(names((await store.listResources({ parent: Q, collection: 'connections', pageSize: 10 })).items), [`${Q}/connections/c1`]);
      assert.deepEqual(defined(await store.listResources({ parent: Q, collection: 'keys', pageSize: 10 })), { items: [] });
    });

    it('everything written is there after the store is closed and reopened', { skip: options.reopen ? false : 'backend keeps nothing' }, async () => {
      const reopen = options.reopen!;
      const store = await fresh();
      const [running, cancelling, ok, failed, gone] = await insertMany(store, 5);
      await insertMany(store, 1, { parent: Q });
      await store.setStatusMessage(running!.name, 'step 2 of 3');
      await store.requestCancel(cancelling!.name);
      await store.finishOperation(ok!.name, { response: RESPONSE }, new Date(T0 + 5), creating(resource(P, 'kept')));
      await store.finishOperation(failed!.name, { error: { code: 9, message: 'precondition ✗' } }, new Date(T0 + 6));
      await store.deleteOperation(gone!.name);
      await addResource(store, resource(P, 'removed'));
      await addResource(store, resource(Q, 'other'));
      await store.finishOperation(gone!.name, { response: RESPONSE }, new Date(T0), deleting(`${P}/connections/removed`));

      const snapshot = async (s: Store) => ({
        p: await s.listOperations({ parent: P, pageSize: 100 }),
        q: await s.listOperations({ parent: Q, pageSize: 100 }),
        unfinished: await s.listUnfinishedOperations(),
        resP: await s.listResources({ parent: P, collection: 'connections', pageSize: 100 }),
        resQ: await s.listResources({ parent: Q, collection: 'connections', pageSize: 100 }),
      });
      const before = await snapshot(store);
      assert.equal(before.p.items.length, 5);
      assert.deepEqual(names(before.resP.items), [`${P}/connections/kept`]);
      await store.close();
      opened.delete(store);

      const reopened = await reopen(store);
      opened.add(reopened);
      assert.deepEqual(await snapshot(reopened), before);
      assert.equal((await reopened.getOperation(running!.name))?.statusMessage, 'step 2 of 3');
      const newest = await reopened.insertOperation(newOp());
      assert.equal((await reopened.listOperations({ parent: P, pageSize: 1 })).items[0]?.name, newest.name, 'new operations still list first');
    });

    describe('preconditions, each checked in the commit it guards', () => {
      for (const way of WAYS) {
        describe(`through ${way}`, () => {
          it('absent: refused while the resource exists, with nothing of the write committed; passes when it does not', async () => {
            const store = await fresh();
            const taken = resource(P, 'taken');
            await addResource(store, taken);
            await refuse(store, way, creating({ ...taken, etag: 'etag-clash', data: new Uint8Array([7]) }), 'absent', taken.name);
            assert.deepEqual(await store.getResource(taken.name), taken);

            const free = resource(P, 'free');
            await commit(store, way, creating(free));
            assert.deepEqual(await store.getResource(free.name), free);
            await refuse(store, way, creating({ ...free, etag: 'etag-again' }), 'absent', free.name);

            await removeResource(store, taken.name);
            const again = { ...taken, etag: 'etag-taken-2', data: new Uint8Array([2]) };
            await commit(store, way, creating(again));
            assert.deepEqual(await store.getResource(taken.name), again, 'once deleted, the name is free again');
          });

          it('exists: refused while the resource is missing; passes once it exists', async () => {
            const store = await fresh();
            const later = resource(P, 'later');
            const update = { ...later, etag: 'etag-later-2', data: new Uint8Array([2]) };
            const change: ResourceChange = { require: [{ kind: 'exists', name: later.name }], put: update };
            await refuse(store, way, change, 'exists', later.name);
            assert.equal(await store.getResource(later.name), undefined, 'the refused put created nothing');
            await addResource(store, resource(P, 'later-on'));
            await refuse(store, way, change, 'exists', later.name);

            await addResource(store, later);
            await commit(store, way, change);
            assert.deepEqual(await store.getResource(later.name), update);

            await removeResource(store, later.name);
            await refuse(store, way, deleting(later.name, [{ kind: 'exists', name: later.name }]), 'exists', later.name);
          });

          it('etag: passes with the stored etag only; refused with another, a former one, or when the resource is missing', async () => {
            const store = await fresh();
            const stored = resource(P, 'tagged');
            const other = resource(P, 'other');
            await addResource(store, stored);
            await addResource(store, other);
            const next = { ...stored, etag: 'etag-tagged-2', data: new Uint8Array([2]) };
            const update = (etag: string, put = next): ResourceChange => ({ require: [{ kind: 'etag', name: stored.name, etag }], put });
            for (const etag of ['etag-stale', '', 'ETAG-TAGGED', `${stored.etag} `, other.etag]) await refuse(store, way, update(etag), 'etag', stored.name);
            assert.deepEqual(await store.getResource(stored.name), stored);

            await commit(store, way, update(stored.etag));
            assert.deepEqual(await store.getResource(stored.name), next);
            await refuse(store, way, update(stored.etag, { ...next, etag: 'etag-tagged-3' }), 'etag', stored.name);

            await refuse(store, way, deleting(stored.name, [{ kind: 'etag', name: stored.name, etag: stored.etag }]), 'etag', stored.name);
            await commit(store, way, deleting(stored.name, [{ kind: 'etag', name: stored.name, etag: next.etag }]));
            assert.equal(await store.getResource(stored.name), undefined);
            await refuse(store, way, update(next.etag), 'etag', stored.name);
            assert.equal(await store.getResource(stored.name), undefined, 'an etag of a missing resource matches nothing');
            assert.deepEqual(await store.getResource(other.name), other);
          });

          it("etag: a resource stored with etag '' matches etag '' and no other", async () => {
            const store = await fresh();
            const blank = { ...resource(P, 'blank'), etag: '' };
            const tagged = resource(P, 'tagged');
            await addResource(store, blank);
            await addResource(store, tagged);
            assert.equal((await store.getResource(blank.name))?.etag, '');
            const next = { ...blank, etag: 'etag-blank-2', data: new Uint8Array([2]) };
            const update = (etag: string): ResourceChange => ({ require: [{ kind: 'etag', name: blank.name, etag }], put: next });
            for (const etag of ['etag-blank', tagged.etag, ' ', 'null']) await refuse(store, way, update(etag), 'etag', blank.name);
            const tagToBlank: ResourceChange = { require: [{ kind: 'etag', name: tagged.name, etag: '' }], put: { ...tagged, etag: 'etag-tagged-2' } };
            await refuse(store, way, tagToBlank, 'etag', tagged.name);
            await commit(store, way, update(''));
            assert.deepEqual(await store.getResource(blank.name), next);
            await refuse(store, way, update(''), 'etag', blank.name);
          });

          it(
            "etag: a resource stored before etags were kept reads as etag '' and matches etag '' only",
            {
              skip: options.clearEtag ? false : 'no way given to store a resource without an etag',
            },
            async () => {
              const store = await fresh();
              const legacy = resource(P, 'legacy');
              await addResource(store, legacy);
              await options.clearEtag!(store, legacy.name);
              assert.deepEqual(await store.getResource(legacy.name), { ...legacy, etag: '' });
              const next = { ...legacy, etag: 'etag-legacy-2', data: new Uint8Array([2]) };
              const update = (etag: string): ResourceChange => ({ require: [{ kind: 'etag', name: legacy.name, etag }], put: next });
              for (const etag of [legacy.etag, 'null']) await refuse(store, way, update(etag), 'etag', legacy.name);
              await commit(store, way, update(''));
              assert.deepEqual(await store.getResource(legacy.name), next);
            },
          );

          it('parent-exists: refused while the parent is missing; passes once it exists', async () => {
            const store = await fresh();
            const parent = resource(P, 'parent');
            const child = resource(parent.name, 'k1', 'keys');
            const create: ResourceChange = { require: [{ kind: 'absent', name: child.name }, { kind: 'parent-exists', name: parent.name }], put: child };
            await refuse(store, way, create, 'parent-exists', parent.name);
            await addResource(store, resource(P, 'parent-other'));
            await refuse(store, way, create, 'parent-exists', parent.name);
            assert.deepEqual((await store.listResources({ parent: parent.name, collection: 'keys', pageSize: 10 })).items, []);

            await addResource(store, parent);
            await commit(store, way, create);
            assert.deepEqual(await store.getResource(child.name), child);
            assert.deepEqual(names((await store.listResources({ parent: parent.name, collection: 'keys', pageSize: 10 })).items), [child.name]);
          });

          it('no-children: refused while a direct child exists; passes once it is gone, a grandchild is no direct child but a cascade delete removes it too', async () => {
            const store = await fresh();
            const top = resource(P, 'top');
            const child = resource(top.name, 'c', 'keys');
            const grandchild = resource(child.name, 'g', 'items');
            const lone = resource(P, 'lone');
            for (const r of [top, child, grandchild, lone]) await addResource(store, r);
            const family = [top.name, child.name, grandchild.name];
            const remove = (name: string, cascade = false) => deleting(name, [{ kind: 'exists', name }, { kind: 'no-children', name }], cascade);

            await refuse(store, way, remove(top.name), 'no-children', top.name, family);
            await refuse(store, way, remove(top.name, true), 'no-children', top.name, family);
            await refuse(store, way, remove(child.name), 'no-children', child.name, family);
            await commit(store, way, remove(lone.name));
            assert.equal(await store.getResource(lone.name), undefined, 'a resource without children passes');

            // The child goes alone, leaving its own child behind: top now has a grandchild but no child.
            await removeResource(store, child.name);
            assert.deepEqual(await store.getResource(grandchild.name), grandchild);
            await commit(store, way, remove(top.name, true));
            for (const name of family) assert.equal(await store.getResource(name), undefined, `${name} is gone`);
          });

          it('a delete with cascade removes the resource and all below it, not a sibling that merely shares its prefix', async () => {
            const store = await fresh();
            const a = resource(P, 'a');
            const below = [resource(a.name, 'k', 'keys'), resource(`${a.name}/keys/k`, 'i', 'items'), resource(a.name, 'l', 'links')];
            const ab = resource(P, 'ab');
            const abKey = resource(ab.name, 'k', 'keys');
            const siblings = [ab, abKey, resource(P, 'a-b'), resource(P, 'a.b'), resource(P, 'a0'), resource(P, 'A'), resource(Q, 'a'), resource(`${Q}/connections/a`, 'k', 'keys')];
            for (const r of [a, ...below, ...siblings]) await addResource(store, r);

            await commit(store, way, deleting(a.name, [{ kind: 'exists', name: a.name }], true));
            for (const r of [a, ...below]) assert.equal(await store.getResource(r.name), undefined, `${r.name} is gone`);
            for (const r of siblings) assert.deepEqual(await store.getResource(r.name), r, `${r.name} is kept`);
            assert.deepEqual(names((await store.listResources({ parent: P, collection: 'connections', pageSize: 10 })).items), names(siblings.filter((r) => r.parent === P)));

            // Without cascade, only the resource itself goes.
            await commit(store, way, deleting(ab.name, [{ kind: 'exists', name: ab.name }]));
            assert.equal(await store.getResource(ab.name), undefined);
            assert.deepEqual(await store.getResource(abKey.name), abKey);
          });

          it('a put replaces the resource in place: its position in listResources stays, with the new etag and data', async () => {
            const store = await fresh();
            const [c1, c2, c3] = ['c1', 'c2', 'c3'].map((id) => resource(P, id)) as [ResourceRecord, ResourceRecord, ResourceRecord];
            for (const r of [c1, c2, c3]) await addResource(store, r);
            const c2b = { ...c2, etag: 'etag-c2-2', data: new Uint8Array([2, 2]) };
            await commit(store, way, { require: [{ kind: 'etag', name: c2.name, etag: c2.etag }], put: c2b });
            const c1b = { ...c1, etag: 'etag-c1-2', data: new Uint8Array([1, 1]) };
            await commit(store, way, { require: [], put: c1b });
            const read = (after?: string) => store.listResources({ parent: P, collection: 'connections', pageSize: 1, after });
            assert.deepEqual((await pages(read, 1)).flat(), [c1b, c2b, c3]);

            // Deleted and created again, it is a new resource: it lists last.
            await removeResource(store, c1.name);
            await commit(store, way, creating(c1));
            assert.deepEqual((await store.listResources({ parent: P, collection: 'connections', pageSize: 10 })).items, [c2b, c3, c1]);
          });
        });
      }

      describe('concurrent writers in one group commit', () => {
        it('of two puts over the same etag, exactly one wins and the store holds its version', async () => {
          for (const ways of RACING_WAYS) {
            const store = await fresh();
            const base = resource(P, 'contended');
            await addResource(store, base);
            const versions = ['a', 'b'].map((v, i) => ({ ...base, etag: `etag-${v}`, data: new Uint8Array([i]) }));
            const require: Precondition[] = [{ kind: 'etag', name: base.name, etag: base.etag }];
            const writers = await Promise.all(versions.map((put, i) => prepare(store, ways[i]!, { require, put }, preconditionFailed('etag', base.name))));
            const [winner] = await race(store, writers);
            assert.deepEqual(await store.getResource(base.name), versions[winner!], ways.join(' vs '));
          }
        });

        it('of two creates of one name, exactly one wins and the store holds its version', async () => {
          for (const ways of RACING_WAYS) {
            const store = await fresh();
            const versions = ['a', 'b'].map((v, i) => ({ ...resource(P, 'contested'), etag: `etag-${v}`, data: new Uint8Array([i]) }));
            const writers = await Promise.all(versions.map((put, i) => prepare(store, ways[i]!, creating(put), preconditionFailed('absent', put.name))));
            const [winner] = await race(store, writers);
            assert.deepEqual(await store.getResource(versions[0]!.name), versions[winner!], ways.join(' vs '));
          }
        });

        it('a child create racing its parent delete: exactly one wins, and no child is left without its parent', async () => {
          for (const ways of RACING_WAYS) {
            for (const childFirst of [true, false]) {
              const store = await fresh();
              const parent = resource(P, 'parent');
              const child = resource(parent.name, 'k', 'keys');
              await addResource(store, parent);
              const create = await prepare(
                store,
                ways[0],
                { require: [{ kind: 'absent', name: child.name }, { kind: 'parent-exists', name: parent.name }], put: child },
                preconditionFailed('parent-exists', parent.name),
              );
              const remove = await prepare(
                store,
                ways[1],
                deleting(parent.name, [{ kind: 'exists', name: parent.name }, { kind: 'no-children', name: parent.name }]),
                preconditionFailed('no-children', parent.name),
              );
              const writers = childFirst ? [create, remove] : [remove, create];
              const [winner] = await race(store, writers);
              const stored = [await store.getResource(parent.name), await store.getResource(child.name)];
              const label = `${ways.join(' vs ')}, ${childFirst ? 'child' : 'parent delete'} issued first`;
              assert.deepEqual(stored, writers[winner!] === create ? [parent, child] : [undefined, undefined], label);
            }
          }
        });

        it('a child create racing a cascade delete of its parent: the delete wins, and no child is left without its parent', async () => {
          for (const ways of RACING_WAYS) {
            for (const childFirst of [true, false]) {
              const store = await fresh();
              const parent = resource(P, 'parent');
              const child = resource(parent.name, 'k', 'keys');
              await addResource(store, parent);
              const create = await prepare(
                store,
                ways[0],
                { require: [{ kind: 'absent', name: child.name }, { kind: 'parent-exists', name: parent.name }], put: child },
                preconditionFailed('parent-exists', parent.name),
              );
              const remove = await prepare(store, ways[1], deleting(parent.name, [{ kind: 'exists', name: parent.name }], true), () => false);
              const results = await Promise.allSettled((childFirst ? [create, remove] : [remove, create]).map((w) => w.write()));
              const [created, removed] = childFirst ? results : [results[1]!, results[0]!];
              const label = `${ways.join(' vs ')}, ${childFirst ? 'child' : 'parent delete'} issued first`;
              assert.equal(removed?.status, 'fulfilled', label);
              assert.ok(created?.status === 'fulfilled' || create.loses(created?.reason), `${label}: ${String(created?.status === 'rejected' && created.reason)}`);
              assert.deepEqual([await store.getResource(parent.name), await store.getResource(child.name)], [undefined, undefined], label);
            }
          }
        });

        it('a write refused in a group fails alone: the other writes of the group commit, before and after it', async () => {
          const store = await fresh();
          const r = resource(P, 'r');
          const taken = resource(P, 'taken');
          await addResource(store, r);
          await addResource(store, taken);
          const [stale, good, late, status, finished] = await insertMany(store, 5);
          const r2 = { ...r, etag: 'etag-r-2', data: new Uint8Array([2]) };
          const made = resource(P, 'made');
          const created = resource(P, 'created');
          const [clash, instant, missing, plain] = [newOp(), newOp(), newOp(), newOp()];
          const results = await Promise.allSettled([
            store.finishOperation(stale!.name, { response: RESPONSE }, END, { require: [{ kind: 'etag', name: r.name, etag: 'etag-stale' }], put: { ...r, etag: 'etag-x' } }),
            store.finishOperation(good!.name, { response: RESPONSE }, END, { require: [{ kind: 'etag', name: r.name, etag: r.etag }], put: r2 }),
            store.insertOperation(clash, { require: [{ kind: 'absent', name: taken.name }] }),
            store.insertOperation(instant, finishedWith(creating(made))),
            // Its etag held when the group began; the write just before changed it.
            store.finishOperation(late!.name, { response: RESPONSE }, END, { require: [{ kind: 'etag', name: r.name, etag: r.etag }], put: { ...r, etag: 'etag-y' } }),
            store.insertOperation(missing, finishedWith(deleting(`${P}/connections/nowhere`, [{ kind: 'exists', name: `${P}/connections/nowhere` }]))),
            store.setStatusMessage(status!.name, 'still going'),
            store.finishOperation(finished!.name, { response: RESPONSE }, END, creating(created)),
            store.insertOperation(plain),
          ]);
          assert.deepEqual(
            results.map((x) => x.status),
            ['rejected', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled'],
            results.map((x) => (x.status === 'rejected' ? String(x.reason) : 'ok')).join('; '),
          );
          const refusals: [number, (error: unknown) => boolean][] = [
            [0, preconditionFailed('etag', r.name)],
            [2, preconditionFailed('absent', taken.name)],
            [4, preconditionFailed('etag', r.name)],
            [5, preconditionFailed('exists', `${P}/connections/nowhere`)],
          ];
          for (const [i, refusedBy] of refusals) {
            const result = results[i];
            assert.ok(result?.status === 'rejected' && refusedBy(result.reason), `write ${i} is refused by its own precondition`);
          }
          assert.deepEqual(await store.getResource(r.name), r2);
          assert.deepEqual(await store.getResource(made.name), made);
          assert.deepEqual(await store.getResource(created.name), created);
          assert.deepEqual(await store.getResource(taken.name), taken);
          for (const op of [stale!, late!]) assert.equal((await store.getOperation(op.name))?.done, false, 'a refused finish leaves its operation running');
          for (const op of [good!, finished!]) assert.equal((await store.getOperation(op.name))?.done, true);
          assert.equal((await store.getOperation(instant.name))?.done, true);
          assert.equal((await store.getOperation(plain.name))?.done, false);
          for (const op of [clash, missing]) assert.equal(await store.getOperation(op.name), undefined, 'a refused insert writes no operation');
          assert.equal((await store.getOperation(status!.name))?.statusMessage, 'still going');
        });
      });
    });

    describe('service-account keys', () => {
      const CI = 'ci-runner@demo-project.iam.gserviceaccount.com';
      const OTHER = 'deployer@demo-project.iam.gserviceaccount.com';
      let keys = 0;
      const newKey = (email = CI): NewServiceAccountKey => ({
        keyId: (++keys).toString(16).padStart(40, 'a'),
        project: 'demo-project',
        email,
        publicKeyPem: `-----BEGIN PUBLIC KEY-----\nMIIB${keys}\n-----END PUBLIC KEY-----\n`,
        createTime: new Date(T0 + keys),
      });
      const ids = (records: { keyId: string }[]): string[] => records.map((r) => r.keyId);

      it('createServiceAccountKey returns the record and getServiceAccountKey reads every field back', async () => {
        const store = await fresh();
        const key = newKey();
        assert.deepEqual(defined(await store.createServiceAccountKey(key)), key);
        assert.deepEqual(defined(await store.getServiceAccountKey(key.keyId)), key);
        assert.equal((await store.getServiceAccountKey(key.keyId))?.createTime.getTime(), key.createTime.getTime(), 'createTime keeps milliseconds');
        assert.equal(await store.getServiceAccountKey('0'.repeat(40)), undefined);
        await assert.rejects(store.createServiceAccountKey({ ...newKey(), keyId: key.keyId }), 'a key id is unique');
      });

      it('listServiceAccountKeys lists keys not deleted, oldest first, of one account or of all', async () => {
        const store = await fresh();
        const [a, b, c] = [newKey(), newKey(OTHER), newKey()];
        for (const key of [a, b, c]) await store.createServiceAccountKey(key);
        assert.deepEqual(ids(await store.listServiceAccountKeys()), ids([a, b, c]));
        assert.deepEqual(ids(await store.listServiceAccountKeys(CI)), ids([a, c]));
        assert.deepEqual(await store.listServiceAccountKeys('nobody@demo-project.iam.gserviceaccount.com'), []);
        assert.equal(await store.deleteServiceAccountKey(a.keyId, new Date(T0 + 99)), true);
        assert.deepEqual(ids(await store.listServiceAccountKeys()), ids([b, c]));
        assert.deepEqual(ids(await store.listServiceAccountKeys(CI)), ids([c]));
      });

      it('deleteServiceAccountKey marks the key deleted once; the deleted key still reads back with its deleteTime', async () => {
        const store = await fresh();
        const key = newKey();
        await store.createServiceAccountKey(key);
        const deleted = new Date(T0 + 1234);
        assert.equal(await store.deleteServiceAccountKey(key.keyId, deleted), true);
        assert.equal(await store.deleteServiceAccountKey(key.keyId, new Date(T0 + 5678)), false, 'deleting twice changes nothing');
        assert.deepEqual(defined(await store.getServiceAccountKey(key.keyId)), { ...key, deleteTime: deleted });
        assert.equal(await store.deleteServiceAccountKey('0'.repeat(40), deleted), false);
      });

      it('keys survive the store being closed and reopened', { skip: options.reopen ? false : 'backend keeps nothing' }, async () => {
        const store = await fresh();
        const [kept, gone] = [newKey(), newKey()];
        await store.createServiceAccountKey(kept);
        await store.createServiceAccountKey(gone);
        await store.deleteServiceAccountKey(gone.keyId, new Date(T0 + 7));
        await store.close();
        opened.delete(store);
        const reopened = await options.reopen!(store);
        opened.add(reopened);
        assert.deepEqual(ids(await reopened.listServiceAccountKeys(CI)), [kept.keyId]);
        assert.deepEqual((await reopened.getServiceAccountKey(gone.keyId))?.deleteTime, new Date(T0 + 7));
      });
    });

    describe('IAM policies and groups', () => {
      const policy = (resource: string, etag: string, members = ['user:a@example.com']): IamPolicyRecord => ({
        resource,
        version: 1,
        bindings: [{ role: 'roles/developerconnect.viewer', members }, { role: 'roles/owner', members: ['group:admins@example.com'] }],
        etag,
      });

      it('setIamPolicy stores a policy per resource and getIamPolicy reads every field back', async () => {
        const store = await fresh();
        assert.equal(await store.getIamPolicy('projects/p'), undefined);
        await store.setIamPolicy(policy('projects/p', 'etag-1'));
        await store.setIamPolicy({ ...policy('*', 'etag-root'), version: 3 });
        assert.deepEqual(await store.getIamPolicy('projects/p'), policy('projects/p', 'etag-1'));
        assert.deepEqual(await store.getIamPolicy('*'), { ...policy('*', 'etag-root'), version: 3 });
        assert.equal(await store.getIamPolicy('projects/q'), undefined);
        await store.setIamPolicy(policy('projects/p', 'etag-2', ['user:b@example.com']));
        assert.deepEqual(await store.getIamPolicy('projects/p'), policy('projects/p', 'etag-2', ['user:b@example.com']), 'without an expected etag, a write replaces');
      });

      it('setIamPolicy compares and sets: it writes only over the expected etag, or into nothing for null', async () => {
        const store = await fresh();
        await store.setIamPolicy(policy('projects/p', 'etag-1'), null);
        await assert.rejects(store.setIamPolicy(policy('projects/p', 'etag-x'), null), EtagMismatchError, 'null: none may exist');
        await assert.rejects(store.setIamPolicy(policy('projects/p', 'etag-x'), 'stale'), EtagMismatchError);
        assert.equal((await store.getIamPolicy('projects/p'))?.etag, 'etag-1', 'a refused write changes nothing');
        await store.setIamPolicy(policy('projects/p', 'etag-2'), 'etag-1');
        assert.equal((await store.getIamPolicy('projects/p'))?.etag, 'etag-2');
        await assert.rejects(store.setIamPolicy(policy('projects/q', 'etag-x'), 'etag-2'), EtagMismatchError, 'an etag of another resource does not match');
        assert.equal(await store.getIamPolicy('projects/q'), undefined);
      });

      it('of two writes over the same etag at once, exactly one wins', async () => {
        const store = await fresh();
        await store.setIamPolicy(policy('projects/p', 'etag-0'));
        const results = await Promise.allSettled([
          store.setIamPolicy(policy('projects/p', 'etag-a'), 'etag-0'),
          store.setIamPolicy(policy('projects/p', 'etag-b'), 'etag-0'),
        ]);
        assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
        const winner = results[0]?.status === 'fulfilled' ? 'etag-a' : 'etag-b';
        assert.equal((await store.getIamPolicy('projects/p'))?.etag, winner);
      });

      it('setIamGroups replaces every group', async () => {
        const store = await fresh();
        assert.deepEqual(await store.getIamGroups(), {});
        await store.setIamGroups({ 'devs@example.com': ['user:a@example.com', 'group:ops@example.com'], 'ops@example.com': ['user:b@example.com'] });
        assert.deepEqual(await store.getIamGroups(), {
          'devs@example.com': ['user:a@example.com', 'group:ops@example.com'],
          'ops@example.com': ['user:b@example.com'],
        });
        await store.setIamGroups({ 'ops@example.com': [] });
        assert.deepEqual(await store.getIamGroups(), { 'ops@example.com': [] });
      });

      it('policies and groups survive the store being closed and reopened', { skip: options.reopen ? false : 'backend keeps nothing' }, async () => {
        const store = await fresh();
        await store.setIamPolicy(policy('projects/p', 'etag-1'));
        await store.setIamGroups({ 'devs@example.com': ['user:a@example.com'] });
        await store.close();
        opened.delete(store);
        const reopened = await options.reopen!(store);
        opened.add(reopened);
        assert.deepEqual(await reopened.getIamPolicy('projects/p'), policy('projects/p', 'etag-1'));
        assert.deepEqual(await reopened.getIamGroups(), { 'devs@example.com': ['user:a@example.com'] });
      });
    });

    describe('listResources with filter and order (the resource index)', () => {
      const INDEX_FIELDS: Record<string, FieldType> = { name: 'string', rank: 'int', 'labels.*': 'string' };
      const indexFilter = (text: string) => parseFilter(text, INDEX_FIELDS);
      /** A resource with index values: its name, `rank` (null: none), and `labels.env` when given. */
      const ranked = (parent: string, id: string, rank: number | null, env?: string, collection = 'connections'): ResourceRecord => {
        const record = resource(parent, id, collection);
        return { ...record, index: { name: record.name, rank, ...(env === undefined ? {} : { 'labels.env': env }) } };
      };
      const BY_RANK = [
        { field: 'rank', descending: false },
        { field: 'name', descending: false },
      ];
      const list = (store: Store, query: Partial<Parameters<Store['listResources']>[0]>) =>
        store.listResources({ parent: P, collection: 'connections', pageSize: 100, ...query }).then((page) => names(page.items));

      it('filters by index values: comparisons, prefixes, AND, OR, NOT; a field a resource lacks matches only !=', async () => {
        const store = await fresh();
        const [c1, c2, c3, c4] = [ranked(P, 'c1', 3, 'prod'), ranked(P, 'c2', 1, 'dev'), ranked(P, 'c3', null), ranked(P, 'c4', 2, 'prod')];
        for (const r of [c1, c2, c3, c4, ranked(Q, 'c5', 3, 'prod'), ranked(P, 'k1', 3, 'prod', 'keys')]) await addResource(store, r);
        const matching = (text: string) => list(store, { filter: indexFilter(text) });
        assert.deepEqual(await matching('labels.env = prod'), names([c1, c4]), 'only this parent and collection');
        assert.deepEqual(await matching('labels.env != prod'), names([c2, c3]));
        assert.deepEqual(await matching('labels.env = p*'), names([c1, c4]));
        assert.deepEqual(await matching('labels.env = *'), names([c1, c2, c4]));
        assert.deepEqual(await matching('rank >= 2'), names([c1, c4]));
        assert.deepEqual(await matching('NOT rank >= 2'), names([c2, c3]), 'a null rank is not >= 2');
        assert.deepEqual(await matching('labels.env = prod OR rank = 1'), names([c1, c2, c4]));
        assert.deepEqual(await matching('labels.env = prod AND rank < 3'), names([c4]));
        assert.deepEqual(await matching('labels.other = x'), []);
        assert.deepEqual(await matching(`name = "${P}/connections/c1"`), names([c1]));
      });

      it('sorts by index values, null first ascending and last descending, ties oldest first', async () => {
        const store = await fresh();
        const [c1, c2, c3, c4, c5] = [ranked(P, 'c1', 3), ranked(P, 'c2', 1), ranked(P, 'c3', null), ranked(P, 'c4', 2), ranked(P, 'c0', 2)];
        for (const r of [c1, c2, c3, c4, c5]) await addResource(store, r);
        assert.deepEqual(await list(store, { order: BY_RANK }), names([c3, c2, c5, c4, c1]), 'rank, then name');
        assert.deepEqual(await list(store, { order: [{ field: 'rank', descending: true }] }), names([c1, c4, c5, c2, c3]), 'rank descending, then oldest first');
        assert.deepEqual(await list(store, { order: [{ field: 'rank', descending: true }], filter: indexFilter('rank != 3') }), names([c4, c5, c2, c3]));
      });

      for (const descending of [false, true]) {
        it(`pages by position (${descending ? 'descending' : 'ascending'}): nothing repeats or is skipped when resources are written or deleted between pages`, async () => {
          const store = await fresh();
          const order = [
            { field: 'rank', descending },
            { field: 'name', descending: false },
          ];
          const initial = Array.from({ length: 10 }, (_, i) => ranked(P, `r${i}`, i % 5 === 4 ? null : i, 'prod'));
          for (const r of initial) await addResource(store, r);
          const read = (after?: string) => store.listResources({ parent: P, collection: 'connections', pageSize: 3, after, filter: indexFilter('labels.env = prod'), order });
          const added: ResourceRecord[] = [];
          const removed = new Set<string>();
          const listed = await pages(read, 3, async (index) => {
            if (index !== 0) return;
            // After the first page: remove one not read yet, add one before the cursor and one after it.
            const gone = initial[descending ? 2 : 7]!;
            await removeResource(store, gone.name);
            removed.add(gone.name);
            await addResource(store, ranked(P, 'before', descending ? 100 : -100, 'prod'));
            const later = ranked(P, 'later', descending ? -100 : 100, 'prod');
            await addResource(store, later);
            added.push(later);
          });
          const rank = (r: ResourceRecord) => (r.index?.rank ?? null) as number | null;
          const expected = [...initial.filter((r) => !removed.has(r.name)), ...added].sort((a, b) => {
            const [x, y] = [rank(a), rank(b)];
            if (x !== y) return (x === null ? -1 : y === null ? 1 : x - y) * (descending ? -1 : 1);
            return a.name < b.name ? -1 : 1;
          });
          assert.deepEqual(names(listed.flat()), names(expected));
        });
      }

      it('without a parent: the matching resources of the collection under every parent, oldest first, in pages', async () => {
        const store = await fresh();
        const [a, b, c, d] = [ranked(P, 'a', 1, 'prod'), ranked(Q, 'b', 2, 'prod'), ranked(P, 'c', 3, 'dev'), ranked(`${P}/connections/a`, 'd', 4, 'prod')];
        for (const r of [a, b, c, d, ranked(Q, 'k', 5, 'prod', 'keys'), resource(Q, 'unindexed')]) await addResource(store, r);
        const read = (after?: string) => store.listResources({ collection: 'connections', pageSize: 2, after, filter: indexFilter('labels.env = prod') });
        assert.deepEqual(names((await pages(read, 2)).flat()), names([a, b, d]), 'every parent, this collection, indexed and matching');
        assert.deepEqual(await list(store, { parent: undefined, filter: indexFilter('rank >= 3') }), names([c, d]));
        await assert.rejects(list(store, { parent: undefined }), /needs a filter/);
        await assert.rejects(list(store, { parent: undefined, filter: indexFilter('rank >= 3'), order: BY_RANK }), /has no order/);
      });

      it('a put replaces the index; a delete removes it, with what is below it', async () => {
        const store = await fresh();
        const parent = ranked(P, 'c1', 1, 'prod');
        const link = ranked(parent.name, 'l1', 1, 'prod', 'links');
        await addResource(store, parent);
        await addResource(store, link);
        const prod = indexFilter('labels.env = prod');
        assert.deepEqual(await list(store, { filter: prod }), [parent.name]);
        await commit(store, 'finishOperation', { require: [], put: { ...parent, index: { ...parent.index, 'labels.env': 'dev' } } });
        assert.deepEqual(await list(store, { filter: prod }), []);
        assert.deepEqual(await list(store, { filter: indexFilter('labels.env = dev') }), [parent.name]);
        await commit(store, 'finishOperation', { require: [], put: resource(P, 'c1') });
        assert.deepEqual(await list(store, { filter: indexFilter('labels.env != prod') }), [], 'a resource without an index is in no filtered listing');
        assert.deepEqual(await list(store, { parent: parent.name, collection: 'links', filter: prod }), [link.name]);
        await removeResource(store, parent.name, true);
        assert.deepEqual(await list(store, { parent: parent.name, collection: 'links', filter: prod }), []);
      });

      it('lists resources stored without an index, and indexes one only while its etag is the one read', async () => {
        const store = await fresh();
        const [old, current] = [resource(P, 'old'), ranked(P, 'current', 1, 'prod')];
        await addResource(store, old);
        await addResource(store, current);
        await addResource(store, resource(P, 'key', 'keys'));
        const unindexed = () => store.listUnindexedResources({ collection: 'connections', pageSize: 10 }).then((page) => names(page.items));
        assert.deepEqual(await unindexed(), [old.name]);
        const index = { name: old.name, rank: 2, 'labels.env': 'prod' };
        assert.equal(await store.indexResource(old.name, 'another-etag', index), false);
        assert.equal(await store.indexResource(`${P}/connections/missing`, 'etag-missing', index), false);
        assert.equal(await store.indexResource(old.name, old.etag, index), true);
        assert.deepEqual(await unindexed(), []);
        assert.equal(await store.indexResource(old.name, old.etag, { ...index, rank: 9 }), false, 'indexed already');
        assert.deepEqual(await list(store, { filter: indexFilter('labels.env = prod'), order: BY_RANK }), [current.name, old.name]);
      });
    });
  });
}
