// The web console in a real browser: Debian's Chromium driven by playwright-core, against a real
// server on a free port. Operations run for a minute (--operation-delay), so they can be watched and
// cancelled. Screenshots of the main pages go to a temporary folder (screenshotDir) to look at.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import { grantRoles, PARENT, startTestServer, type TestServer } from '../support/server.js';
import { buildBundle, launchChromium, screenshotDir, skipReason, watchedPage } from './browser.js';
import { getOperation, OWNER, startCreate, tokenMinter, untilDone } from './helpers.js';

const OPERATIONS = `/console/${PARENT}/operations`;
const VIEWER = 'user:viewer@example.com';

/** Resources for the resource pages: the API's own creates would run for a minute here. */
const FIXTURES = {
  connections: [
    { name: `${PARENT}/connections/shop-github`, githubConfig: { githubApp: 'DEVELOPER_CONNECT' }, labels: { env: 'prod' } },
    // Markup in data the API returns must show as text.
    { name: `${PARENT}/connections/plain-http`, httpConfig: { hostUri: 'http://127.0.0.1:1' }, annotations: { note: '<img src=x onerror="document.title=1">' } },
  ],
  gitRepositoryLinks: [{ name: `${PARENT}/connections/shop-github/gitRepositoryLinks/shop`, cloneUri: 'https://github.com/example/shop.git' }],
  accountConnectors: [{ name: `${PARENT}/accountConnectors/github-oauth`, providerOauthConfig: { systemProviderId: 'GITHUB', scopes: ['repo'] } }],
  insightsConfigs: [{ name: `${PARENT}/insightsConfigs/shop`, appHubApplication: 'projects/demo/locations/us-central1/applications/shop' }],
  deploymentEvents: [
    { name: `${PARENT}/insightsConfigs/shop/deploymentEvents/e1`, state: 'STATE_ACTIVE', deployTime: '2026-11-20T10:00:00Z', runtimeDeploymentUri: 'rev-2' },
  ],
};

