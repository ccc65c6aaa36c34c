/**
 * Property-based fuzzing of authentication under `--auth jwt` (#11): tokens whose header and claims
 * hold values of any JSON type, signed with random bytes or with the server's own key, and mangled
 * real tokens, over REST, gRPC and POST /token. The properties: never a 5xx or INTERNAL, every
 * error in the AIP-193 shape (an OAuth error at /token), and nothing in the store changed by a
 * refused call.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { SERVER_TOKEN_ISSUER } from '../../src/auth/signing-key.js';
import { JWT_BEARER_GRANT } from '../../src/auth/token-endpoint.js';
import { issueToken } from '../../src/cli/token.js';
import { Operations } from '../../src/gen/google/longrunning/operations_pb.js';
import { CLOUD_PLATFORM, epochSeconds } from '../support/auth.js';
import { Code, dataDirWithKnownSigningKey, grpcCall, serverLikeToken } from '../support/auth-matrix-helpers.js';
import { PARENT, startTestServer, type TestServer } from '../support/server.js';
import { storeSnapshot } from '../support/store-snapshot.js';
import { assertRestAnswer, fuzzParameters } from './harness.js';
import { RawHttpClient } from './http-client.js';

const OWNER = 'user:owner@example.com';
const OPERATION = `${PARENT}/operations/operation-missing`;
/** A token as text, or the claims and caller of one to sign with the server's key. */
type MadeToken = string | { claims: Record<string, unknown>; member: string };
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value) ?? 'null').toString('base64url');

/** Any JSON value, and the values a claim or header parameter plausibly holds. */
const claimValue = (plausible: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 3, arbitrary: plausible }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }, { weight: 1, arbitrary: fc.constantFrom(1e20, -1, 0, 1e300, '', null, [], {}) });

