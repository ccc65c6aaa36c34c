/**
 * Three server processes on one PostgreSQL database, as a shared service runs them: any node
 * accepts any call, a cancel through one node stops the work on another and wakes a waiter on a
 * third, a node killed with SIGKILL has its operations finished by the others within the lease,
 * and 1,000 operations under racing cancels each end exactly once, with the resources to match.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, describe, test } from 'node:test';
import { waitOperationCall } from '../support/gax-clients.js';
import { freshDatabaseUrl } from '../support/postgres.js';
import { killProcess, serveProcess, type ServerProcess } from '../support/server-process.js';
import { createConnection, PARENT, rest, untilDone } from '../support/server.js';

type Json = Record<string, unknown>;
const LEASE_MS = 1_000;

const dataDirs: string[] = [];
after(() => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

/** A node on `databaseUrl`, with a data directory of its own: everything it shares with the others is in the database. */
function node(databaseUrl: string, operationDelay: string, leaseMs = LEASE_MS): Promise<ServerProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'devconnect-cluster-'));
  dataDirs.push(dataDir);
  return serveProcess(['--database-url', databaseUrl, '--data-dir', dataDir, '--operation-delay', operationDelay, '--lease', `${leaseMs}ms`, '--auth', 'none', '--log-level', 'warn']);
}

