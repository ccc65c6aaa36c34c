import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { ApiError, Code } from '../../src/common/errors.js';
import { JwtAuthenticator } from '../../src/auth/jwt-authenticator.js';
import type { ServiceAccountKeyFile } from '../../src/auth/service-account-keys.js';
import { JWT_BEARER_GRANT, TokenEndpoint, type TokenEndpointResponse } from '../../src/auth/token-endpoint.js';
import { authFixture, CLOUD_PLATFORM, epochSeconds, grantAssertion, newRsaPrivateKeyPem, type AuthFixture } from '../support/auth.js';

const FORM = 'application/x-www-form-urlencoded';
const TOKEN_URI = 'http://127.0.0.1:8080/token';

describe('TokenEndpoint (POST /token, RFC 7523 JWT-bearer grant)', () => {
  let fx: AuthFixture;
  let key: ServiceAccountKeyFile;
  let endpoint: TokenEndpoint;
  let auth: JwtAuthenticator;

  before(async () => {
    fx = await authFixture();
    key = await fx.newKey();
    endpoint = new TokenEndpoint({ store: fx.store, signingKey: fx.signingKey, tokenUri: TOKEN_URI });
    auth = new JwtAuthenticator({ store: fx.store, signingKey: fx.signingKey });
  });
  after(() => fx.close());

  const form = (params: Record<string, string>): string => new URLSearchParams(params).toString();
  const grant = async (assertion: string): Promise<TokenEndpointResponse> => endpoint.handle(FORM, form({ grant_type: JWT_BEARER_GRANT, assertion }));
  /** Asserts an RFC 6749 §5.2 error response. */
  function oauthError(response: TokenEndpointResponse, error: string, description: RegExp): void {
    assert.equal(response.status, 400, JSON.stringify(response.body));
    assert.equal(response.body.error, error);
    assert.match(String(response.body.error_description), description);
    assert.equal(response.headers['cache-control'], 'no-store');
  }

  it('exchanges an assertion as google-auth-library posts it for a Bearer access token of the service account with its scopes', async () => {
    const response = await grant(await grantAssertion(key, { scope: `${CLOUD_PLATFORM} openid` }));
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.deepEqual(Object.keys(response.body).sort(), ['access_token', 'expires_in', 'token_type']);
    assert.equal(response.body.token_type, 'Bearer');
    assert.equal(response.body.expires_in, 3600);
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.equal(response.headers.pragma, 'no-cache');
    const token = String(response.body.access_token);
    const claims = decodeJwt(token);
    assert.equal(claims.sa_key_id, key.private_key_id, 'the token dies with the key');
    assert.ok(Math.abs((claims.exp ?? 0) - epochSeconds() - 3600) <= 2);
    assert.deepEqual(await auth.authenticate(`Bearer ${token}`), { member: `serviceAccount:${key.client_email}`, scopes: [CLOUD_PLATFORM, 'openid'] });
  });

  it('accepts a JSON body, a kid naming the key, and the audience of its own token URL', async () => {
    const assertion = await grantAssertion(key, { aud: TOKEN_URI });
    const json = await endpoint.handle('application/json; charset=utf-8', JSON.stringify({ grant_type: JWT_BEARER_GRANT, assertion }));
    assert.equal(json.status, 200, JSON.stringify(json.body));
    const other = new TokenEndpoint({ store: fx.store, signingKey: fx.signingKey, tokenUri: 'https://emulator.internal/oauth2' });
    const viaOwnUri = await other.handle(`${FORM}; charset=UTF-8`, form({ grant_type: JWT_BEARER_GRANT, assertion: await grantAssertion(key, { aud: 'https://emulator.internal/oauth2' }) }));
    assert.equal(viaOwnUri.status, 200, JSON.stringify(viaOwnUri.body));
  });

  it('refuses malformed requests with invalid_request or unsupported_grant_type', async () => {
    const assertion = await grantAssertion(key);
    oauthError(await endpoint.handle(FORM, form({ assertion })), 'invalid_request', /grant_type is required/);
    oauthError(await endpoint.handle(FORM, form({ grant_type: 'client_credentials' })), 'unsupported_grant_type', /'client_credentials' is not supported/);
    oauthError(await endpoint.handle(FORM, form({ grant_type: JWT_BEARER_GRANT })), 'invalid_request', /assertion is required/);
    oauthError(await endpoint.handle(FORM, `grant_type=${encodeURIComponent(JWT_BEARER_GRANT)}&assertion=${assertion}&assertion=${assertion}`), 'invalid_request', /assertion is repeated/);
    oauthError(await endpoint.handle('application/json', '{"grant_type":'), 'invalid_request', /not valid JSON/);
    oauthError(await endpoint.handle('application/json', JSON.stringify({ grant_type: JWT_BEARER_GRANT, assertion: 7 })), 'invalid_request', /assertion must be a string/);
    oauthError(await endpoint.handle('text/plain', form({ grant_type: JWT_BEARER_GRANT, assertion })), 'invalid_request', /Content-Type text\/plain is not supported/);
  });

  it('refuses assertions that do not verify, or break the rules, with invalid_grant', async () => {
    const now = epochSeconds();
    const cases: [Promise<string> | string, RegExp][] = [
      ['not-a-jwt', /not a well-formed JWT/],
      [grantAssertion({ ...key, private_key: newRsaPrivateKeyPem() }), /signature of the assertion of ci-runner@.* verifies with no key of ci-runner@/],
      [grantAssertion({ ...key, client_email: 'ghost@demo-project.iam.gserviceaccount.com' }), /ghost@demo-project.iam.gserviceaccount.com has no keys/],
      [grantAssertion(key, { iat: now - 7200, exp: now - 3600 }), /assertion of .* expired at/],
      [grantAssertion(key, { iat: now + 600, exp: now + 1200 }), /not valid yet/],
      [grantAssertion(key, { iat: now, exp: now + 7200 }), /must be short-lived/],
      [grantAssertion(key, { aud: 'https://developerconnect.googleapis.com/' }), /audience must be this server's token URL \(http:\/\/127.0.0.1:8080\/token\)/],
      [grantAssertion(key, { aud: undefined }), /audience must be/],
      [grantAssertion(key, { sub: 'alice@example.com' }), /domain-wide delegation is not emulated/],
    ];
    for (const [assertion, description] of cases) oauthError(await grant(await assertion), 'invalid_grant', description);
    oauthError(await grant(await grantAssertion(key, { scope: undefined })), 'invalid_scope', /no 'scope' claim/);
    oauthError(await grant(await grantAssertion(key, { scope: undefined, target_audience: 'https://run.app' })), 'invalid_request', /ID tokens/);
  });

  it('refuses assertions of a deleted key, and the tokens issued for it stop working', async () => {
    const doomed = await fx.newKey('to-be-deleted');
    const issued = await grant(await grantAssertion(doomed));
    assert.equal(issued.status, 200);
    const header = `Bearer ${String(issued.body.access_token)}`;
    await auth.authenticate(header);
    assert.equal(await fx.store.deleteServiceAccountKey(doomed.private_key_id, new Date()), true);
    oauthError(await grant(await grantAssertion(doomed)), 'invalid_grant', /has no keys that are not deleted/);
    const fresh = new JwtAuthenticator({ store: fx.store, signingKey: fx.signingKey });
    await assert.rejects(async () => fresh.authenticate(header), (error: unknown) => error instanceof ApiError && error.code === Code.UNAUTHENTICATED && /was deleted/.test(error.message));
  });
});
