/**
 * The contract every Store backend must pass (like hono's common router suite): a backend's test
 * file calls `storeContract('name', open, options)` and gets the whole suite registered.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { parseFilter, renameFields, type FieldType } from '../../src/api/filter.js';
import { PreconditionFailedError, type Precondition } from '../../src/common/preconditions.js';
import {
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
      assert.ok(refused.status === 'rejected' && preconditionFailed('absent', taken.name)(refused.reason));
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
  });
}