async function getOperation(url: string, name: string): Promise<Json> {
  const res = await rest(url, 'GET', `/v1/${name}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

const portOf = (server: ServerProcess): number => Number(new URL(server.url).port);

describe('three nodes on one PostgreSQL', () => {
  test('an operation created on one node is cancelled through a second and waited on through the third', async () => {
    const databaseUrl = await freshDatabaseUrl();
    // A lease of a minute: the heartbeat (every 20 s) cannot be what carries the cancel within the 10 s allowed below.
    const [a, b, c] = await Promise.all([node(databaseUrl, '30s', 60_000), node(databaseUrl, '30s', 60_000), node(databaseUrl, '30s', 60_000)]);
    const waiter = await waitOperationCall(portOf(c!));
    try {
      const created = await createConnection(a!.url, 'across-nodes');
      const name = created.name as string;
      assert.equal(created.done, undefined, 'the operation runs (30 s of work) on node A');

      const waiting = waiter.wait({ name, timeout: { seconds: 20 } }) as Promise<{ done: boolean; error?: { code: number } }>;
      // Let the waiter park on node C before the cancel.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const cancelledAt = performance.now();
      const cancel = await rest(b!.url, 'POST', `/v1/${name}:cancel`, {});
      assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
      assert.deepEqual(cancel.body, {});

      const waited = await waiting;
      const wokeAfterMs = performance.now() - cancelledAt;
      assert.equal(waited.done, true);
      assert.equal(waited.error?.code, 1, 'CANCELLED');
      // Notified, not polled: far below the lease heartbeat (20 s) and the 20 s wait.
      assert.ok(wokeAfterMs < 10_000, `the waiter on C woke ${wokeAfterMs.toFixed(0)} ms after the cancel on B`);

      for (const server of [a!, b!, c!]) {
        const op = await getOperation(server.url, name);
        assert.equal(op.done, true);
        assert.equal((op.error as Json).code, 1);
        assert.equal((op.metadata as Json).requestedCancellation, true);
      }
      assert.equal((await rest(c!.url, 'GET', `/v1/${PARENT}/connections/across-nodes`)).status, 404, 'the cancelled create made nothing');
    } finally {
      waiter.close();
      await Promise.all([a!, b!, c!].map((s) => killProcess(s, 'SIGTERM')));
    }
  });

  test('the operations of a node killed with SIGKILL are finished by the others within the lease', async () => {
    const databaseUrl = await freshDatabaseUrl();
    // Work takes 30 s on the node that dies and none on the others: whatever finishes, the others finished.
    const [doomed, b, c] = await Promise.all([node(databaseUrl, '30s'), node(databaseUrl, '0s'), node(databaseUrl, '0s')]);
    try {
      const ids = Array.from({ length: 10 }, (_, i) => `orphan-${i}`);
      const names = (await Promise.all(ids.map((id) => createConnection(doomed!.url, id)))).map((op) => op.name as string);
      for (const name of names) assert.equal((await getOperation(b!.url, name)).done, undefined, 'running on the doomed node');

      await killProcess(doomed!, 'SIGKILL');
      const killedAt = performance.now();
      const finished = await Promise.all(names.map((name, i) => untilDone(i % 2 ? b!.url : c!.url, name, 15_000).then((op) => ({ op, at: performance.now() }))));
      const slowest = Math.max(...finished.map((f) => f.at - killedAt));
      // Claimed once the lease ends, at the next claim (every half second, or half lease if shorter): lease + 1 s, with room for a busy machine.
      assert.ok(slowest <= LEASE_MS + 1_000 + 2_000, `the last operation finished ${slowest.toFixed(0)} ms after the kill (lease ${LEASE_MS} ms)`);
      for (const { op } of finished) assert.equal(op.error, undefined, JSON.stringify(op.error));
      for (const id of ids) assert.equal((await rest(b!.url, 'GET', `/v1/${PARENT}/connections/${id}`)).status, 200, `${id} was created by the node that took it over`);
    } finally {
      await Promise.all([doomed!, b!, c!].map((s) => killProcess(s, 'SIGTERM')));
    }
  });

  test('1,000 operations created across the nodes under racing cancels each end once, and the connections match the outcomes', async () => {
    const databaseUrl = await freshDatabaseUrl();
    const nodes = await Promise.all([node(databaseUrl, '1s'), node(databaseUrl, '1s'), node(databaseUrl, '1s')]);
    const urls = nodes.map((n) => n.url);
    try {
      const COUNT = 1_000;
      const names: string[] = new Array<string>(COUNT);
      let next = 0;
      const worker = async (): Promise<void> => {
        for (let i = next++; i < COUNT; i = next++) {
          const op = await createConnection(urls[i % 3]!, `c-${i}`);
          names[i] = op.name as string;
          // Every other operation is cancelled through another node, racing its 1 s of work (a busy machine may take that long to answer the create).
          if (i % 2 === 0) {
            const cancel = await rest(urls[(i + 1) % 3]!, 'POST', `/v1/${String(op.name)}:cancel`, {});
            assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
          }
        }
      };
      await Promise.all(Array.from({ length: 24 }, () => worker()));

      const outcomes = await Promise.all(names.map((name, i) => untilDone(urls[(i + 2) % 3]!, name, 30_000)));
      const listed = new Set<string>();
      let token = '';
      do {
        const page = await rest(urls[0]!, 'GET', `/v1/${PARENT}/connections?pageSize=1000&pageToken=${token}`);
        assert.equal(page.status, 200, JSON.stringify(page.body));
        for (const c of (page.body.connections as Json[] | undefined) ?? []) listed.add(c.name as string);
        token = (page.body.nextPageToken as string | undefined) ?? '';
      } while (token !== '');

      let cancelled = 0;
      for (const [i, op] of outcomes.entries()) {
        const connection = `${PARENT}/connections/c-${i}`;
        assert.equal((op.error === undefined) !== (op.response === undefined), true, `${names[i]} has exactly one of error and response`);
        if (op.error) {
          assert.equal((op.error as Json).code, 1, `${names[i]} failed only by cancellation: ${JSON.stringify(op.error)}`);
          assert.equal(i % 2, 0, 'only the cancelled ones fail');
          assert.ok(!listed.has(connection), `${connection} exists although its create was cancelled`);
          cancelled++;
        } else {
          assert.ok(listed.has(connection), `${connection} is missing although its create succeeded`);
        }
      }
      assert.equal(listed.size, COUNT - cancelled, 'no connection without a successful create');
      assert.ok(cancelled > 0, 'some cancels won the race');

      // Final means final: read again through another node, every outcome is the same.
      const again = await Promise.all(names.map((name, i) => getOperation(urls[(i + 1) % 3]!, name)));
      for (const [i, op] of again.entries()) assert.deepEqual([op.done, op.error, (op.response as Json | undefined)?.name], [true, outcomes[i]!.error, (outcomes[i]!.response as Json | undefined)?.name]);
    } finally {
      await Promise.all(nodes.map((s) => killProcess(s, 'SIGTERM')));
    }
  });
});
