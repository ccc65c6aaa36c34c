/**
 * Durability of real server processes (the built CLI): what a client was told survives SIGKILL,
 * unfinished operations resume after a crash, and SIGTERM stops without failing work in flight.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite.js';
import { createConnection, PARENT, rest, untilDone } from '../support/server.js';
import { buildOnce, killProcess, serveProcess, type ServerProcess } from '../support/server-process.js';

type Json = Record<string, unknown>;
const CONNECTION_TYPE = 'type.googleapis.com/google.cloud.developerconnect.v1.Connection';
type Server = ServerProcess;

const dataDirs: string[] = [];

function newDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'devconnect-durability-'));
  dataDirs.push(dir);
  return dir;
}

/** Starts `devconnect-emulator serve` on a free port and resolves once it prints its URL. */
function serve(dataDir: string, operationDelay: string): Promise<Server> {
  return serveProcess(['--data-dir', dataDir, '--operation-delay', operationDelay, '--log-level', 'info', '--auth', 'none']);
}

const kill = killProcess;

/** Every operation of PARENT, newest first, across pages. */
async function listOperations(url: string, filter = ''): Promise<Json[]> {
  const all: Json[] = [];
  let token = '';
  do {
    const res = await rest(url, 'GET', `/v1/${PARENT}/operations?pageSize=7&filter=${encodeURIComponent(filter)}&pageToken=${token}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    all.push(...((res.body.operations as Json[] | undefined) ?? []));
    token = (res.body.nextPageToken as string | undefined) ?? '';
  } while (token !== '');
  return all;
}

async function listConnections(url: string): Promise<Json[]> {
  const res = await rest(url, 'GET', `/v1/${PARENT}/connections?pageSize=1000`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return (res.body.connections as Json[] | undefined) ?? [];
}

async function getOperation(url: string, name: string): Promise<Json> {
  const res = await rest(url, 'GET', `/v1/${name}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

async function cancel(url: string, name: string): Promise<void> {
  const res = await rest(url, 'POST', `/v1/${name}:cancel`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body, {});
}

const metadataOf = (op: Json): Json => op.metadata as Json;
const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

describe('durability of the server process', () => {
  before(() => buildOnce());
  after(() => {
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  test('finished operations and their connections survive SIGKILL unchanged', async () => {
    const dataDir = newDataDir();
    const first = await serve(dataDir, '0s');
    const started = await Promise.all(ids('kept', 20).map((id) => createConnection(first.url, id)));
    for (const op of started) await untilDone(first.url, op.name as string);
    const operations = await listOperations(first.url);
    const connections = await listConnections(first.url);
    assert.equal(operations.length, 20);
    assert.equal(connections.length, 20);
    assert.ok(operations.every((op) => op.done === true && (op.response as Json)['@type'] === CONNECTION_TYPE));
    assert.equal((await kill(first, 'SIGKILL')).signal, 'SIGKILL');

    const second = await serve(dataDir, '0s');
    assert.deepEqual(await listOperations(second.url), operations);
    assert.deepEqual(await listConnections(second.url), connections);
    for (const op of started) assert.deepEqual(await getOperation(second.url, op.name as string), operations.find((o) => o.name === op.name));
    await kill(second, 'SIGKILL');
  });

  test('operations running at a crash are resumed by the next process and complete', async () => {
    const dataDir = newDataDir();
    const first = await serve(dataDir, '30s');
    const started = await Promise.all(ids('resumed', 3).map((id) => createConnection(first.url, id)));
    for (const op of started) assert.equal((await getOperation(first.url, op.name as string)).done, undefined);
    await kill(first, 'SIGKILL');

    const second = await serve(dataDir, '0s');
    for (const [i, op] of started.entries()) {
      const done = await untilDone(second.url, op.name as string, 10_000);
      assert.equal(done.error, undefined, JSON.stringify(done.error));
      const response = done.response as Json;
      assert.equal(response['@type'], CONNECTION_TYPE);
      assert.equal(response.name, `${PARENT}/connections/resumed-${i}`);
      assert.equal(metadataOf(done).requestedCancellation, undefined);
      const connection = await rest(second.url, 'GET', `/v1/${PARENT}/connections/resumed-${i}`);
      assert.equal(connection.status, 200);
      assert.equal(connection.body.uid, response.uid);
    }
    assert.deepEqual(await listOperations(second.url, 'done = false'), [], 'no operation is left running');
    assert.equal((await listOperations(second.url)).length, 3, 'resuming starts no new operations');
    await kill(second, 'SIGKILL');
  });

  test('an operation cancelled before a crash stays cancelled, and creates nothing', async () => {
    const dataDir = newDataDir();
    const first = await serve(dataDir, '30s');
    const op = await createConnection(first.url, 'cancelled');
    await cancel(first.url, op.name as string);
    await kill(first, 'SIGKILL');

    // Still 30 s: if the restart ran the operation again, it would not be done in time.
    const second = await serve(dataDir, '30s');
    const done = await untilDone(second.url, op.name as string, 5_000);
    assert.equal((done.error as Json).code, 1);
    assert.equal(done.response, undefined);
    assert.equal(metadataOf(done).requestedCancellation, true);
    assert.equal((await rest(second.url, 'GET', `/v1/${PARENT}/connections/cancelled`)).status, 404);
    assert.deepEqual(await listConnections(second.url), []);
    await kill(second, 'SIGKILL');
  });

  test('a crash between the cancel flag and the end of the work: recovery ends it CANCELLED without running it', async () => {
    const dataDir = newDataDir();
    const first = await serve(dataDir, '30s');
    const op = await createConnection(first.url, 'flagged');
    await kill(first, 'SIGKILL');
    // The state that crash leaves: cancellation committed, operation not done.
    const store = SqliteStore.open(dataDir);
    const flagged = await store.requestCancel(op.name as string);
    await store.close();
    assert.equal(flagged?.requestedCancellation, true);
    assert.equal(flagged?.done, false);

    const second = await serve(dataDir, '0s');
    const done = await untilDone(second.url, op.name as string, 5_000);
    assert.equal((done.error as Json).code, 1);
    assert.equal(metadataOf(done).requestedCancellation, true);
    assert.equal((await rest(second.url, 'GET', `/v1/${PARENT}/connections/flagged`)).status, 404, 'a 0 s run would have created it');
    await kill(second, 'SIGKILL');
  });

  test('SIGTERM exits 0 promptly and leaves work in flight to resume, neither failed nor cancelled', async () => {
    const dataDir = newDataDir();
    const first = await serve(dataDir, '30s');
    const op = await createConnection(first.url, 'graceful');
    assert.equal((await getOperation(first.url, op.name as string)).done, undefined);
    const t0 = Date.now();
    assert.deepEqual(await kill(first, 'SIGTERM'), { code: 0, signal: null });
    assert.ok(Date.now() - t0 < 3_000, `shutdown took ${Date.now() - t0} ms`);

    const second = await serve(dataDir, '0s');
    const done = await untilDone(second.url, op.name as string, 10_000);
    assert.equal(done.error, undefined, JSON.stringify(done.error));
    assert.equal((done.response as Json).name, `${PARENT}/connections/graceful`);
    assert.equal(metadataOf(done).requestedCancellation, undefined);
    assert.equal((await rest(second.url, 'GET', `/v1/${PARENT}/connections/graceful`)).status, 200);
    await kill(second, 'SIGKILL');
  });

  test('a cancel acknowledged with {} survives a SIGKILL that follows at once', async () => {
    const dataDir = newDataDir();
    const first = await serve(dataDir, '30s');
    const ops = await Promise.all(ids('acked', 5).map((id) => createConnection(first.url, id)));
    for (const op of ops) await cancel(first.url, op.name as string);
    await kill(first, 'SIGKILL');

    // Read the file the killed process left, before any new server could change it.
    const store = SqliteStore.open(dataDir);
    try {
      for (const op of ops) assert.equal((await store.getOperation(op.name as string))?.requestedCancellation, true, op.name as string);
    } finally {
      await store.close();
    }
    const second = await serve(dataDir, '30s');
    for (const op of ops) {
      const done = await untilDone(second.url, op.name as string, 5_000);
      assert.equal(metadataOf(done).requestedCancellation, true);
      assert.equal((done.error as Json).code, 1);
    }
    await kill(second, 'SIGKILL');
  });
});
