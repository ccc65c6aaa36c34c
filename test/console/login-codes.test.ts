// The one-time login codes: good once across every node that shares the key and the store, dead after a day.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LOGIN_CODE_SECONDS, LoginCodes } from '../../src/console/session.js';
import { SqliteStore } from '../../src/store/sqlite.js';

test('a code works once, on whichever node shares the key; another key, a changed byte or an old code does not', async (t) => {
  const key = randomBytes(32);
  // Two nodes' codes over one store: the spent codes are rows of its secrets.
  const dir = mkdtempSync(join(tmpdir(), 'login-codes-'));
  const store = SqliteStore.open(dir);
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  let now = Date.UTC(2026, 10, 30, 12);
  const clock = () => now;
  const [a, b] = [new LoginCodes(key, store, clock), new LoginCodes(key, store, clock)];
  const code = a.issue();
  assert.equal(await new LoginCodes(randomBytes(32), store, clock).spend(code), false, 'another key');
  const bytes = Buffer.from(code, 'base64url');
  bytes[3] = (bytes[3] ?? 0) ^ 1;
  assert.equal(await b.spend(bytes.toString('base64url')), false, 'a changed byte');
  assert.equal(await b.spend(`${code}A`), false, 'a longer code');
  assert.equal(await b.spend(code), true, "A's code on B");
  assert.equal(await a.spend(code), false, 'spent, also on A');

  const old = a.issue();
  now += (LOGIN_CODE_SECONDS + 1) * 1000;
  assert.equal(await a.spend(old), false, 'older than a day');
  assert.equal(await a.spend(a.issue()), true);
});
