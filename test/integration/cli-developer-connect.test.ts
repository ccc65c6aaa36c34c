/**
 * `devconnect-emulator developer-connect …`, the commands gcloud 528 lacks, run as processes (the built
 * CLI) against a real server: FetchGitRefs on a link to a real git host, the OAuth flow making a User,
 * Users listed and deleted (waiting, or --async), DeploymentEvents from fixtures, every format (by
 * default a table for lists and YAML for one message, as gcloud), and errors that name the method and
 * the resource and exit non-zero; one part under --auth jwt.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { issueToken } from '../../src/cli/token.js';
import { startGitHost, type GitHost } from '../support/git-host.js';
import { buildOnce } from '../support/server-process.js';
import { PARENT, rest, startTestServer, untilDone, type TestServer } from '../support/server.js';

type Json = Record<string, unknown>;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const AT = ['--project', 'demo', '--location', 'us-central1'];
const PASSWORD_VERSION = 'projects/demo/secrets/git-password/versions/1';
const CONFIG = `${PARENT}/insightsConfigs/shop`;
const GITHUB = `${PARENT}/accountConnectors/github`;
const GITLAB = `${PARENT}/accountConnectors/gitlab`;
const LINK = `${PARENT}/connections/git-host/gitRepositoryLinks/shop`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
const show = (run: Run) => `exit ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;

/** `devconnect-emulator developer-connect ARGS…` from a shell without DEVCONNECT_* or CLOUDSDK_CORE_PROJECT set, unless `env` sets them. */
function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !['DEVCONNECT_TOKEN', 'DEVCONNECT_SERVER', 'CLOUDSDK_CORE_PROJECT'].includes(name)));
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'developer-connect', ...args], { cwd: ROOT, env: { ...inherited, ...env }, timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}
async function succeeds(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const run = await cli(args, env);
  assert.equal(run.code, 0, show(run));
  return run;
}
/** The command failed with a non-zero exit, one `devconnect-emulator: …` line matching `message`, and printed nothing on stdout. */
async function fails(args: string[], message: RegExp, env: Record<string, string> = {}): Promise<void> {
  const run = await cli(args, env);
  assert.equal(run.code, 1, show(run));
  assert.match(run.stderr, message, show(run));
  assert.equal(run.stdout, '', show(run));
}
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Follows StartOAuth's auth_uri as a browser: the server's authorize page, its form posted with Authorize; returns the code it shows. */
async function authorize(server: TestServer, authUri: string): Promise<string> {
  const page = await fetch(authUri);
  assert.equal(page.status, 200);
  const form = new URLSearchParams();
  for (const [, name, value] of (await page.text()).matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) form.set(name!, value!.replaceAll('&amp;', '&'));
  form.set('decision', 'allow');
  const posted = await fetch(new URL('/oauth/authorize', server.url), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
  const code = /<code id="code">([^<]+)<\/code>/.exec(await posted.text())?.[1];
  assert.ok(code, 'the authorize page issued a code');
  return code;
}

/** The whole OAuth flow through the CLI: start-oauth-flow, the authorize page, finish-oauth-flow. */
async function connectAccount(server: TestServer, connector: string, env: Record<string, string> = {}): Promise<void> {
  const started = JSON.parse((await succeeds(['account-connectors', 'users', 'start-oauth-flow', '--account-connector', connector, '--server', server.url, '--format', 'json'], env)).stdout) as Json;
  const code = await authorize(server, String(started.authUri));
  const finished = await succeeds(['account-connectors', 'users', 'finish-oauth-flow', '--account-connector', connector, '--code', code, '--ticket', String(started.ticket), '--server', server.url], env);
  assert.match(finished.stderr, new RegExp(`Finished the OAuth flow of account connector \\[${escape(connector)}\\]`));
}

describe('devconnect-emulator developer-connect under --auth none', () => {
  let host: GitHost;
  let server: TestServer;
  let dir: string;
  const at = () => [...AT, '--server', server.url];
  const ok = async (method: string, path: string, body?: unknown): Promise<Json> => {
    const res = await rest(server.url, method, path, body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };

  before(async () => {
    buildOnce();
    host = await startGitHost({ basicAuth: { username: 'git-user', password: 'host-secret' } });
    host.createRepository('shop');
    dir = mkdtempSync(join(tmpdir(), 'cli-developer-connect-'));
    writeFileSync(join(dir, 'secrets.json'), JSON.stringify({ [PASSWORD_VERSION]: 'host-secret' }));
    const event = (id: string, state: string, deployTime: string, uri: string) => ({ name: `${CONFIG}/deploymentEvents/${id}`, state, deployTime, runtimeDeploymentUri: uri });
    writeFileSync(
      join(dir, 'fixtures.json'),
      JSON.stringify({
        insightsConfigs: [{ name: CONFIG, appHubApplication: `${PARENT}/applications/shop` }],
        deploymentEvents: [event('e1', 'STATE_INACTIVE', '2026-11-01T10:00:00Z', 'rev-1'), event('e2', 'STATE_ACTIVE', '2026-11-20T10:00:00Z', 'rev-2')],
      }),
    );
    server = await startTestServer({ secretsFile: join(dir, 'secrets.json'), fixturesFile: join(dir, 'fixtures.json') });
    await ok('POST', `/v1/${PARENT}/connections?connectionId=git-host`, {
      httpConfig: { hostUri: host.url, basicAuthentication: { username: 'git-user', passwordSecretVersion: PASSWORD_VERSION } },
    });
    await ok('POST', `/v1/${PARENT}/connections/git-host/gitRepositoryLinks?gitRepositoryLinkId=shop`, { cloneUri: `${host.url}/shop.git` });
    await ok('POST', `/v1/${PARENT}/connections?connectionId=gh`, { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } });
    for (const [id, provider] of [['github', 'GITHUB'], ['gitlab', 'GITLAB']]) {
      await ok('POST', `/v1/${PARENT}/accountConnectors?accountConnectorId=${id}`, { providerOauthConfig: { systemProviderId: provider, scopes: ['repo', 'read:user'] } });
    }
  });
  after(async () => {
    await server?.stop();
    await host?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('connections git-repository-links fetch-git-refs reads the link’s host: a table by default, JSON, YAML, pages followed, --limit', async () => {
    const branches = await succeeds(['connections', 'git-repository-links', 'fetch-git-refs', 'shop', '--connection', 'git-host', '--ref-type', 'branch', ...at()]);
    assert.equal(branches.stdout, 'REF_NAME\nrefs/heads/dev\nrefs/heads/main\n');
    // A full name needs neither --project nor --location.
    const tags = await succeeds(['connections', 'git-repository-links', 'fetch-git-refs', LINK, '--ref-type', 'tag', '--format', 'json', '--server', server.url]);
    assert.deepEqual(JSON.parse(tags.stdout), ['refs/tags/v1.0']);
    const paged = await succeeds(['connections', 'git-repository-links', 'fetch-git-refs', 'shop', '--connection', `${PARENT}/connections/git-host`, '--ref-type', 'branch', '--page-size', '1', '--format', 'yaml', '--server', server.url]);
    assert.deepEqual(parseAllDocuments(paged.stdout).map((d) => d.toJSON() as unknown), ['refs/heads/dev', 'refs/heads/main'], 'both pages of one ref each');
    const limited = await succeeds(['connections', 'git-repository-links', 'fetch-git-refs', 'shop', '--connection', 'git-host', '--ref-type', 'branch', '--limit', '1', '--format', 'json', ...at()]);
    assert.deepEqual(JSON.parse(limited.stdout), ['refs/heads/dev']);
  });

  test('errors name the method and the resource, carry the server’s message and exit 1', async () => {
    await fails(
      ['connections', 'git-repository-links', 'fetch-git-refs', 'missing', '--connection', 'git-host', '--ref-type', 'tag', ...at()],
      new RegExp(`^devconnect-emulator: FetchGitRefs ${escape(PARENT)}/connections/git-host/gitRepositoryLinks/missing: NOT_FOUND: GitRepositoryLink '${escape(PARENT)}/connections/git-host/gitRepositoryLinks/missing' was not found\\.\\n$`),
    );
    await fails(
      ['insights-configs', 'deployment-events', 'describe', 'nope', '--insights-config', 'shop', ...at()],
      new RegExp(`GetDeploymentEvent ${escape(CONFIG)}/deploymentEvents/nope: NOT_FOUND: .*'${escape(CONFIG)}/deploymentEvents/nope'`),
    );
    await fails(['account-connectors', 'users', 'fetch-self', '--account-connector', 'absent', ...at()], new RegExp(`FetchSelf ${escape(PARENT)}/accountConnectors/absent: NOT_FOUND: AccountConnector`));
    await fails(['account-connectors', 'users', 'list', '--account-connector', 'github', '--project', 'demo', '--server', server.url], /ListUsers: --location is required, unless the full name is given \(projects\/PROJECT\/locations\/LOCATION\/accountConnectors\/ACCOUNT_CONNECTOR\)/);
    await fails(['connections', 'fetch-github-installations', 'gh', ...AT, '--server', 'http://127.0.0.1:9'], new RegExp(`FetchGitHubInstallations ${escape(PARENT)}/connections/gh: cannot reach http://127\\.0\\.0\\.1:9`));
  });

  test('fetch-linkable-git-repositories and fetch-github-installations: the server’s FAILED_PRECONDITION, by kind of connection', async () => {
    await fails(['connections', 'fetch-linkable-git-repositories', 'git-host', ...at()], new RegExp(`FetchLinkableGitRepositories ${escape(PARENT)}/connections/git-host: FAILED_PRECONDITION: .*generic HTTP git host`));
    await fails(['connections', 'fetch-linkable-git-repositories', 'gh', ...at()], /FetchLinkableGitRepositories .*\/connections\/gh: FAILED_PRECONDITION: .*would be read from github\.com/);
    await fails(['connections', 'fetch-github-installations', 'gh', ...at()], /FetchGitHubInstallations .*\/connections\/gh: FAILED_PRECONDITION: .*would be read from github\.com/);
    await fails(['connections', 'fetch-github-installations', 'git-host', ...at()], /FetchGitHubInstallations .*\/connections\/git-host: FAILED_PRECONDITION: .*is not a GitHub connection/);
  });

  test('the OAuth flow makes the caller’s User; fetch-self, fetch-access-token and users list show it in each format', async () => {
    await connectAccount(server, GITHUB);
    const bad = await cli(['account-connectors', 'users', 'finish-oauth-flow', '--account-connector', 'github', '--code', 'made-up', '--ticket', 'made-up', ...at()]);
    assert.equal(bad.code, 1, show(bad));
    assert.match(bad.stderr, new RegExp(`FinishOAuth ${escape(GITHUB)}: the OAuth exchange failed: invalid_request: `));

    const self = parse((await succeeds(['account-connectors', 'users', 'fetch-self', '--account-connector', 'github', '--format', 'yaml', ...at()])).stdout) as Json;
    assert.match(String(self.name), new RegExp(`^${escape(GITHUB)}/users/u[0-9a-f]{20}$`));
    assert.equal(self.displayName, 'dev@localhost');

    const token = JSON.parse((await succeeds(['account-connectors', 'users', 'fetch-access-token', '--account-connector', GITHUB, '--format', 'json', '--server', server.url])).stdout) as Json;
    assert.deepEqual(token.scopes, ['repo', 'read:user']);
    assert.ok(String(token.token).length > 20);
    // One message: YAML by default, as gcloud prints a method's single answer.
    const tokenYaml = parse((await succeeds(['account-connectors', 'users', 'fetch-access-token', '--account-connector', 'github', ...at()])).stdout) as Json;
    assert.deepEqual(tokenYaml.scopes, ['repo', 'read:user']);
    const tokenTable = (await succeeds(['account-connectors', 'users', 'fetch-access-token', '--account-connector', 'github', '--format', 'table', ...at()])).stdout.split('\n');
    assert.match(tokenTable[0] ?? '', /^TOKEN +EXPIRATION_TIME +SCOPES$/);
    assert.match(tokenTable[1] ?? '', / repo,read:user$/);

    // A list: a table by default.
    const table = (await succeeds(['account-connectors', 'users', 'list', '--account-connector', 'github', ...at()])).stdout.split('\n');
    assert.match(table[0] ?? '', /^NAME +DISPLAY_NAME +CREATE_TIME +LAST_TOKEN_REQUEST_TIME$/);
    assert.match(table[1] ?? '', new RegExp(`^${escape(String(self.name))} +dev@localhost +\\S+Z +\\S+Z$`), 'fetch-access-token set last_token_request_time');
    assert.equal(table.length, 3);
    const listed = JSON.parse((await succeeds(['account-connectors', 'users', 'list', '--account-connector', 'github', '--format', 'json', ...at()])).stdout) as Json[];
    assert.deepEqual(listed.map((u) => u.name), [self.name]);
    const none = await succeeds(['account-connectors', 'users', 'list', '--account-connector', 'github', '--filter', 'display_name = "nobody"', ...at()]);
    assert.equal(none.stdout, '');
    assert.equal(none.stderr, 'Listed 0 items.\n');
  });

  test('users delete waits for the operation with a progress line; --async returns it at once; a failed operation fails the command', async () => {
    await connectAccount(server, GITLAB);
    const user = (await ok('GET', `/v1/${GITLAB}/users:fetchSelf`)).name as string;
    const rule = (r: Json) => ok('POST', '/emulator/v1/faults', { operation: { verb: 'delete', target: `${PARENT}/accountConnectors/*/users/*` }, times: 1, ...r });

    // --async: the operation is still running when the command returns (it runs for 60 s unless cancelled).
    await rule({ runFor: '60s' });
    const started = await succeeds(['account-connectors', 'users', 'delete', user.split('/').at(-1)!, '--account-connector', 'gitlab', '--async', '--format', 'json', ...at()]);
    const operation = JSON.parse(started.stdout) as Json;
    assert.notEqual(operation.done, true);
    assert.equal(started.stderr, `Delete request issued for: [${user}]\nCheck operation [${String(operation.name)}] for status.\n`);
    assert.equal((await ok('GET', `/v1/${GITLAB}/users`)).users !== undefined, true, 'the User is there while the operation runs');
    await ok('POST', `/v1/${String(operation.name)}:cancel`, {});
    assert.equal(((await untilDone(server.url, String(operation.name))).error as Json).code, 1);

    // A failed operation: the command says which, with its error, and exits 1.
    await rule({ fail: { code: 'ABORTED', message: 'The backend lost the request.', after: '500ms' } });
    const failed = await cli(['account-connectors', 'users', 'delete', user, '--server', server.url]);
    assert.equal(failed.code, 1, show(failed));
    assert.match(failed.stderr, /Waiting for operation \[[^\]]+\] to complete\.\.\.failed\.\n/);
    assert.match(failed.stderr, new RegExp(`DeleteUser ${escape(user)}: operation ${escape(PARENT)}/operations/\\S+ failed: ABORTED: The backend lost the request\\.`));

    // Waiting: a full name, the progress line, then what was deleted.
    await rule({ runFor: '1s' });
    const waited = await succeeds(['account-connectors', 'users', 'delete', user, '--server', server.url]);
    assert.match(waited.stderr, new RegExp(`^Delete request issued for: \\[${escape(user)}\\]\\nWaiting for operation \\[${escape(PARENT)}/operations/\\S+\\] to complete\\.\\.\\.done\\.\\nDeleted user \\[${escape(user)}\\]\\.\\n$`));
    assert.equal(waited.stdout, '');
    assert.equal((await ok('GET', `/v1/${GITLAB}/users`)).users, undefined, 'the User is gone');
  });

  test('users delete-self deletes the caller’s own User; fetch-self then fails NOT_FOUND', async () => {
    const user = (await ok('GET', `/v1/${GITHUB}/users:fetchSelf`)).name as string;
    const deleted = await succeeds(['account-connectors', 'users', 'delete-self', '--account-connector', 'github', ...at()]);
    assert.equal(deleted.stderr, `Delete request issued for: [${GITHUB}]\nDeleted user [${user}].\n`, 'done at once: no waiting line');
    await fails(['account-connectors', 'users', 'fetch-self', '--account-connector', 'github', ...at()], new RegExp(`FetchSelf ${escape(GITHUB)}: NOT_FOUND: user:dev@localhost has no User`));
  });

  test('insights-configs deployment-events list and describe read the fixture’s events', async () => {
    const table = await succeeds(['insights-configs', 'deployment-events', 'list', '--insights-config', 'shop', ...at()]);
    const width = `${CONFIG}/deploymentEvents/e1`.length;
    assert.equal(
      table.stdout,
      [
        `${'NAME'.padEnd(width)}  STATE           DEPLOY_TIME           RUNTIME_DEPLOYMENT_URI`,
        `${CONFIG}/deploymentEvents/e1  STATE_INACTIVE  2026-11-01T10:00:00Z  rev-1`,
        `${CONFIG}/deploymentEvents/e2  STATE_ACTIVE    2026-11-20T10:00:00Z  rev-2`,
        '',
      ].join('\n'),
    );
    const active = JSON.parse((await succeeds(['insights-configs', 'deployment-events', 'list', '--insights-config', CONFIG, '--filter', 'state = STATE_ACTIVE', '--format', 'json', '--server', server.url])).stdout) as Json[];
    assert.deepEqual(active.map((e) => e.name), [`${CONFIG}/deploymentEvents/e2`]);
    const yaml = (await succeeds(['insights-configs', 'deployment-events', 'list', '--insights-config', 'shop', '--format', 'yaml', ...at()])).stdout;
    assert.deepEqual(parseAllDocuments(yaml).map((d) => (d.toJSON() as Json).runtimeDeploymentUri), ['rev-1', 'rev-2']);
    // describe prints YAML by default, as gcloud's describe commands do; --format table and json when asked.
    const one = parse((await succeeds(['insights-configs', 'deployment-events', 'describe', 'e1', '--insights-config', 'shop', ...at()])).stdout) as Json;
    assert.equal(one.state, 'STATE_INACTIVE');
    assert.ok(one.createTime, 'the whole event, server-kept fields included');
    const oneTable = (await succeeds(['insights-configs', 'deployment-events', 'describe', 'e1', '--insights-config', 'shop', '--format', 'table', ...at()])).stdout;
    assert.match(oneTable, new RegExp(`^NAME +STATE +DEPLOY_TIME +RUNTIME_DEPLOYMENT_URI\\n${escape(CONFIG)}/deploymentEvents/e1 +STATE_INACTIVE +2026-11-01T10:00:00Z +rev-1\\n$`));
    assert.deepEqual(JSON.parse((await succeeds(['insights-configs', 'deployment-events', 'describe', `${CONFIG}/deploymentEvents/e1`, '--format', 'json', '--server', server.url])).stdout), one);
  });
});

describe('developer-connect fetch-linkable-git-repositories and fetch-github-installations print what a provider lists', () => {
  // The emulator never lists a provider's repositories or installations (it answers FAILED_PRECONDITION,
  // above); the cloud does. A few lines of node:http stand in for it, to check the pages the command
  // follows and what it prints.
  let provider: Server;
  let url: string;
  const seen: string[] = [];
  before(async () => {
    provider = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      const path = new URL(req.url ?? '/', 'http://x');
      const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (path.pathname.endsWith(':fetchLinkableGitRepositories')) {
        if (path.searchParams.get('pageToken') === 'p2') return json({ linkableGitRepositories: [{ cloneUri: 'https://github.com/acme/web.git' }] });
        return json({ linkableGitRepositories: [{ cloneUri: 'https://github.com/acme/api.git' }], nextPageToken: 'p2' });
      }
      if (path.pathname.endsWith(':fetchGitHubInstallations')) return json({ installations: [{ id: '123', name: 'acme', type: 'organization' }] });
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(provider.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => provider.close(() => resolve())));

  test('every page, as a table, with the token from DEVCONNECT_SERVER’s caller', async () => {
    const env = { DEVCONNECT_SERVER: url, DEVCONNECT_TOKEN: 'a-token' };
    const repositories = await succeeds(['connections', 'fetch-linkable-git-repositories', 'gh', ...AT, '--page-size', '1'], env);
    assert.equal(repositories.stdout, 'CLONE_URI\nhttps://github.com/acme/api.git\nhttps://github.com/acme/web.git\n');
    assert.deepEqual(seen, [
      `GET /v1/${PARENT}/connections/gh:fetchLinkableGitRepositories?pageSize=1 Bearer a-token`,
      `GET /v1/${PARENT}/connections/gh:fetchLinkableGitRepositories?pageSize=1&pageToken=p2 Bearer a-token`,
    ]);
    const installations = await succeeds(['connections', 'fetch-github-installations', 'gh', ...AT], env);
    assert.equal(installations.stdout, 'ID   NAME  TYPE\n123  acme  organization\n');
  });
});

describe('devconnect-emulator developer-connect under --auth jwt', () => {
  const OWNER = 'user:owner@example.com';
  let server: TestServer;
  let token: string;
  before(async () => {
    buildOnce();
    server = await startTestServer({ auth: 'jwt', owner: OWNER });
    token = await issueToken({ dataDir: server.dataDir, principal: OWNER });
    const made = await fetch(`${server.url}/v1/${PARENT}/accountConnectors?accountConnectorId=github`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ providerOauthConfig: { systemProviderId: 'GITHUB', scopes: ['repo'] } }),
    });
    assert.equal(made.status, 200, await made.text());
  });
  after(() => server?.stop());

  test('--token or DEVCONNECT_TOKEN authenticates the caller, whose User the flow makes; without one the call is UNAUTHENTICATED', async () => {
    await fails(['account-connectors', 'users', 'list', '--account-connector', 'github', ...AT, '--server', server.url], new RegExp(`ListUsers ${escape(GITHUB)}: UNAUTHENTICATED: `));
    await connectAccount(server, GITHUB, { DEVCONNECT_TOKEN: token });
    const listed = JSON.parse((await succeeds(['account-connectors', 'users', 'list', '--account-connector', 'github', ...AT, '--server', server.url, '--token', token, '--format', 'json'])).stdout) as Json[];
    assert.deepEqual(listed.map((u) => u.displayName), ['owner@example.com']);
    const self = await succeeds(['account-connectors', 'users', 'fetch-self', '--account-connector', GITHUB], { DEVCONNECT_TOKEN: token, DEVCONNECT_SERVER: server.url });
    assert.equal((parse(self.stdout) as Json).displayName, 'owner@example.com', 'one message: YAML by default');
  });
});
