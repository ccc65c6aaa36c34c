/**
 * A database outage under two nodes: while PostgreSQL is down every call that needs it fails fast
 * with UNAVAILABLE and says why; when it is back the nodes recover by themselves, the operations
 * that were running complete, and nothing acknowledged is lost.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, test } from 'node:test';
import { admin, ownPostgres, type OwnPostgres } from '../support/postgres.js';
import { killProcess, serveProcess, type ServerProcess } from '../support/server-process.js';
import { createConnection, PARENT, rest, untilDone } from '../support/server.js';

const dataDirs: string[] = [];
let postgres: OwnPostgres | undefined;
after(async () => {
  await postgres?.remove();
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

function node(databaseUrl: string): Promise<ServerProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'devconnect-outage-'));
  dataDirs.push(dataDir);
  return serveProcess(['--database-url', databaseUrl, '--data-dir', dataDir, '--operation-delay', '2s', '--auth', 'none', '--log-level', 'error']);
}

test(
  'while PostgreSQL is down calls answer UNAVAILABLE at once; when it is back every running operation completes and nothing is lost',
  { skip: process.env.DATABASE_URL ? 'DATABASE_URL is set: this test stops and starts a PostgreSQL of its own, never a given one' : false },
  async () => {
    postgres = await ownPostgres();
    await admin(postgres.url, 'CREATE DATABASE outage');
    const databaseUrl = new URL('/outage', postgres.url).href;
    const nodes = await Promise.all([node(databaseUrl), node(databaseUrl)]);
    try {
      const ids = Array.from({ length: 20 }, (_, i) => `through-outage-${i}`);
      const names = (await Promise.all(ids.map((id, i) => createConnection(nodes[i % 2]!.url, id)))).map((op) => op.name as string);

      await postgres.stop();
      for (const [i, server] of nodes.entries()) {
        for (const [method, path, body] of [
          // An operation the other node runs: this node must read it from the database.
          ['GET', `/v1/${names[(i + 1) % 2]!}`, undefined],
          ['POST', `/v1/${PARENT}/connections?connectionId=during-outage`, { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } }],
          ['GET', `/v1/${PARENT}/connections`, undefined],
        ] as const) {
          const started = performance.now();
          const res = await rest(server.url, method, path, body);
          const tookMs = performance.now() - started;
          assert.equal(res.status, 503, `${method} ${path}: ${JSON.stringify(res.body)}`);
          const error = res.body.error as { status: string; message: string };
          assert.equal(error.status, 'UNAVAILABLE');
          assert.match(error.message, /database is unreachable/);
          assert.ok(tookMs < 5_000, `${method} ${path} took ${tookMs.toFixed(0)} ms to fail`);
        }
      }
      // The 2 s of work end while the database is down: their outcomes wait in the nodes.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      await postgres.start();

      for (const [i, name] of names.entries()) {
        const op = await untilDone(nodes[(i + 1) % 2]!.url, name, 30_000);
        assert.equal(op.error, undefined, `${name}: ${JSON.stringify(op.error)}`);
      }
      for (const id of ids) assert.equal((await rest(nodes[0]!.url, 'GET', `/v1/${PARENT}/connections/${id}`)).status, 200, `${id} exists`);
      assert.equal((await rest(nodes[1]!.url, 'GET', `/v1/${PARENT}/connections/during-outage`)).status, 404, 'the create refused during the outage made nothing');
      const after = await createConnection(nodes[1]!.url, 'after-outage');
      assert.equal((await untilDone(nodes[0]!.url, after.name as string, 10_000)).error, undefined);
    } finally {
      await Promise.all(nodes.map((s) => killProcess(s, 'SIGTERM')));
    }
  },
);