describe('fuzzing JWT authentication', () => {
  let server: TestServer;
  let client: RawHttpClient;
  let grpcClient: grpc.Client;
  let signing: { pem: string; kid: string };
  let valid: string;

  before(async () => {
    const known = await dataDirWithKnownSigningKey();
    signing = { pem: known.signingKeyPem, kid: known.kid };
    server = await startTestServer({ auth: 'jwt', owner: OWNER, dataDir: known.dataDir });
    client = new RawHttpClient(server.port);
    grpcClient = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    valid = await issueToken({ dataDir: server.dataDir, principal: OWNER });
  });
  after(async () => {
    client?.close();
    grpcClient?.close();
    await server?.stop();
  });

  const now = epochSeconds();
  const header = fc.record(
    {
      alg: claimValue(fc.constantFrom('RS256', 'none', 'HS256', 'ES256', 'rs256')),
      kid: claimValue(fc.constantFrom('k1', 'nope', '../../etc/passwd', "' OR 1=1 --")),
      typ: claimValue(fc.constant('JWT')),
      crit: fc.jsonValue({ maxDepth: 1 }),
    },
    { requiredKeys: ['alg'] },
  );
  const claims = fc.record(
    {
      iss: claimValue(fc.constantFrom(SERVER_TOKEN_ISSUER, 'ci-runner@demo.iam.gserviceaccount.com', 'https://accounts.google.com', '')),
      sub: claimValue(fc.constantFrom(OWNER, 'user:x@example.com', 'serviceAccount:a@b.c', '')),
      aud: claimValue(fc.constantFrom('devconnect', 'https://developerconnect.googleapis.com/', [])),
      exp: claimValue(fc.integer({ min: now - 7200, max: now + 7200 })),
      iat: claimValue(fc.integer({ min: now - 7200, max: now + 60 })),
      nbf: claimValue(fc.integer({ min: now - 60, max: now + 60 })),
      scope: claimValue(fc.constantFrom(CLOUD_PLATFORM, `${CLOUD_PLATFORM} openid`, '')),
      email: claimValue(fc.constantFrom('owner@example.com', 'x')),
      email_verified: claimValue(fc.boolean()),
    },
    { requiredKeys: [] },
  );
  const signature = fc.oneof(fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('base64url')), fc.constantFrom('', '=', 'a.b'));

  /**
   * Tokens anyone can make, tokens signed by the server's own key with any claims (made when the
   * case runs, as signing is asynchronous), and real tokens mangled.
   */
  const token = (): fc.Arbitrary<MadeToken> =>
    fc.oneof(
      fc.tuple(header, claims, signature).map(([h, c, s]) => `${b64(h)}.${b64(c)}.${s}`),
      fc.record({ claims, member: fc.oneof(fc.constantFrom(OWNER, 'user:x@example.com', ''), fc.string({ maxLength: 20 })) }),
      fc.tuple(fc.nat(), fc.constantFrom('', 'A', '.', '..', '=', '-', '_', '/')).map(([at, c]) => valid.slice(0, at % valid.length) + c + valid.slice((at % valid.length) + 1)),
      fc.constantFrom(valid.split('.').reverse().join('.'), valid.split('.').slice(0, 2).join('.'), `${valid}.`, `.${valid}`, valid.replaceAll('.', '..')),
      fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
    );

  async function realize(made: MadeToken): Promise<string> {
    if (typeof made === 'string') return made;
    return serverLikeToken(signing.pem, signing.kid, made.member, made.claims);
  }

  /** How the token is put in the Authorization header: as it should be, mostly. */
  const scheme = fc.oneof(
    { weight: 6, arbitrary: fc.constant((t: string) => `Bearer ${t}`) },
    { weight: 1, arbitrary: fc.constantFrom((t: string) => `bearer ${t}`, (t: string) => `Bearer  ${t}`, (t: string) => `Basic ${t}`, (t: string) => t, () => 'Bearer') },
  );

  test('any token over REST and gRPC: 401, 403 or an answer, never a 5xx or INTERNAL', async () => {
    await fc.assert(
      fc.asyncProperty(token(), scheme, fc.boolean(), async (made, inHeader, overGrpc) => {
        // Header values are visible ASCII: a client cannot send others.
        const header = inHeader((await realize(made)).replace(/[^\x20-\x7e]/g, 'x'));
        const stored = storeSnapshot(server.dataDir);
        if (overGrpc) {
          const outcome = await grpcCall(grpcClient, Operations.method.getOperation, { name: OPERATION }, header);
          assert.ok(![Code.INTERNAL, Code.UNKNOWN, Code.UNAVAILABLE].includes(outcome.code), `gRPC ${header}: ${outcome.status} ${outcome.message}`);
        } else {
          const answer = await client.send({ method: 'GET', path: `/v1/${OPERATION}`, headers: { authorization: header } });
          assertRestAnswer(answer, `REST ${header}`);
        }
        assert.equal(storeSnapshot(server.dataDir), stored, `${header}: the call changed the store`);
      }),
      fuzzParameters(150, 0.6),
    );
  });

  test('any assertion at POST /token: an OAuth error, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(token(), fc.constantFrom(JWT_BEARER_GRANT, 'client_credentials', ''), async (made, grant) => {
        const assertion = await realize(made);
        const stored = storeSnapshot(server.dataDir);
        const answer = await client.send({
          method: 'POST',
          path: '/token',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: grant, assertion }).toString(),
        });
        assert.ok(answer.status < 500, `/token: ${answer.status} ${answer.text}`);
        const body = JSON.parse(answer.text) as Record<string, unknown>;
        if (answer.status >= 400) {
          assert.equal(typeof body.error, 'string', `/token: ${answer.text}`);
          assert.equal(storeSnapshot(server.dataDir), stored, '/token: a refused grant changed the store');
        }
      }),
      fuzzParameters(100, 0.4),
    );
    const ok = await client.send({ method: 'GET', path: `/v1/${OPERATION}`, headers: { authorization: `Bearer ${valid}` } });
    assert.equal(ok.status, 404, `the server still answers a valid token: ${ok.text}`);
  });
});
