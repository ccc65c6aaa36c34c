/**
 * Tokens an attacker can make without any key, and tokens a trusted issuer minted for someone else,
 * against `serve --auth jwt` over REST, gRPC and POST /token. Every one is refused as a bad
 * credential (401 UNAUTHENTICATED, or 400 invalid_grant at /token), never a 5xx, and none acts as
 * anybody it does not prove to be.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { createServiceAccountKey, type ServiceAccountKeyFile } from '../../src/auth/service-account-keys.js';
import { SERVER_TOKEN_ISSUER } from '../../src/auth/signing-key.js';
import { JWT_BEARER_GRANT } from '../../src/auth/token-endpoint.js';
import { issueToken } from '../../src/cli/token.js';
import { Operations } from '../../src/gen/google/longrunning/operations_pb.js';
import { CLOUD_PLATFORM, epochSeconds, selfSignedJwt } from '../support/auth.js';
import { bearer, Code, dataDirWithKnownSigningKey, grpcCall, restCall, serverLikeToken, type Outcome } from '../support/auth-matrix-helpers.js';
import { grantRoles, startTestServer, type TestServer } from '../support/server.js';

const ISSUER = 'https://idp.example.test';
const AUDIENCE = 'devconnect-emulator-tests';
const OWNER = 'user:owner@example.com';
const OPERATION = 'projects/demo/locations/us-central1/operations/operation-missing';
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
/** A JWT with any header and claims and a signature of random bytes: what anyone can send. */
const forged = (header: Record<string, unknown>, claims: Record<string, unknown>): string =>
  `${b64({ alg: 'RS256', ...header })}.${b64(claims)}.${randomBytes(256).toString('base64url')}`;

/** Header parameters and claims of the wrong JSON type, each in a token that is otherwise well formed. */
const WRONG_HEADERS: Record<string, unknown>[] = [{ kid: {} }, { kid: [] }, { kid: 7 }, { kid: null }, { kid: true }, { alg: {} }, { alg: 1 }, { typ: [] }];
const WRONG_CLAIMS: Record<string, unknown>[] = [
  { iss: {} },
  { iss: ['a@b.c'] },
  { sub: {} },
  { sub: 1 },
  { aud: 1 },
  { aud: [1, {}] },
  { exp: 'soon' },
  { exp: {} },
  { iat: '1' },
  { nbf: [] },
  { scope: 1 },
  { scope: { a: 1 } },
  { scp: {} },
  { scp: [1] },
  { sa_key_id: {} },
  { sa_key_id: 1 },
  { email: {} },
  { email_verified: 'true' },
  { target_audience: {} },
  { jti: {} },
];

