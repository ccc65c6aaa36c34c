import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTestServer, type TestServer } from '../support/server.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `devconnect-emulator iam …` from source, as a user would from a shell. */
function iam(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'iam', ...args], { cwd: ROOT, env: { ...process.env, ...env } }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('devconnect-emulator iam', () => {
  let server: TestServer;
  let dir: string;
  before(async () => {
    server = await startTestServer();
    dir = mkdtempSync(join(tmpdir(), 'devconnect-cli-'));
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const at = () => ['--server', server.url, '--project', 'demo'];

  test('add-binding grants a role, get prints the policy, remove-binding revokes it', async () => {
    const added = await iam(['add-binding', ...at(), '--role', 'roles/developerconnect.viewer', '--member', 'user:alice@example.com']);
    assert.equal(added.code, 0, added.stderr);
    assert.deepEqual(JSON.parse(added.stdout).bindings, [{ role: 'roles/developerconnect.viewer', members: ['user:alice@example.com'] }]);

    const again = await iam(['add-binding', ...at(), '--role', 'roles/developerconnect.viewer', '--member', 'group:devs@example.com']);
    assert.equal(again.code, 0, again.stderr);

    const got = await iam(['get', ...at()]);
    assert.equal(got.code, 0, got.stderr);
    const policy = JSON.parse(got.stdout) as { bindings: unknown; etag: string };
    assert.deepEqual(policy.bindings, [{ role: 'roles/developerconnect.viewer', members: ['group:devs@example.com', 'user:alice@example.com'] }]);
    assert.equal(policy.etag, JSON.parse(again.stdout).etag);

    const removed = await iam(['remove-binding', ...at(), '--role', 'roles/developerconnect.viewer', '--member', 'user:alice@example.com']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(JSON.parse(removed.stdout).bindings, [{ role: 'roles/developerconnect.viewer', members: ['group:devs@example.com'] }]);

    const missing = await iam(['remove-binding', ...at(), '--role', 'roles/owner', '--member', 'user:alice@example.com']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /user:alice@example\.com has no binding to roles\/owner/);
  });

  test("set replaces the policy from a file; the server's refusals are printed", async () => {
    const file = join(dir, 'policy.json');
    writeFileSync(file, JSON.stringify({ bindings: [{ role: 'roles/editor', members: ['serviceAccount:ci@demo.iam.gserviceaccount.com'] }] }));
    const set = await iam(['set', ...at(), '--file', file]);
    assert.equal(set.code, 0, set.stderr);
    assert.deepEqual(JSON.parse(set.stdout).bindings, [{ role: 'roles/editor', members: ['serviceAccount:ci@demo.iam.gserviceaccount.com'] }]);

    writeFileSync(file, JSON.stringify({ etag: 'AAAAAAAAAAA=', bindings: [] }));
    const stale = await iam(['set', ...at(), '--file', file]);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /ABORTED: There were concurrent policy changes/);

    const bad = await iam(['add-binding', ...at(), '--role', 'roles/nope', '--member', 'user:a@example.com'], { DEVCONNECT_TOKEN: 'ignored-under-auth-none' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /INVALID_ARGUMENT: Role roles\/nope is not supported for this resource\./);
  });
});
