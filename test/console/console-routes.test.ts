// The console's server side over plain HTTP: the one-time login link, the session cookie, CSRF
// refusals, the security headers, and the event stream's authorization. The browser tests
// (console-browser.test.ts) drive the page itself.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { grantRoles, PARENT, startTestServer, type TestServer } from '../support/server.js';
import { buildBundle } from './browser.js';
import { OWNER, openEvents, startCreate, tokenMinter } from './helpers.js';

describe('console routes under --auth jwt', () => {
  let server: TestServer;
  let mint: (member: string) => Promise<string>;
  let owner: string;

  before(async () => {
    buildBundle();
    server = await startTestServer({ auth: 'jwt', operationDelayMs: 60_000 });
    mint = await tokenMinter(server);
    owner = await mint(OWNER);
  });
  after(() => server.stop());

  const path = () => new URL(server.consoleUrl).pathname + new URL(server.consoleUrl).search;

  test('the login link becomes an HttpOnly SameSite=Strict session for the owner, once', async () => {
    assert.match(server.consoleUrl, /\/console\/login\?code=[A-Za-z0-9_-]{48}$/);
    const wrong = await fetch(`${server.url}/console/login?code=${'A'.repeat(48)}`, { redirect: 'manual' });
    assert.equal(wrong.status, 401);

    const first = await fetch(server.url + path(), { redirect: 'manual' });
    assert.equal(first.status, 303);
    assert.equal(first.headers.get('location'), '/console/');
    const cookie = first.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^devconnect_console=[^;]+; Path=\/console; HttpOnly; SameSite=Strict; Max-Age=43200$/);

    const session = await fetch(`${server.url}/console/api/session`, { headers: { cookie: cookie.split(';')[0] ?? '' } });
    const info = (await session.json()) as { principal?: string; token?: string };
    assert.equal(info.principal, OWNER);
    assert.ok(info.token, 'the session hands the page its token');

    const again = await fetch(server.url + path(), { redirect: 'manual' });
    assert.equal(again.status, 401, 'a spent login link is refused');
    assert.equal(again.headers.get('set-cookie'), null);
  });

  test('without a session the console says who is signed in: nobody', async () => {
    const answer = await fetch(`${server.url}/console/api/session`);
    assert.deepEqual(await answer.json(), { auth: 'jwt' });
    const forged = await fetch(`${server.url}/console/api/session`, { headers: { cookie: 'devconnect_console=not-a-token' } });
    assert.deepEqual(await forged.json(), { auth: 'jwt' });
    assert.match(forged.headers.get('set-cookie') ?? '', /^devconnect_console=; .*Max-Age=0$/, 'a dead session cookie is cleared');
  });

  test('signing in with a pasted token needs a same-origin JSON request and a token the server accepts', async () => {
    const origin = server.url;
    const post = (headers: Record<string, string>, body: unknown) =>
      fetch(`${server.url}/console/api/session`, { method: 'POST', headers, body: JSON.stringify(body) });

    const noOrigin = await post({ 'content-type': 'application/json' }, { token: owner });
    assert.equal(noOrigin.status, 403);
    const otherPort = await post({ 'content-type': 'application/json', origin: 'http://127.0.0.1:1' }, { token: owner });
    assert.equal(otherPort.status, 403, 'another port of the same host is another origin');
    const sameSite = await post({ 'content-type': 'application/json', origin, 'sec-fetch-site': 'same-site' }, { token: owner });
    assert.equal(sameSite.status, 403);
    const form = await post({ 'content-type': 'text/plain', origin }, { token: owner });
    assert.equal(form.status, 403, 'a body an HTML form can send is refused');
    assert.equal(((await form.json()) as { error: { status: string } }).error.status, 'PERMISSION_DENIED');

    const bad = await post({ 'content-type': 'application/json', origin }, { token: 'nonsense' });
    assert.equal(bad.status, 401);
    const good = await post({ 'content-type': 'application/json', origin, 'sec-fetch-site': 'same-origin' }, { token: owner });
    assert.equal(good.status, 200);
    assert.equal(((await good.json()) as { principal: string }).principal, OWNER);
    assert.match(good.headers.get('set-cookie') ?? '', /HttpOnly; SameSite=Strict/);
  });

  test('pages carry a strict Content-Security-Policy and are never framed', async () => {
    const page = await fetch(`${server.url}/console/projects/demo/locations/us-central1/operations`);
    assert.equal(page.status, 200);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/, 'no inline or eval script');
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const html = await page.text();
    assert.doesNotMatch(html, /<script>(?!<)/, 'no inline script');
    assert.match(html, /<script type="module" src="\/console\/assets\/app.js"><\/script>/);
    const script = await fetch(`${server.url}/console/assets/app.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
    // Only the bundle's own files are served from dist/, by name.
    assert.equal((await fetch(`${server.url}/console/assets/%2e%2e%2f%2e%2e%2fpackage.json`)).status, 404);
    assert.equal((await fetch(`${server.url}/console/assets/main.ts`)).status, 404);
  });

  test('the event stream opens only for a caller who may list the operations', async () => {
    const none = await openEvents(server, PARENT, {});
    assert.equal(none.status, 401);
    const stranger = await openEvents(server, PARENT, { authorization: `Bearer ${await mint('user:stranger@example.com')}` });
    assert.equal(stranger.status, 403);
    assert.match(stranger.body, /developerconnect\.operations\.list/);
    const badParent = await openEvents(server, 'projects/demo', { authorization: `Bearer ${owner}` });
    assert.equal(badParent.status, 400);
  });

  test('the event stream sends each change once it is allowed, and stops telling a caller whose access was taken away', async () => {
    const bob = 'user:bob@example.com';
    await grantRoles(server, owner, 'demo', [
      { role: 'roles/owner', members: [OWNER] },
      { role: 'roles/developerconnect.viewer', members: [bob] },
    ]);
    // Bob's stream rides on a session cookie, as the page's does; the owner's on the header.
    const bobs = await openEvents(server, PARENT, { cookie: `devconnect_console=${await mint(bob)}` });
    const owners = await openEvents(server, PARENT, { authorization: `Bearer ${owner}` });
    try {
      assert.equal(bobs.status, 200);
      const seen = await startCreate(server, owner, 'events-one');
      assert.deepEqual(await bobs.next('operation', (d) => d.name === seen), { name: seen, kind: 'created' });

      await grantRoles(server, owner, 'demo', [{ role: 'roles/owner', members: [OWNER] }]);
      const hidden = await startCreate(server, owner, 'events-two');
      await owners.next('operation', (d) => d.name === hidden);
      // Both streams are fed by the same engine event; give Bob's check its turn.
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.deepEqual(
        bobs.received().filter((e) => e.data.name === hidden),
        [],
        'no event about an operation Bob may no longer read',
      );
      const other = await startCreate(server, owner, 'events-elsewhere', 'projects/other/locations/us-central1');
      const later = await startCreate(server, owner, 'events-three');
      await owners.next('operation', (d) => d.name === later);
      assert.ok(!owners.received().some((e) => e.data.name === other), 'a stream carries its own location only');
    } finally {
      bobs.close();
      owners.close();
    }
  });
});

describe('console routes under --auth none', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ auth: 'none' });
  });
  after(() => server.stop());

  test('the console opens directly, as the configured principal', async () => {
    assert.equal(new URL(server.consoleUrl).pathname, '/console/');
    const info = (await (await fetch(`${server.url}/console/api/session`)).json()) as Record<string, unknown>;
    assert.deepEqual(info, { auth: 'none', principal: 'user:dev@localhost' });
    const login = await fetch(`${server.url}/console/login?code=anything`, { redirect: 'manual' });
    assert.equal(login.status, 303);
  });
});
