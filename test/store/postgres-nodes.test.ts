/**
 * Several nodes on one PostgreSQL: stores opened on the same database, as servers on several
 * machines would be. The contract suite (postgres.test.ts) races writers within one store, where
 * group commit orders them; here each writer is another node, with its own connections and its own
 * group transaction, so only the locks taken inside the commits keep the preconditions true.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { PreconditionFailedError } from '../../src/common/preconditions.js';
import { loadMigrations } from '../../src/store/migrations.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { EtagMismatchError, type NewOperation, type ResourceChange, type ResourceRecord } from '../../src/store/store.js';
import { freshDatabaseUrl } from '../support/postgres.js';

const P = 'projects/p/locations/us-central1';
const ROUNDS = 20;
const END = new Date(Date.UTC(2026, 0, 1));

let n = 0;
function newOp(): NewOperation {
  const id = `op-${++n}`;
  return { name: `${P}/operations/${id}`, parent: P, kind: 'connections.create', input: '{}', verb: 'create', target: `${P}/connections/${id}`, createTime: END };
}

function resource(name: string, etag: string): ResourceRecord {
  const parts = name.split('/');
  return { name, parent: parts.slice(0, -2).join('/'), collection: parts.at(-2)!, etag, data: Buffer.from(etag) };
}

/** A change committed with a finished operation, as a create or update does when it needs no time. */
function commit(store: PostgresStore, change: ResourceChange): Promise<unknown> {
  return store.insertOperation(newOp(), { finished: { outcome: {}, endTime: END, change } });
}

/** Issues every write at once and returns which were fulfilled; every refusal must be a PreconditionFailedError. */
async function race(writes: (() => Promise<unknown>)[]): Promise<boolean[]> {
  const results = await Promise.allSettled(writes.map((write) => write()));
  for (const result of results) {
    if (result.status === 'rejected') assert.ok(result.reason instanceof PreconditionFailedError || result.reason instanceof EtagMismatchError, String(result.reason));
  }
  return results.map((r) => r.status === 'fulfilled');
}

const wins = (results: boolean[]): number => results.filter(Boolean).length;

