import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { issueToken } from '../../src/cli/token.js';
import { buildOnce } from '../support/server-process.js';
import { createConnection, rest, startTestServer, type TestServer } from '../support/server.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const PARENT = 'projects/cli/locations/us-central1';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `devconnect-emulator faults …` as a user would from a shell (the built CLI: tsx would start it ten times slower). */
function faults(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'faults', ...args], { cwd: ROOT, env: { ...process.env, DEVCONNECT_TOKEN: '', ...env } }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('devconnect-emulator faults', () => {
  let server: TestServer;
  let dir: string;
  before(async () => {
    buildOnce();
    server = await startTestServer();
    dir = mkdtempSync(join(tmpdir(), 'devconnect-faults-cli-'));
    await createConnection(server.url, 'c', PARENT);
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('add (a JSON argument) prints the rule with its id; the server applies it; list shows how often it fired', async () => {
    const added = await faults(['add', '--server', server.url, '{"method": "GetConnection", "times": 1, "error": {"code": "UNAVAILABLE"}}']);
    assert.equal(added.code, 0, added.stderr);
    const rule = JSON.parse(added.stdout) as { id: string; fired: number };
    assert.deepEqual(rule, { id: rule.id, method: 'GetConnection', times: 1, error: { code: 'UNAVAILABLE' }, fired: 0 });
    assert.equal((await rest(server.url, 'GET', `/v1/${PARENT}/connections/c`)).status, 503);
    const listed = await faults(['list', '--server', server.url]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout), { faults: [{ ...rule, fired: 1 }] });
    const cleared = await faults(['clear', '--server', server.url]);
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.deepEqual((await rest(server.url, 'GET', '/emulator/v1/faults')).body, { faults: [] });
  });

  test('add --file takes a YAML list, in order; clear ID removes one rule', async () => {
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, '- method: ListConnections\n  delay: 10ms\n- operation: {verb: delete}\n  fail: {code: ABORTED}\n');
    const added = await faults(['add', '--server', server.url, '--file', file]);
    assert.equal(added.code, 0, added.stderr);
    const [first, second] = JSON.parse(added.stdout) as Array<{ id: string }>;
    assert.ok(first && second);
    const removed = await faults(['clear', first.id, '--server', server.url]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, new RegExp(`Removed fault rule ${first.id}`));
    const left = (await rest(server.url, 'GET', '/emulator/v1/faults')).body.faults as Array<{ id: string }>;
    assert.deepEqual(left.map((r) => r.id), [second.id]);
    assert.notEqual((await faults(['clear', first.id, '--server', server.url])).code, 0, 'a rule that is gone is an error');
    await rest(server.url, 'DELETE', '/emulator/v1/faults');
  });

  test("a bad rule exits non-zero with the server's message naming the field", async () => {
    const bad = await faults(['add', '--server', server.url, '{"method": "GetConnection", "error": {"code": "SOMETIMES"}}']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /INVALID_ARGUMENT: Invalid fault rule: error\.code/);
    const neither = await faults(['add', '--server', server.url]);
    assert.notEqual(neither.code, 0);
    assert.match(neither.stderr, /give a rule as a JSON argument, or --file FILE/);
  });

  test('under --auth jwt it sends --token or $DEVCONNECT_TOKEN, and says when the server refuses', async () => {
    const jwt = await startTestServer({ auth: 'jwt', owner: 'user:admin@example.com' });
    try {
      const owner = await issueToken({ dataDir: jwt.dataDir, principal: 'user:admin@example.com' });
      const other = await issueToken({ dataDir: jwt.dataDir, principal: 'user:other@example.com' });
      const anonymous = await faults(['list', '--server', jwt.url]);
      assert.notEqual(anonymous.code, 0);
      assert.match(anonymous.stderr, /UNAUTHENTICATED/);
      const refused = await faults(['list', '--server', jwt.url, '--token', other]);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /PERMISSION_DENIED: Managing fault rules needs roles\/owner/);
      const listed = await faults(['list', '--server', jwt.url], { DEVCONNECT_TOKEN: owner });
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual(JSON.parse(listed.stdout), { faults: [] });
    } finally {
      await jwt.stop();
    }
  });
});
