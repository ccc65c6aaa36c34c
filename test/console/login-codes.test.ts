// The one-time login codes: good once across every node that shares the key and the store, dead after a day.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { LOGIN_CODE_SECONDS, LoginCodes, type SpentCodes } from '../../src/console/session.js';

/** The store's insert-if-absent, as both backends implement it. */
function sharedStore(): SpentCodes {
  const rows = new Map<string, Uint8Array>();
  return {
    ensureSecret: async (name, value) => {
      if (!rows.has(name)) rows.set(name, value);
      return rows.get(name) as Uint8Array;
    },
  };
}

test('a code works once, on whichever node shares the key; another key, a changed byte or an old code does not', async () => {
  const key = randomBytes(32);
  const store = sharedStore();
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