describe('the web console in Chromium (--auth jwt)', { skip: skipReason }, () => {
  let server: TestServer;
  let browser: Browser;
  let owner: string;
  let ownerContext: BrowserContext;
  let mint: (member: string) => Promise<string>;
  const shots = screenshotDir();
  // Each test asserts that the pages it opened logged no console errors (watchedPage records them).
  const open = watchedPage;

  before(async () => {
    buildBundle();
    const fixtures = join(tmpdir(), `console-fixtures-${process.pid}.json`);
    writeFileSync(fixtures, JSON.stringify(FIXTURES));
    server = await startTestServer({ auth: 'jwt', operationDelayMs: 60_000, fixturesFile: fixtures });
    mint = await tokenMinter(server);
    owner = await mint(OWNER);
    browser = await launchChromium();
    // The owner signs in the way serve tells them to: by opening the one-time login link.
    ownerContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const { page, problems } = await open(ownerContext);
    await page.goto(server.consoleUrl);
    assert.equal(new URL(page.url()).pathname, '/console/');
    await page.getByText(OWNER).waitFor();
    assert.deepEqual(problems, []);
    await page.close();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('the login link worked once: a second browser is asked to sign in, and the owner cookie is HttpOnly and SameSite=Strict', async () => {
    const [cookie] = await ownerContext.cookies(`${server.url}/console/`);
    assert.equal(cookie?.name, 'devconnect_console');
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, 'Strict');
    assert.equal(cookie?.path, '/console');

    const other = await browser.newContext();
    try {
      const { page, problems } = await open(other);
      const answer = await page.goto(server.consoleUrl);
      assert.equal(answer?.status(), 401);
      await page.getByRole('heading', { name: 'This login link is not valid' }).waitFor();
      await page.getByRole('link', { name: 'Open the console' }).click();
      await page.getByRole('heading', { name: 'Sign in to the console' }).waitFor();
      assert.deepEqual(await other.cookies(server.url), []);
      // The 401 of the spent link is the only failed load, and it is the point of the test.
      assert.deepEqual(problems.filter((p) => !p.includes('401')), []);
    } finally {
      await other.close();
    }
  });

  test('operations are listed, a new one appears without a reload, and Cancel (once confirmed) cancels it', async () => {
    const first = await startCreate(server, owner, 'listed-before');
    const { page, problems } = await open(ownerContext);
    await page.goto(server.url + OPERATIONS);
    const firstRow = page.locator(`tr[data-name="${first}"]`);
    await firstRow.waitFor();
    assert.equal(await firstRow.locator('td[data-label="Verb"]').textContent(), 'create');
    assert.equal(await firstRow.locator('td[data-label="Target"]').textContent(), `${PARENT}/connections/listed-before`);
    await page.locator('.live.on').waitFor();

    // A mark on the document: it survives only if the page is not reloaded.
    await page.evaluate(() => document.body.setAttribute('data-mark', 'kept'));
    const second = await startCreate(server, owner, 'created-after-load');
    const secondRow = page.locator(`tr[data-name="${second}"]`);
    await secondRow.waitFor();
    assert.equal(await page.evaluate(() => document.body.getAttribute('data-mark')), 'kept', 'the row came without a reload');
    assert.equal(await page.locator('tbody tr').first().getAttribute('data-name'), second, 'newest first');
    await page.screenshot({ path: join(shots, 'operations.png'), fullPage: true });

    // Backing out of the confirmation leaves it running.
    await secondRow.getByRole('button', { name: 'Cancel' }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel this operation?' });
    await dialog.waitFor();
    await page.screenshot({ path: join(shots, 'cancel-confirmation.png') });
    await dialog.getByRole('button', { name: 'Keep running' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await getOperation(server, owner, second)).done, undefined);

    await secondRow.getByRole('button', { name: 'Cancel' }).click();
    await dialog.getByRole('button', { name: 'Cancel operation' }).click();
    await secondRow.locator('td.outcome', { hasText: 'CANCELLED' }).waitFor();
    const cancelled = await getOperation(server, owner, second);
    assert.equal(cancelled.error?.code, 1);
    assert.equal(cancelled.metadata?.requestedCancellation, true);
    assert.equal(await secondRow.getByRole('button', { name: 'Cancel' }).count(), 0, 'a done operation has no Cancel');
    assert.equal((await getOperation(server, owner, first)).done, undefined, 'only the one clicked was cancelled');
    await page.screenshot({ path: join(shots, 'operations-after-cancel.png'), fullPage: true });

    // The filters go to the server as AIP-160.
    await page.getByLabel('Status').selectOption('failed');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByText('Filter sent: done = true AND error.code > 0').waitFor();
    await page.locator(`tr[data-name="${second}"]`).waitFor();
    assert.equal(await page.locator(`tr[data-name="${first}"]`).count(), 0);
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('filters and pages go to ListOperations; a bad filter shows the server’s answer; Delete forgets an operation', async () => {
    const names: string[] = [];
    for (let i = 0; i < 26; i++) names.push(await startCreate(server, owner, `paged-${String(i).padStart(2, '0')}`));
    const { page, problems } = await open(ownerContext);
    const target = `${PARENT}/connections/paged-*`;
    await page.goto(`${server.url}${OPERATIONS}?status=running&target=${encodeURIComponent(target)}`);
    await page.getByText(`Filter sent: done = false AND metadata.target = "${target}"`).waitFor();
    await page.locator(`tr[data-name="${names[25]}"]`).waitFor();
    assert.equal(await page.locator('tbody tr').count(), 25);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator(`tr[data-name="${names[0]}"]`).waitFor();
    assert.equal(await page.locator('tbody tr').count(), 1, 'the oldest is alone on page 2');
    await page.getByRole('button', { name: 'Previous' }).click();
    await page.locator(`tr[data-name="${names[25]}"]`).waitFor();

    const row = page.locator(`tr[data-name="${names[25]}"]`);
    await row.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete record' }).click();
    await row.waitFor({ state: 'detached' });
    assert.equal((await fetch(`${server.url}/v1/${names[25]}`, { headers: { authorization: `Bearer ${owner}` } })).status, 404);

    await page.getByLabel('AIP-160 filter').fill('done = maybe');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('.error', { hasText: 'INVALID_ARGUMENT' }).waitFor();
    await page.getByRole('button', { name: 'Retry' }).waitFor();
    // The refused filter was answered 400, which the browser logs; nothing else may be.
    assert.deepEqual(problems.filter((p) => !p.includes('status of 400')), []);
    await page.close();
    for (const name of names.slice(0, 25)) await fetch(`${server.url}/v1/${name}:cancel`, { method: 'POST', headers: { authorization: `Bearer ${owner}` } });
  });

  test('an operation page shows its metadata, its error and raw JSON, and follows it live', async () => {
    const name = await startCreate(server, owner, 'detail-page');
    const { page, problems } = await open(ownerContext);
    await page.goto(`${server.url}/console/${name}`);
    await page.getByText('Running', { exact: true }).waitFor();
    await page.getByRole('heading', { name: 'Raw JSON' }).waitFor();
    // Cancelled through the API, not the page: the page learns it from the event stream.
    const answer = await fetch(`${server.url}/v1/${name}:cancel`, { method: 'POST', headers: { authorization: `Bearer ${owner}` } });
    assert.equal(answer.status, 200);
    await page.getByRole('heading', { name: 'Error' }).waitFor();
    await page.getByText('CANCELLED (1)').waitFor();
    await page.screenshot({ path: join(shots, 'operation.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('a viewer who pasted a token sees no Cancel button, and the server refuses the call anyway', async () => {
    await grantRoles(server, owner, 'demo', [
      { role: 'roles/owner', members: [OWNER] },
      { role: 'roles/developerconnect.viewer', members: [VIEWER] },
    ]);
    const running = await startCreate(server, owner, 'viewer-watches');
    const viewerContext = await browser.newContext({ viewport: { width: 390, height: 844 } });
    try {
      const { page, problems } = await open(viewerContext);
      await page.goto(`${server.url}/console/`);
      await page.getByLabel('Access token').fill(await mint(VIEWER));
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByText(VIEWER).waitFor();

      const permissions = page.waitForResponse((r) => r.url().endsWith(':testIamPermissions'));
      await page.goto(server.url + OPERATIONS);
      assert.deepEqual(((await (await permissions).json()) as { permissions?: string[] }).permissions ?? [], []);
      const row = page.locator(`tr[data-name="${running}"]`);
      await row.waitFor();
      await row.locator('.badge', { hasText: 'Running' }).waitFor();
      assert.equal(await page.getByRole('button', { name: 'Cancel' }).count(), 0);
      assert.equal(await page.getByRole('button', { name: 'Delete' }).count(), 0);
      await page.screenshot({ path: join(shots, 'operations-viewer-narrow.png'), fullPage: true });
      assert.deepEqual(problems, []);

      // The same call the button would make, from the viewer's page with the viewer's session.
      const refused = await page.evaluate(async (name) => {
        const session = (await (await fetch('/console/api/session')).json()) as { token: string };
        const response = await fetch(`/v1/${name}:cancel`, { method: 'POST', headers: { authorization: `Bearer ${session.token}`, 'content-type': 'application/json' }, body: '{}' });
        return { status: response.status, body: (await response.json()) as { error: { status: string; message: string } } };
      }, running);
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error.status, 'PERMISSION_DENIED');
      assert.match(refused.body.error.message, /developerconnect\.operations\.cancel/);
      assert.equal((await getOperation(server, owner, running)).done, undefined);
    } finally {
      await viewerContext.close();
    }
  });

  test('a forged cross-site POST is refused: by the API for want of credentials, by the console for its origin', async () => {
    const target = await startCreate(server, owner, 'forgery-target');
    // Another origin on the same host (another port): the same *site*, so SameSite alone would not stop it.
    const evil = await serveHtml((consoleUrl) => `<!doctype html><html><body>
      <form id="cancel" method="post" action="${consoleUrl}/v1/${target}:cancel" enctype="text/plain" target="one"><input name="{}" value=""></form>
      <form id="logout" method="post" action="${consoleUrl}/console/api/logout" enctype="text/plain" target="two"><input name="x" value="y"></form>
      <iframe name="one"></iframe><iframe name="two"></iframe></body></html>`, server.url);
    try {
      // Not watched: the console's answers refuse to be framed there, which the browser reports as errors.
      const page = await ownerContext.newPage();
      const cancelAnswer = page.waitForResponse((r) => r.url().endsWith(':cancel'));
      const logoutAnswer = page.waitForResponse((r) => r.url().endsWith('/console/api/logout'));
      await page.goto(evil.url);
      await page.evaluate(() => {
        (document.getElementById('cancel') as HTMLFormElement).submit();
        (document.getElementById('logout') as HTMLFormElement).submit();
      });
      assert.equal((await cancelAnswer).status(), 401, 'the REST API takes no cookie: the forged cancel has no credentials');
      assert.equal((await logoutAnswer).status(), 403, 'the console refuses a POST from another origin');
      await page.close();
      assert.equal((await getOperation(server, owner, target)).done, undefined, 'the operation still runs');
      // The owner is still signed in.
      const check = await open(ownerContext);
      await check.page.goto(`${server.url}/console/`);
      await check.page.getByText(OWNER).waitFor();
      assert.deepEqual(check.problems, []);
      await check.page.close();
    } finally {
      await evil.close();
    }
  });

  test('the main pages render without console errors, also on a narrow screen', async () => {
    const { page, problems } = await open(ownerContext);
    const visit = async (path: string, ready: string, shot: string) => {
      await page.goto(server.url + path);
      await page.locator(ready).first().waitFor();
      await page.screenshot({ path: join(shots, `${shot}.png`), fullPage: true });
    };
    await visit('/console/', 'input[name="project"]', 'picker');
    await page.getByLabel('Project id').fill('demo');
    await page.getByRole('button', { name: 'Show locations' }).click();
    await page.getByRole('link', { name: 'us-central1' }).click();
    await page.locator('figure.chart svg').first().waitFor();
    await visit(`/console/${PARENT}/connections`, `tr[data-name="${PARENT}/connections/shop-github"]`, 'connections');
    assert.equal(await page.locator(`tr[data-name="${PARENT}/connections/shop-github"] td[data-label="Provider"]`).textContent(), 'github');
    await visit(`/console/${PARENT}/connections/shop-github`, `tr[data-name="${PARENT}/connections/shop-github/gitRepositoryLinks/shop"]`, 'connection');
    await visit(`/console/${PARENT}/connections/plain-http`, 'h2:text("Raw JSON")', 'connection-http');
    assert.match((await page.locator('pre').last().textContent()) ?? '', /<img src=x onerror=\\"document.title=1\\">/);
    assert.equal(await page.locator('main img').count(), 0, 'markup from the API is never parsed');
    await visit(`/console/${PARENT}/accountConnectors/github-oauth`, 'h2:text("Users")', 'account-connector');
    await visit(`/console/${PARENT}/insightsConfigs/shop`, `tr[data-name="${PARENT}/insightsConfigs/shop/deploymentEvents/e1"]`, 'insights-config');
    await visit('/console/projects/demo/iam', `tr[data-member="${OWNER}"]`, 'iam');

    // Add a binding and remove it again, through setIamPolicy with the etag read.
    await page.getByLabel('Role', { exact: true }).fill('roles/developerconnect.viewer');
    await page.getByLabel('Member', { exact: true }).fill('user:carol@example.com');
    await page.getByRole('button', { name: 'Add' }).click();
    const carol = page.locator('tr[data-member="user:carol@example.com"]');
    await carol.waitFor();
    await carol.getByRole('button', { name: /^Remove/ }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove' }).click();
    await carol.waitFor({ state: 'detached' });

    await page.setViewportSize({ width: 390, height: 844 });
    await visit(OPERATIONS, 'tbody tr', 'operations-narrow');
    assert.deepEqual(problems, []);
    await page.close();
  });

  test('deleting a resource from its page runs its Delete, and a refusal is shown with its reason', async () => {
    const { page, problems } = await open(ownerContext);
    await page.goto(`${server.url}/console/${PARENT}/insightsConfigs`);
    const config = page.locator(`tr[data-name="${PARENT}/insightsConfigs/shop"]`);
    await config.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await page.locator('.notice', { hasText: 'Deleting shop was refused: FAILED_PRECONDITION' }).waitFor();

    await page.goto(`${server.url}/console/${PARENT}/connections`);
    const row = page.locator(`tr[data-name="${PARENT}/connections/plain-http"]`);
    await row.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    const link = page.locator('.notice', { hasText: 'Deleting plain-http: operation' }).getByRole('link');
    const opName = (await link.getAttribute('href'))?.replace('/console/', '') ?? '';
    const op = await getOperation(server, owner, opName);
    assert.equal(op.done, undefined, 'the delete runs (for a minute, here) as an operation');
    await link.click();
    await page.getByRole('heading', { name: /^Operation/ }).waitFor();
    await page.getByText(`${PARENT}/connections/plain-http`, { exact: true }).waitFor();
    // The refusal above was answered 400, which the browser logs; nothing else may be.
    assert.deepEqual(problems.filter((p) => !p.includes('status of 400')), []);
    await page.close();
    // Cancelled, so the connection stays for whoever looks next.
    await fetch(`${server.url}/v1/${opName}:cancel`, { method: 'POST', headers: { authorization: `Bearer ${owner}` } });
    await untilDone(server, owner, opName);
  });

  test('fault rules: a bad rule shows the server’s 400, a rule is added, fires and is counted, and is removed', async () => {
    const { page, problems } = await open(ownerContext);
    await page.goto(server.url + OPERATIONS);
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Fault rules' }).click();
    await page.getByRole('heading', { name: 'Fault rules' }).waitFor();
    await page.getByText('No fault rules').waitFor();
    const rule = page.getByLabel(/^Rule/);
    await rule.fill('{"method": "GetConnection"}');
    await page.getByRole('button', { name: 'Add rule' }).click();
    await page.locator('.error', { hasText: 'INVALID_ARGUMENT' }).waitFor();

    const target = `${PARENT}/connections/faulty`;
    await rule.fill(JSON.stringify({ method: 'GetConnection', resource: target, error: { code: 'UNAVAILABLE', message: '<img src=x>down' } }));
    await page.getByRole('button', { name: 'Add rule' }).click();
    const row = page.locator('tbody tr', { hasText: target });
    await row.waitFor();
    assert.equal(await row.locator('td.fired').textContent(), '0');
    assert.equal(await page.locator('main img').count(), 0, 'the rule is shown as text');
    const hit = await fetch(`${server.url}/v1/${target}`, { headers: { authorization: `Bearer ${owner}` } });
    assert.equal(hit.status, 503);
    await page.getByRole('button', { name: 'Reload' }).click();
    await row.locator('td.fired', { hasText: '1' }).waitFor();
    await page.screenshot({ path: join(shots, 'faults.png'), fullPage: true });

    await row.getByRole('button', { name: /^Remove rule/ }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove' }).click();
    await page.getByText('No fault rules').waitFor();
    const left = (await (await fetch(`${server.url}/emulator/v1/faults`, { headers: { authorization: `Bearer ${owner}` } })).json()) as { faults: unknown[] };
    assert.deepEqual(left.faults, []);
    // The refused rule was answered 400, which the browser logs; nothing else may be.
    assert.deepEqual(problems.filter((p) => !p.includes('status of 400')), []);
    await page.close();

    // Someone who does not own the root policy sees the server's 403 and no controls.
    const viewerContext = await browser.newContext();
    try {
      const viewer = (await open(viewerContext)).page;
      await viewer.goto(`${server.url}/console/`);
      await viewer.getByLabel('Access token').fill(await mint(VIEWER));
      await viewer.getByRole('button', { name: 'Sign in' }).click();
      await viewer.getByText(VIEWER).waitFor();
      await viewer.goto(`${server.url}/console/faults`);
      await viewer.locator('.error', { hasText: 'PERMISSION_DENIED' }).waitFor();
      assert.equal(await viewer.getByRole('button', { name: 'Add rule' }).count(), 0);
    } finally {
      await viewerContext.close();
    }
  });
});

/** A page on another origin (a free port of 127.0.0.1), as an attacker's site would be. */
async function serveHtml(page: (target: string) => string, target: string): Promise<{ url: string; close(): Promise<void> }> {
  const http: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(page(target)));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((resolve) => http.close(() => resolve())) };
}
