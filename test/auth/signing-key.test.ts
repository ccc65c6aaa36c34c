import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { SERVER_TOKEN_ISSUER, SIGNING_KEY_FILE, TokenSigningKey } from '../../src/auth/signing-key.js';
import { issueToken } from '../../src/cli/token.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { newRsaPrivateKeyPem } from '../support/auth.js';

describe('TokenSigningKey', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'devconnect-signing-key-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('is made once, in the store: callers racing on a new store, and later ones, get the same key', async () => {
    const store = SqliteStore.open(dataDir);
    assert.equal(statSync(join(dataDir, 'devconnect.sqlite')).mode & 0o777, 0o600, 'the database that holds it is readable by its owner only');
    try {
      const [first, second] = await Promise.all([TokenSigningKey.load(store), TokenSigningKey.load(store)]);
      assert.equal(second.kid, first.kid);
      assert.equal((await TokenSigningKey.load(store)).kid, first.kid);
      assert.notEqual((await TokenSigningKey.load(SqliteStore.open(':memory:'))).kid, first.kid);
    } finally {
      await store.close();
    }
  });

  it('a data directory that still has the key file of an older version keeps that key', async () => {
    const oldDir = mkdtempSync(join(tmpdir(), 'devconnect-signing-key-old-'));
    try {
      const pem = newRsaPrivateKeyPem();
      mkdirSync(join(oldDir, 'secrets'));
      writeFileSync(join(oldDir, 'secrets', SIGNING_KEY_FILE), pem);
      const store = SqliteStore.open(oldDir);
      assert.equal((await TokenSigningKey.load(store, oldDir)).kid, (await TokenSigningKey.fromPem(pem)).kid);
      await store.close();
    } finally {
      rmSync(oldDir, { recursive: true, force: true });
    }
  });

  it('the token command signs with it: iss, sub, scope, iat, exp and the kid', async () => {
    const token = await issueToken({ dataDir, principal: 'user:alice@example.com', scopes: ['cloud-platform', 'https://example.com/x'], ttlMs: 90_000 });
    const claims = decodeJwt(token);
    const store = SqliteStore.open(dataDir);
    assert.equal(decodeProtectedHeader(token).kid, (await TokenSigningKey.load(store)).kid);
    await store.close();
    assert.equal(claims.iss, SERVER_TOKEN_ISSUER);
    assert.equal(claims.sub, 'user:alice@example.com');
    assert.equal(claims.scope, 'https://www.googleapis.com/auth/cloud-platform https://example.com/x');
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 90);
    assert.equal(claims.sa_key_id, undefined);
    await assert.rejects(issueToken({ dataDir, principal: 'alice' }), /must be an IAM member/);
    await assert.rejects(issueToken({ dataDir, principal: 'user:a@b.c', ttlMs: 10 }), /at least 1s/);
  });
});
