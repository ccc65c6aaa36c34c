/**
 * `npm run git-host`, the git host of the README's git walk-through: started as the README says (on
 * a free port instead of 9418), it serves the repository with its branches and tag to the right
 * credentials only, and stops on SIGTERM.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gitEnvironment } from '../support/git-host.js';
import { freePort } from '../support/ports.js';

test('npm run git-host serves the walk-through repository to its user and password only', async () => {
  const port = await freePort();
  const host = spawn(process.execPath, ['--import', 'tsx', 'scripts/git-host.ts', '--port', String(port), '--password', 'pw-1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    let out = '';
    host.stdout.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      host.stdout.on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('\n')) resolve();
      });
      host.once('exit', (code) => reject(new Error(`git-host exited with ${code}: ${out}`)));
    });
    assert.match(out, new RegExp(`^git host serving http://127\\.0\\.0\\.1:${port}/shop\\.git `));
    const env = gitEnvironment(mkdtempSync(join(tmpdir(), 'git-home-')));
    const lsRemote = (password: string) => execFileSync('git', ['ls-remote', `http://git-user:${password}@127.0.0.1:${port}/shop.git`], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const refs = lsRemote('pw-1').split('\n').filter((line) => line !== '').map((line) => line.split('\t')[1]);
    assert.deepEqual(refs.sort(), ['HEAD', 'refs/heads/dev', 'refs/heads/main', 'refs/tags/v1.0']);
    assert.throws(() => lsRemote('wrong'), /Authentication failed/);
  } finally {
    if (host.exitCode === null) {
      const exited = once(host, 'exit');
      host.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0);
    }
  }
});
