import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { SERVER_TOKEN_ISSUER, SIGNING_KEY_FILE, TokenSigningKey } from '../../src/auth/signing-key.js';
import { issueToken } from '../../src/cli/token.js';

describe('TokenSigningKey', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'devconnect-signing-key-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const path = join(dataDir, 'secrets', SIGNING_KEY_FILE);

  it('is created on first use as a PKCS#8 PEM readable only by its owner, and keeps its kid when loaded again', async () => {
    const [first, second] = await Promise.all([TokenSigningKey.load(dataDir), TokenSigningKey.load(dataDir)]);
    assert.match(readFileSync(path, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(second.kid, first.kid);
    assert.equal((await TokenSigningKey.load(dataDir)).kid, first.kid);
    assert.notEqual((await TokenSigningKey.load(':memory:')).kid, first.kid);
  });

  it('the token command signs with it: iss, sub, scope, iat, exp and the kid', async () => {
    const token = await issueToken({ dataDir, principal: 'user:alice@example.com', scopes: ['cloud-platform', 'https://example.com/x'], ttlMs: 90_000 });
    const claims = decodeJwt(token);
    assert.equal(decodeProtectedHeader(token).kid, (await TokenSigningKey.load(dataDir)).kid);
    assert.equal(claims.iss, SERVER_TOKEN_ISSUER);
    assert.equal(claims.sub, 'user:alice@example.com');
    assert.equal(claims.scope, 'https://www.googleapis.com/auth/cloud-platform https://example.com/x');
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 90);
    assert.equal(claims.sa_key_id, undefined);
    await assert.rejects(issueToken({ dataDir, principal: 'alice' }), /must be an IAM member/);
    await assert.rejects(issueToken({ dataDir, principal: 'user:a@b.c', ttlMs: 10 }), /at least 1s/);
  });
});
