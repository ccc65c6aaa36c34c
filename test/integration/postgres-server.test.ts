/**
 * The server on PostgreSQL (`serve --database-url`): what one server committed, a server started
 * afterwards on the same database reads, over REST as a user with curl would.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freshDatabaseUrl } from '../support/postgres.js';
import { createConnection, PARENT, rest, startTestServer, untilDone } from '../support/server.js';

// Each server has a data directory of its own: what they share (the secrets of page tokens and signing keys too) is in the database.
const dataDirs: string[] = [];
function newDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'devconnect-postgres-server-'));
  dataDirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

const connections = async (url: string): Promise<string[]> => {
  const res = await rest(url, 'GET', `/v1/${PARENT}/connections`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return ((res.body.connections as { name: string }[] | undefined) ?? []).map((c) => c.name);
};

test('create, get, list and cancel on PostgreSQL, then read it all back after a restart', async () => {
  const databaseUrl = await freshDatabaseUrl();

  const first = await startTestServer({ databaseUrl, dataDir: newDataDir(), operationDelayMs: 0 });
  const created = await createConnection(first.url, 'kept');
  const done = await untilDone(first.url, created.name as string);
  assert.equal(done.error, undefined);
  const kept = await rest(first.url, 'GET', `/v1/${PARENT}/connections/kept`);
  assert.equal(kept.status, 200, JSON.stringify(kept.body));
  assert.deepEqual(await connections(first.url), [`${PARENT}/connections/kept`]);
  await first.stop();

  // Operations that take 30 s, long enough to cancel one.
  const slow = await startTestServer({ databaseUrl, dataDir: newDataDir(), operationDelayMs: 30_000 });
  const cancelled = await createConnection(slow.url, 'cancelled');
  const cancel = await rest(slow.url, 'POST', `/v1/${cancelled.name as string}:cancel`, {});
  assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
  assert.equal(((await untilDone(slow.url, cancelled.name as string, 5_000)).error as { code: number }).code, 1, 'CANCELLED');
  const firstPage = await rest(slow.url, 'GET', `/v1/${PARENT}/operations?pageSize=1`);
  const pageToken = firstPage.body.nextPageToken as string;
  assert.ok(pageToken, JSON.stringify(firstPage.body));
  await slow.stop();

  const restartedDir = newDataDir();
  const restarted = await startTestServer({ databaseUrl, dataDir: restartedDir, operationDelayMs: 0 });
  try {
    assert.deepEqual((await rest(restarted.url, 'GET', `/v1/${PARENT}/connections/kept`)).body, kept.body);
    assert.equal((await rest(restarted.url, 'GET', `/v1/${PARENT}/connections/cancelled`)).status, 404);
    assert.deepEqual(await connections(restarted.url), [`${PARENT}/connections/kept`]);
    const operation = await rest(restarted.url, 'GET', `/v1/${cancelled.name as string}`);
    assert.deepEqual([operation.body.done, (operation.body.error as { code: number }).code], [true, 1]);
    assert.deepEqual((await rest(restarted.url, 'GET', `/v1/${created.name as string}`)).body, done);
    const secondPage = await rest(restarted.url, 'GET', `/v1/${PARENT}/operations?pageSize=1&pageToken=${encodeURIComponent(pageToken)}`);
    assert.equal(secondPage.status, 200, `a page token of another server is good here: ${JSON.stringify(secondPage.body)}`);
    assert.deepEqual((secondPage.body.operations as { name: string }[]).map((o) => o.name), [created.name]);
    for (const dir of dataDirs) {
      assert.equal(existsSync(join(dir, 'devconnect.sqlite')), false, 'nothing was kept in SQLite');
      assert.equal(existsSync(join(dir, 'secrets')), false, 'no secret was kept in the data directory');
    }
  } finally {
    await restarted.stop();
  }
});

test('with two servers on one database, a resource is reconciling on both while either runs an operation on it', async () => {
  const databaseUrl = await freshDatabaseUrl();
  const [a, b] = [
    await startTestServer({ databaseUrl, dataDir: newDataDir(), operationDelayMs: 30_000 }),
    await startTestServer({ databaseUrl, dataDir: newDataDir(), operationDelayMs: 30_000 }),
  ];
  try {
    // The connection is made by a third server whose work takes no time; B then updates it, for 30 s.
    const instant = await startTestServer({ databaseUrl, dataDir: newDataDir(), operationDelayMs: 0 });
    try {
      await untilDone(instant.url, (await createConnection(instant.url, 'target')).name as string);
    } finally {
      await instant.stop();
    }
    const update = await rest(b.url, 'PATCH', `/v1/${PARENT}/connections/target?updateMask=labels`, { labels: { a: 'b' } });
    assert.equal(update.status, 200, JSON.stringify(update.body));
    assert.equal((await rest(a.url, 'GET', `/v1/${PARENT}/connections/target`)).body.reconciling, true, 'A sees the update B runs');
    const listed = (await rest(a.url, 'GET', `/v1/${PARENT}/connections`)).body.connections as { name: string; reconciling?: boolean }[];
    assert.equal(listed.find((c) => c.name.endsWith('/target'))?.reconciling, true);
    const filtered = (await rest(a.url, 'GET', `/v1/${PARENT}/connections?filter=${encodeURIComponent('reconciling = true')}`)).body.connections as { name: string }[];
    assert.deepEqual(filtered.map((c) => c.name), [`${PARENT}/connections/target`], "A's filter matches the update B runs");
    await rest(a.url, 'POST', `/v1/${update.body.name as string}:cancel`, {});
    await untilDone(a.url, update.body.name as string, 10_000);
    assert.equal((await rest(a.url, 'GET', `/v1/${PARENT}/connections/target`)).body.reconciling, undefined, 'false again once it ended');
  } finally {
    await a.stop();
    await b.stop();
  }
});

test("with two servers on one database, one's console login link works once on either", async () => {
  const databaseUrl = await freshDatabaseUrl();
  const [a, b] = [
    await startTestServer({ databaseUrl, dataDir: newDataDir(), auth: 'jwt' }),
    await startTestServer({ databaseUrl, dataDir: newDataDir(), auth: 'jwt' }),
  ];
  try {
    const login = (base: string, link: string) => fetch(base + new URL(link).pathname + new URL(link).search, { redirect: 'manual' });
    assert.notEqual(a.consoleUrl, b.consoleUrl, 'each node prints a code of its own');
    // A's link, opened through B (as a load balancer may route it), signs in the owner there.
    const onB = await login(b.url, a.consoleUrl);
    assert.equal(onB.status, 303);
    const cookie = onB.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^devconnect_console=[\w.-]+; Path=\/console; HttpOnly; SameSite=Strict/);
    const session = await fetch(`${a.url}/console/api/session`, { headers: { cookie: cookie.split(';')[0] ?? '' } });
    assert.equal(((await session.json()) as { principal?: string }).principal, 'user:admin@localhost', 'the session is good on A too');
    // Spent on B, it is spent on A.
    assert.equal((await login(a.url, a.consoleUrl)).status, 401);
    assert.equal((await login(b.url, a.consoleUrl)).status, 401);
    // B's own link is another code, still unspent; a forged one is refused.
    assert.equal((await login(a.url, b.consoleUrl)).status, 303);
    const forged = new URL(a.consoleUrl);
    forged.searchParams.set('code', Buffer.alloc(36, 7).toString('base64url'));
    assert.equal((await login(a.url, forged.toString())).status, 401);
  } finally {
    await a.stop();
    await b.stop();
  }
});
