/**
 * An AccountConnector's OAuth flow as a person meets it, under --auth jwt: StartOAuth, the server's
 * own authorize page (clicked through as a browser would post its form), FinishOAuth making the
 * caller's User, FetchAccessToken, FetchSelf, ListUsers, DeleteSelf, and the refusals.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { issueToken } from '../../src/cli/token.js';
import { grantRoles, PARENT, startTestServer, type TestServer } from '../support/server.js';

type Json = Record<string, unknown>;
const OWNER = 'user:owner@example.com';
const ALICE = 'user:alice@example.com';
const BOB = 'user:bob@example.com';
const CONNECTOR = `${PARENT}/accountConnectors/github`;

describe('AccountConnector OAuth flow and Users', () => {
  let server: TestServer;
  const tokens = new Map<string, string>();

  async function call(as: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${tokens.get(as)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Json };
  }
  const ok = async (as: string, method: string, path: string, body?: unknown): Promise<Json> => {
    const res = await call(as, method, path, body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };

  /** Follows auth_uri as a browser: GET the page, POST its form with the Authorize button. */
  async function authorize(authUri: string, decision = 'allow', redirectUri?: string): Promise<{ status: number; html: string; location: string | null }> {
    const page = await fetch(authUri);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    const form = new URLSearchParams();
    for (const [, name, value] of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) form.set(name!, value!.replaceAll('&amp;', '&'));
    if (redirectUri) form.set('redirect_uri', redirectUri);
    form.set('decision', decision);
    const posted = await fetch(new URL('/oauth/authorize', server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
      redirect: 'manual',
    });
    return { status: posted.status, html: await posted.text(), location: posted.headers.get('location') };
  }
  const codeFrom = (html: string) => /<code id="code">([^<]+)<\/code>/.exec(html)?.[1] ?? '';

  before(async () => {
    server = await startTestServer({ auth: 'jwt', owner: OWNER });
    for (const member of [OWNER, ALICE, BOB]) tokens.set(member, await issueToken({ dataDir: server.dataDir, principal: member }));
    await grantRoles(server, tokens.get(OWNER)!, 'demo', [
      { role: 'roles/owner', members: [OWNER] },
      { role: 'roles/developerconnect.oauthAdmin', members: [ALICE, BOB] },
    ]);
    const made = await ok(OWNER, 'POST', `/v1/${PARENT}/accountConnectors?accountConnectorId=github`, { providerOauthConfig: { systemProviderId: 'GITHUB', scopes: ['repo', 'read:user'] } });
    assert.equal(made.done, true);
  });
  after(() => server?.stop());

  test('StartOAuth → authorize page → FinishOAuth makes the caller’s User; FetchAccessToken, FetchSelf, ListUsers see it', async () => {
    const start = await ok(ALICE, 'GET', `/v1/${CONNECTOR}/users:startOAuthFlow`);
    assert.equal(start.systemProviderId, 'GITHUB');
    assert.equal(start.codeChallengeMethod, 'S256');
    assert.match(String(start.codeChallenge), /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(start.scopes, ['repo', 'read:user']);
    const authUri = new URL(String(start.authUri));
    assert.equal(authUri.origin, server.url);
    assert.equal(authUri.searchParams.get('state'), start.ticket);
    assert.equal(authUri.searchParams.get('code_challenge'), start.codeChallenge);

    const granted = await authorize(authUri.href);
    assert.equal(granted.status, 200);
    const code = codeFrom(granted.html);
    assert.ok(code.length > 20, granted.html);

    // Bob cannot finish Alice's flow.
    const stolen = await ok(BOB, 'GET', `/v1/${CONNECTOR}/users:finishOAuthFlow?oauthParams.code=${encodeURIComponent(code)}&oauthParams.ticket=${encodeURIComponent(String(start.ticket))}`);
    assert.equal((stolen.exchangeError as Json).code, 'invalid_request');

    const finished = await ok(ALICE, 'GET', `/v1/${CONNECTOR}/users:finishOAuthFlow?oauthParams.code=${encodeURIComponent(code)}&oauthParams.ticket=${encodeURIComponent(String(start.ticket))}`);
    assert.deepEqual(finished, {}, 'no exchange_error');

    const self = await ok(ALICE, 'GET', `/v1/${CONNECTOR}/users:fetchSelf`);
    assert.match(String(self.name), new RegExp(`^${CONNECTOR}/users/u[0-9a-f]{20}$`));
    assert.equal(self.displayName, 'alice@example.com');
    assert.ok(self.createTime);
    assert.equal(self.lastTokenRequestTime, undefined);

    const token = await ok(ALICE, 'POST', `/v1/${CONNECTOR}/users:fetchAccessToken`, {});
    assert.deepEqual(token.scopes, ['repo', 'read:user']);
    assert.ok(String(token.token).length > 20);
    const expiresIn = Date.parse(String(token.expirationTime)) - Date.now();
    assert.ok(expiresIn > 3_500_000 && expiresIn <= 3_600_000);
    assert.ok((await ok(ALICE, 'GET', `/v1/${CONNECTOR}/users:fetchSelf`)).lastTokenRequestTime, 'last_token_request_time is updated');

    const listed = await ok(OWNER, 'GET', `/v1/${CONNECTOR}/users`);
    assert.deepEqual((listed.users as Json[]).map((u) => u.name), [self.name]);
    const bobSelf = await call(BOB, 'GET', `/v1/${CONNECTOR}/users:fetchSelf`);
    assert.equal(bobSelf.status, 404);
    assert.equal((await call(BOB, 'POST', `/v1/${CONNECTOR}/users:fetchAccessToken`, {})).status, 404);
  });

  test('bad codes and tickets are exchange_error, not a User', async () => {
    const start = await ok(BOB, 'GET', `/v1/${CONNECTOR}/users:startOAuthFlow`);
    const finish = (code: string, ticket: string) =>
      ok(BOB, 'GET', `/v1/${CONNECTOR}/users:finishOAuthFlow?oauthParams.code=${encodeURIComponent(code)}&oauthParams.ticket=${encodeURIComponent(ticket)}`);
    assert.equal(((await finish('made-up', String(start.ticket))).exchangeError as Json).code, 'invalid_grant');
    assert.equal(((await finish('made-up', 'made-up')).exchangeError as Json).code, 'invalid_request');
    const other = await ok(BOB, 'GET', `/v1/${CONNECTOR}/users:startOAuthFlow`);
    const otherCode = codeFrom((await authorize(String(other.authUri))).html);
    const crossed = await finish(otherCode, String(start.ticket));
    assert.equal((crossed.exchangeError as Json).code, 'invalid_grant', 'a code of another flow');
    const denied = await authorize(String(start.authUri), 'deny');
    assert.equal(codeFrom(denied.html), '');
    assert.equal((await call(BOB, 'GET', `/v1/${CONNECTOR}/users:fetchSelf`)).status, 404);
  });

  test('the authorize page redirects to a loopback redirect_uri only, with code and state', async () => {
    const start = await ok(BOB, 'GET', `/v1/${CONNECTOR}/users:startOAuthFlow`);
    const redirected = await authorize(String(start.authUri), 'allow', 'http://127.0.0.1:9/callback');
    assert.equal(redirected.status, 303);
    const location = new URL(redirected.location ?? '');
    assert.equal(location.searchParams.get('state'), start.ticket);
    const finished = await ok(BOB, 'GET', `/v1/${CONNECTOR}/users:finishOAuthFlow?oauthParams.code=${encodeURIComponent(location.searchParams.get('code') ?? '')}&oauthParams.ticket=${encodeURIComponent(String(start.ticket))}`);
    assert.deepEqual(finished, {});
    const evil = await authorize(String(start.authUri), 'allow', 'https://evil.example.com/steal');
    assert.equal(evil.status, 400);
    assert.equal(evil.location, null);
  });

  test('DeleteSelf deletes the caller’s User; a force delete of the connector takes the rest', async () => {
    const self = await ok(BOB, 'GET', `/v1/${CONNECTOR}/users:fetchSelf`);
    const op = await ok(BOB, 'DELETE', `/v1/${CONNECTOR}/users:deleteSelf`);
    assert.equal(op.done, true, JSON.stringify(op));
    assert.equal((op.metadata as Json).target, self.name);
    assert.equal((await call(BOB, 'GET', `/v1/${CONNECTOR}/users:fetchSelf`)).status, 404);

    const blocked = await call(OWNER, 'DELETE', `/v1/${CONNECTOR}`);
    assert.equal(blocked.status, 400, 'Alice’s User is still there');
    assert.equal((blocked.body.error as Json).status, 'FAILED_PRECONDITION');
    assert.equal((await ok(OWNER, 'DELETE', `/v1/${CONNECTOR}?force=true`)).done, true);
    assert.equal((await call(OWNER, 'GET', `/v1/${CONNECTOR}/users`)).status, 200);
    assert.deepEqual((await ok(OWNER, 'GET', `/v1/${CONNECTOR}/users`)).users, undefined, 'the Users went with it');
  });

  test("changing a connector's scopes deletes its Users (they re-authorize); other updates keep them", async () => {
    const other = `${PARENT}/accountConnectors/gitlab`;
    await ok(OWNER, 'POST', `/v1/${PARENT}/accountConnectors?accountConnectorId=gitlab`, { providerOauthConfig: { systemProviderId: 'GITLAB', scopes: ['api'] } });
    const start = await ok(ALICE, 'GET', `/v1/${other}/users:startOAuthFlow`);
    const code = codeFrom((await authorize(String(start.authUri))).html);
    await ok(ALICE, 'GET', `/v1/${other}/users:finishOAuthFlow?oauthParams.code=${encodeURIComponent(code)}&oauthParams.ticket=${encodeURIComponent(String(start.ticket))}`);
    assert.equal((await call(ALICE, 'GET', `/v1/${other}/users:fetchSelf`)).status, 200);

    assert.equal((await ok(OWNER, 'PATCH', `/v1/${other}?updateMask=labels`, { labels: { team: 'a' } })).done, true);
    assert.equal((await call(ALICE, 'GET', `/v1/${other}/users:fetchSelf`)).status, 200, 'a label changes nothing for the Users');

    const rescoped = await ok(OWNER, 'PATCH', `/v1/${other}?updateMask=providerOauthConfig.scopes`, { providerOauthConfig: { scopes: ['api', 'read_user'] } });
    assert.equal(rescoped.done, true, JSON.stringify(rescoped));
    assert.deepEqual(((rescoped.response as Json).providerOauthConfig as Json).scopes, ['api', 'read_user']);
    assert.equal((await call(ALICE, 'GET', `/v1/${other}/users:fetchSelf`)).status, 404);
    assert.equal((await ok(OWNER, 'GET', `/v1/${other}/users`)).users, undefined);
    assert.equal((await ok(OWNER, 'GET', `/v1/${other}`)).name, other, 'the connector itself stays');
  });
});