describe('hostile tokens under --auth jwt', () => {
  let server: TestServer;
  let jwks: Server;
  let idpKey: CryptoKey;
  let key: ServiceAccountKeyFile;
  let serverKey: { pem: string; kid: string };
  let grpcClient: grpc.Client;

  before(async () => {
    const pair = await generateKeyPair('RS256');
    idpKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'idp-1', alg: 'RS256', use: 'sig' };
    jwks = createServer((_req, res) => res.setHeader('content-type', 'application/json').end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const known = await dataDirWithKnownSigningKey();
    serverKey = { pem: known.signingKeyPem, kid: known.kid };
    server = await startTestServer({
      auth: 'jwt',
      owner: OWNER,
      dataDir: known.dataDir,
      trustedIssuers: [{ issuer: ISSUER, jwksUrl: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json` }],
      trustedAudiences: [AUDIENCE],
    });
    key = (await createServiceAccountKey(server.store, { project: 'demo', name: 'ci-runner', tokenUri: `${server.url}/token` })).keyFile;
    const ownerToken = await issueToken({ dataDir: server.dataDir, principal: OWNER });
    await grantRoles(server, ownerToken, 'demo', [{ role: 'roles/developerconnect.viewer', members: ['user:bob@example.com'] }]);
    grpcClient = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    grpcClient?.close();
    jwks?.close();
    await server?.stop();
  });

  const getOperation = (token: string, transport: 'rest' | 'grpc'): Promise<Outcome> =>
    transport === 'rest'
      ? restCall(server.url, { verb: 'GET', path: `/v1/${OPERATION}` }, bearer(token))
      : grpcCall(grpcClient, Operations.method.getOperation, { name: OPERATION }, bearer(token));
  const tokenEndpoint = async (assertion: string): Promise<{ status: number; body: Record<string, unknown> }> => {
    const response = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion }).toString(),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const idpToken = (claims: Record<string, unknown>): Promise<string> =>
    new SignJWT({ iss: ISSUER, aud: AUDIENCE, exp: epochSeconds() + 600, iat: epochSeconds(), scope: CLOUD_PLATFORM, ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: 'idp-1' })
      .sign(idpKey);

  async function assertRefused(token: string, why: string, message = /Request had invalid authentication credentials/): Promise<void> {
    for (const transport of ['rest', 'grpc'] as const) {
      const outcome = await getOperation(token, transport);
      assert.equal(outcome.status, 'UNAUTHENTICATED', `${transport}, ${why}: ${outcome.status} ${outcome.message}`);
      assert.match(outcome.message, message, `${transport}, ${why}`);
      if (transport === 'rest') assert.equal(outcome.http, 401);
    }
  }

  test('a header parameter or claim of the wrong JSON type is 401 over REST and gRPC and invalid_grant at /token, for every kind of issuer', async () => {
    const issuers = [SERVER_TOKEN_ISSUER, key.client_email, ISSUER];
    for (const iss of issuers) {
      const base = { iss, sub: iss === SERVER_TOKEN_ISSUER ? OWNER : iss, aud: AUDIENCE, exp: epochSeconds() + 600, scope: CLOUD_PLATFORM };
      const cases = [
        ...WRONG_HEADERS.map((header) => ({ why: `header ${JSON.stringify(header)}`, token: forged({ kid: key.private_key_id, ...header }, base) })),
        ...WRONG_CLAIMS.map((claims) => ({ why: `claims ${JSON.stringify(claims)}`, token: forged({ kid: key.private_key_id }, { ...base, ...claims }) })),
      ];
      for (const { why, token } of cases) {
        await assertRefused(token, `iss ${iss}, ${why}`, /malformed|is not a well-formed JWT|issuer/);
        const grant = await tokenEndpoint(token);
        assert.equal(grant.status, 400, `/token, iss ${iss}, ${why}: ${JSON.stringify(grant.body)}`);
        assert.equal(grant.body.error, 'invalid_grant', why);
      }
    }
  });

  test('a header or claims set that is not a JSON object, and signed tokens whose times are numbers but no dates', async () => {
    for (const token of [`${b64([])}.${b64({})}.x`, `${b64('RS256')}.${b64({})}.x`, `${b64({ alg: 'RS256' })}.${b64([1])}.x`, `${b64({ alg: 'RS256' })}.${b64(null)}.x`]) {
      await assertRefused(token, token);
    }
    const huge = 1e20;
    for (const claims of [{ iat: huge, exp: huge + 1 }, { nbf: huge, exp: huge + 1 }]) {
      await assertRefused(await serverLikeToken(serverKey.pem, serverKey.kid, OWNER, claims), JSON.stringify(claims), /not valid .*100000000000000000000 \(seconds since the epoch\)/);
    }
    // Signed by the server's own key, a token that never expires is the key holder's choice: it works.
    assert.equal((await getOperation(await serverLikeToken(serverKey.pem, serverKey.kid, OWNER, { exp: 1e300 }), 'rest')).status, 'NOT_FOUND');
    await assertRefused(await selfSignedJwt(key, { iat: huge, exp: huge + 1 }), 'self-signed, iat 1e20');
  });

  test("a trusted issuer's token counts only for a trusted audience", async () => {
    assert.equal((await getOperation(await idpToken({ email: 'bob@example.com', email_verified: true }), 'rest')).status, 'NOT_FOUND', 'the token for this server is accepted');
    for (const aud of ['another-app', ['another-app', 'a-third-app'], undefined]) {
      await assertRefused(await idpToken({ aud, email: 'bob@example.com', email_verified: true }), `aud ${JSON.stringify(aud)}`, /issued for (the audience|no audience)/);
    }
    assert.equal((await getOperation(await idpToken({ aud: ['another-app', AUDIENCE], email: 'bob@example.com', email_verified: true }), 'grpc')).status, 'NOT_FOUND', 'an aud list naming this server');
  });

  test("a trusted issuer's email counts only with email_verified: true; otherwise the caller is user:SUB", async () => {
    // user:bob@example.com may read projects/demo; user:unverified-42 may not, so the answer tells who the caller was.
    for (const verified of [false, undefined, 'yes']) {
      const token = await idpToken({ sub: 'unverified-42', email: 'bob@example.com', email_verified: verified });
      const outcome = await getOperation(token, 'rest');
      if (verified === 'yes') assert.equal(outcome.status, 'UNAUTHENTICATED', 'email_verified must be a boolean');
      else assert.equal(outcome.status, 'PERMISSION_DENIED', `email_verified ${String(verified)}: ${outcome.message}`);
    }
    const noSub = await idpToken({ email: 'bob@example.com', email_verified: false });
    await assertRefused(noSub, 'an unverified email and no sub', /names no caller/);
  });

  test('a trusted issuer without a trusted audience refuses to start, and says why', async () => {
    await assert.rejects(
      startTestServer({ auth: 'jwt', trustedIssuers: [{ issuer: ISSUER, jwksUrl: 'http://127.0.0.1:1/jwks.json' }] }),
      /needs at least one trusted audience \(--trusted-audience AUD\)/,
    );
  });

  test('the server kept answering: a valid token still works on both transports', async () => {
    const token = await issueToken({ dataDir: server.dataDir, principal: OWNER });
    for (const transport of ['rest', 'grpc'] as const) assert.equal((await getOperation(token, transport)).code, Code.NOT_FOUND);
  });
});