describe('PostgresStore: several nodes on one database', () => {
  let nodes: PostgresStore[];
  let url: string;
  before(async () => {
    url = await freshDatabaseUrl();
    nodes = await Promise.all([1, 2, 3].map(() => PostgresStore.open(url)));
  });
  after(async () => {
    for (const node of nodes) await node.close();
  });

  it('nodes that start together on an empty database apply the migrations once, and all open', async () => {
    const url = await freshDatabaseUrl({ empty: true });
    const starting = await Promise.all([1, 2, 3, 4].map(() => PostgresStore.open(url)));
    for (const store of starting) await store.close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      assert.deepEqual(rows.map((r) => r.version), loadMigrations('postgres').map((m) => m.version));
    } finally {
      await client.end();
    }
  });

  it('of updates over the same etag on every node, exactly one wins', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const name = `${P}/connections/etag-${round}`;
      await commit(nodes[0]!, { require: [], put: resource(name, 'base') });
      const results = await race(nodes.map((node, i) => () => commit(node, { require: [{ kind: 'etag', name, etag: 'base' }], put: resource(name, `node-${i}`) })));
      assert.equal(wins(results), 1, `round ${round}: ${results.join(', ')}`);
      assert.equal((await nodes[0]!.getResource(name))?.etag, `node-${results.indexOf(true)}`);
    }
  });

  it('of creates of one name on every node, exactly one wins', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const name = `${P}/connections/create-${round}`;
      const results = await race(nodes.map((node, i) => () => commit(node, { require: [{ kind: 'absent', name }], put: resource(name, `node-${i}`) })));
      assert.equal(wins(results), 1, `round ${round}: ${results.join(', ')}`);
      assert.equal((await nodes[1]!.getResource(name))?.etag, `node-${results.indexOf(true)}`);
    }
  });

  it('a child create on one node racing its parent delete on another: no child is left without its parent', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const parent = resource(`${P}/connections/parent-${round}`, 'p');
      const child = resource(`${parent.name}/gitRepositoryLinks/child`, 'c');
      await commit(nodes[0]!, { require: [], put: parent });
      const create = () => commit(nodes[1]!, { require: [{ kind: 'absent', name: child.name }, { kind: 'parent-exists', name: parent.name }], put: child });
      const remove = () => commit(nodes[2]!, { require: [{ kind: 'exists', name: parent.name }, { kind: 'no-children', name: parent.name }], delete: { name: parent.name, cascade: false } });
      const results = await race(round % 2 ? [create, remove] : [remove, create]);
      assert.equal(wins(results), 1, `round ${round}: ${results.join(', ')}`);
      const [p, c] = [await nodes[0]!.getResource(parent.name), await nodes[0]!.getResource(child.name)];
      assert.ok(p !== undefined || c === undefined, `round ${round}: a child without its parent`);
    }
  });

  it('a retry of one request on every node commits one operation, which every node returns', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const request = { key: `CreateConnection ${round}`, fingerprint: 'same' };
      const records = await Promise.all(nodes.map((node) => node.insertOperation(newOp(), { request })));
      assert.equal(new Set(records.map((r) => r.name)).size, 1, `round ${round}: ${records.map((r) => r.name).join(', ')}`);
    }
  });

  it('of IAM policy writes over the same etag (or over none) on every node, exactly one wins', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const resource = `projects/iam-${round}`;
      const policy = (etag: string) => ({ resource, version: 1, bindings: [{ role: 'roles/owner', members: [`user:${etag}@example.com`] }], etag });
      const created = await race(nodes.map((node, i) => () => node.setIamPolicy(policy(`first-${i}`), null)));
      assert.equal(wins(created), 1, `round ${round}, over none: ${created.join(', ')}`);
      const first = `first-${created.indexOf(true)}`;
      const updated = await race(nodes.map((node, i) => () => node.setIamPolicy(policy(`second-${i}`), first)));
      assert.equal(wins(updated), 1, `round ${round}: ${updated.join(', ')}`);
      assert.equal((await nodes[0]!.getIamPolicy(resource))?.etag, `second-${updated.indexOf(true)}`);
    }
  });

  it('retention runs once per cluster: of every node asking at once, one runs it, and none again within the interval', async () => {
    const options = { doneBefore: new Date(), requestIdsBefore: new Date(), every: 60_000, limit: 100 };
    const results = await Promise.all(nodes.map((node) => node.expireOperations(options)));
    assert.equal(results.filter((r) => r.ran).length, 1, JSON.stringify(results));
    const again = await Promise.all(nodes.map((node) => node.expireOperations(options)));
    assert.equal(again.filter((r) => r.ran).length, 0, JSON.stringify(again));
  });

  it('a lease renewal waits for no row a write in flight holds (so it cannot deadlock with one); that operation is reported held, its lease renewed next time', async () => {
    const lease = (ms: number) => ({ owner: 'renewer', until: new Date(Date.now() + ms) });
    const free = await nodes[0]!.insertOperation(newOp(), { lease: lease(60_000) });
    const held = await nodes[0]!.insertOperation(newOp(), { lease: lease(60_000) });
    const writer = new pg.Client({ connectionString: url });
    await writer.connect();
    try {
      await writer.query('BEGIN');
      await writer.query('SELECT 1 FROM operations WHERE name = $1 FOR UPDATE', [held.name]);
      const renewing = nodes[1]!.renewLeases('renewer', new Date(Date.now() + 600_000));
      const renewed = await Promise.race([renewing, new Promise<'waited'>((resolve) => setTimeout(() => resolve('waited'), 5_000))]);
      await writer.query('ROLLBACK');
      if (renewed === 'waited') assert.fail('the renewal waited for the row lock');
      assert.deepEqual(renewed.map((r) => r.name).sort(), [free.name, held.name].sort());
      // Only the free one's lease was renewed: between the two ends, the held one is claimable and the free one is not.
      const claimed = await nodes[2]!.claimOperations({ owner: 'claimer', until: new Date(Date.now() + 60_000) }, new Date(Date.now() + 300_000), 1_000);
      const ours = claimed.map((r) => r.name).filter((n) => n === free.name || n === held.name);
      assert.deepEqual(ours, [held.name]);
    } finally {
      await writer.end();
    }
  });

  it('two nodes claiming expired operations at once take different ones, and together all', async () => {
    const ops = await Promise.all(Array.from({ length: 40 }, () => nodes[0]!.insertOperation(newOp(), { lease: { owner: 'dead', until: new Date(Date.now() - 1) } })));
    const claimed = await Promise.all(nodes.map((node, i) => node.claimOperations({ owner: `node-${i}`, until: new Date(Date.now() + 60_000) }, new Date(), 15)));
    const names = claimed.flat().map((r) => r.name);
    assert.equal(new Set(names).size, names.length, 'no operation claimed twice');
    const rest = await nodes[0]!.claimOperations({ owner: 'node-0', until: new Date(Date.now() + 1_000_000) }, new Date(), 1_000);
    // Earlier tests of this file left unfinished operations too: of these 40, each is claimed once.
    const ours = new Set(ops.map((o) => o.name));
    assert.deepEqual([...names, ...rest.map((r) => r.name)].filter((n) => ours.has(n)).sort(), [...ours].sort());
  });
});
