/**
 * FetchLinkableGitRepositories and FetchGitHubInstallations against hosts' own APIs: GitLab's
 * projects API, Bitbucket Data Center's repos API and a GitHub Enterprise app's installation APIs,
 * served on loopback by a few lines of node:http that check the credential each request carries and
 * answer in pages smaller than asked for, as a host capping its page size would. Each behaviour is
 * checked over REST and over gRPC.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { JsonObject } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { jwtVerify } from 'jose';
import { DeveloperConnect } from '../../src/gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { Code, grpcCall, restCall, type Outcome, type Transport } from '../support/auth-matrix-helpers.js';
import { PARENT, rest, startTestServer, type TestServer } from '../support/server.js';
import { freePort } from '../support/ports.js';

const TRANSPORTS: Transport[] = ['rest', 'grpc'];
const APP_ID = 42;
const secretVersion = (id: string) => `projects/demo/secrets/${id}/versions/1`;
const userToken = (id: string) => ({ userTokenSecretVersion: secretVersion(id) });

/** A host that pages: at most `cap` items a page, whatever was asked. */
const GITLAB_CAP = 3;
const BITBUCKET_CAP = 3;
const GITHUB_CAP = 3;
const GITLAB_IDS = [3, 5, 8, 13, 21];
const BITBUCKET_SLUGS = ['r0', 'r1', 'ssh-only', 'r3', 'r4'];
const GITHUB_REPOS = ['g1', 'g2', 'g3', 'g4', 'g5'];
const INSTALLATIONS = [
  { id: 7, account: { login: 'acme', type: 'Organization' } },
  { id: 9, account: { login: 'octo', type: 'User' } },
];

/** GitLab's, Bitbucket Data Center's and GitHub Enterprise's APIs on one loopback port, as far as these methods use them. */
class FakeHosts {
  readonly requests: { path: string; headers: IncomingMessage['headers'] }[] = [];
  private readonly server: Server;
  url = '';

  constructor(private readonly appKey: KeyObject) {
    this.server = createHttpServer((req, res) => {
      this.serve(req, res).catch((error: unknown) => json(res, 500, { message: String(error) }));
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const q = url.searchParams;
    this.requests.push({ path: `${url.pathname}${url.search}`, headers: req.headers });
    if (url.pathname.startsWith('/not-an-api/')) {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>Welcome to nginx!</html>');
    } else if (url.pathname === '/api/v4/projects') {
      if (req.headers['private-token'] !== 'glpat-read') return json(res, 401, { message: '401 Unauthorized' });
      for (const [name, value] of Object.entries({ membership: 'true', simple: 'true', pagination: 'keyset', order_by: 'id', sort: 'asc' })) {
        assert.equal(q.get(name), value, `GitLab is asked for ${name}=${value}`);
      }
      const after = Number(q.get('id_after') ?? 0);
      const rest = GITLAB_IDS.filter((id) => id > after);
      const page = rest.slice(0, Math.min(Number(q.get('per_page')), GITLAB_CAP));
      const headers: Record<string, string> = {};
      if (page.length < rest.length) headers.link = `<${this.url}/api/v4/projects?id_after=${page.at(-1)}>; rel="next"`;
      json(res, 200, page.map((id) => ({ id, name: `p${id}`, http_url_to_repo: `${this.url}/group/p${id}.git` })), headers);
    } else if (url.pathname === '/rest/api/1.0/repos') {
      if (req.headers.authorization !== 'Bearer bb-read') return json(res, 401, { errors: [{ message: 'Authentication failed.' }] });
      const start = Number(q.get('start'));
      const page = BITBUCKET_SLUGS.slice(start, start + Math.min(Number(q.get('limit')), BITBUCKET_CAP));
      const clone = (slug: string) => [
        { href: `ssh://git@127.0.0.1:7999/prj/${slug}.git`, name: 'ssh' },
        ...(slug === 'ssh-only' ? [] : [{ href: `${this.url}/scm/prj/${slug}.git`, name: 'http' }]),
      ];
      const isLastPage = start + page.length >= BITBUCKET_SLUGS.length;
      json(res, 200, { size: page.length, limit: Number(q.get('limit')), start, isLastPage, values: page.map((slug) => ({ slug, links: { clone: clone(slug) } })), ...(isLastPage ? {} : { nextPageStart: start + page.length }) });
    } else if (url.pathname.startsWith('/api/v3/app/')) {
      const jwt = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      try {
        const { payload } = await jwtVerify(jwt, this.appKey, { algorithms: ['RS256'], issuer: String(APP_ID) });
        assert.ok(payload.exp! - payload.iat! <= 600, "GitHub refuses an app JWT that lives more than ten minutes");
      } catch {
        return json(res, 401, { message: 'A JSON web token could not be decoded' });
      }
      const minting = /^\/api\/v3\/app\/installations\/(\d+)\/access_tokens$/.exec(url.pathname);
      if (url.pathname === '/api/v3/app/installations') {
        const page = Number(q.get('page') ?? 1);
        json(res, 200, INSTALLATIONS.slice(page - 1, page), page < INSTALLATIONS.length ? { link: `<${this.url}/api/v3/app/installations?page=${page + 1}>; rel="next"` } : {});
      } else if (minting && req.method === 'POST' && INSTALLATIONS.some((i) => i.id === Number(minting[1]))) {
        json(res, 201, { token: `ghs_installation_${minting[1]}`, expires_at: new Date(Date.now() + 3_600_000).toISOString() });
      } else {
        json(res, 404, { message: 'Not Found' });
      }
    } else if (url.pathname === '/api/v3/installation/repositories') {
      if (req.headers.authorization !== 'Bearer ghs_installation_7') return json(res, 401, { message: 'Bad credentials' });
      const page = Number(q.get('page'));
      const slice = GITHUB_REPOS.slice((page - 1) * GITHUB_CAP, page * GITHUB_CAP);
      const more = page * GITHUB_CAP < GITHUB_REPOS.length;
      json(res, 200, { total_count: GITHUB_REPOS.length, repositories: slice.map((r) => ({ name: r, clone_url: `${this.url}/acme/${r}.git` })) }, more ? { link: `<${this.url}/api/v3/installation/repositories?page=${page + 1}>; rel="next"` } : {});
    } else {
      json(res, 404, { message: 'Not Found' });
    }
  }
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

describe('FetchLinkableGitRepositories and FetchGitHubInstallations against hosts’ own APIs', () => {
  let hosts: FakeHosts;
  let server: TestServer;
  let client: grpc.Client;
  let dir: string;
  const appKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  // GitHub hands out app keys as PKCS#1 ("BEGIN RSA PRIVATE KEY").
  const appKeyPem = appKeys.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
  const otherKeyPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;

  const fetchLinkable = (transport: Transport, connection: string, pageSize?: number, pageToken?: string): Promise<Outcome> => {
    if (transport === 'grpc') return grpcCall(client, DeveloperConnect.method.fetchLinkableGitRepositories, { connection, pageSize: pageSize ?? 0, pageToken: pageToken ?? '' }, undefined);
    const query = new URLSearchParams();
    if (pageSize !== undefined) query.set('pageSize', String(pageSize));
    if (pageToken !== undefined) query.set('pageToken', pageToken);
    return restCall(server.url, { verb: 'GET', path: `/v1/${connection}:fetchLinkableGitRepositories?${query}` }, undefined);
  };
  const fetchInstallations = (transport: Transport, connection: string): Promise<Outcome> =>
    transport === 'grpc'
      ? grpcCall(client, DeveloperConnect.method.fetchGitHubInstallations, { connection }, undefined)
      : restCall(server.url, { verb: 'GET', path: `/v1/${connection}:fetchGitHubInstallations` }, undefined);

  /** Every page of a listing, following next_page_token: the clone URIs of each page. */
  async function allPages(transport: Transport, connection: string, pageSize?: number): Promise<string[][]> {
    const pages: string[][] = [];
    let token = '';
    do {
      const outcome = await fetchLinkable(transport, connection, pageSize, token === '' ? undefined : token);
      assert.equal(outcome.code, Code.OK, JSON.stringify(outcome));
      pages.push(((outcome.body.linkableGitRepositories ?? []) as JsonObject[]).map((r) => String(r.cloneUri)));
      token = String(outcome.body.nextPageToken ?? '');
      assert.ok(pages.length < 10, 'the listing ends');
    } while (token !== '');
    return pages;
  }

  function refused(outcome: Outcome, transport: Transport, code: Code, message: RegExp, reason?: string): void {
    assert.equal(outcome.status, Code[code], JSON.stringify(outcome));
    if (transport === 'rest') assert.equal(outcome.http, code === Code.UNAVAILABLE ? 503 : code === Code.NOT_FOUND ? 404 : 400);
    assert.match(outcome.message, message);
    if (reason) assert.equal(outcome.errorInfo?.reason, reason);
  }

  async function makeConnection(id: string, body: JsonObject): Promise<string> {
    const res = await rest(server.url, 'POST', `/v1/${PARENT}/connections?connectionId=${id}`, body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.done, true, JSON.stringify(res.body));
    assert.equal(res.body.error, undefined, JSON.stringify(res.body));
    return `${PARENT}/connections/${id}`;
  }
  const gitlab = (id: string, hostUri: string, readSecret = 'gl-read') =>
    makeConnection(id, {
      gitlabEnterpriseConfig: { hostUri, webhookSecretSecretVersion: secretVersion('hook'), readAuthorizerCredential: userToken(readSecret), authorizerCredential: userToken('gl-write') },
    });
  const bitbucket = (id: string, hostUri: string) =>
    makeConnection(id, {
      bitbucketDataCenterConfig: { hostUri, webhookSecretSecretVersion: secretVersion('hook'), readAuthorizerCredential: userToken('bb-read'), authorizerCredential: userToken('bb-admin') },
    });
  const githubEnterprise = (id: string, config: JsonObject) =>
    makeConnection(id, { githubEnterpriseConfig: { hostUri: hosts.url, appId: String(APP_ID), privateKeySecretVersion: secretVersion('app-key'), ...config } });

  before(async () => {
    hosts = new FakeHosts(appKeys.publicKey);
    await hosts.start();
    dir = mkdtempSync(join(tmpdir(), 'linkable-'));
    const secrets = join(dir, 'secrets.json');
    writeFileSync(
      secrets,
      JSON.stringify({
        [secretVersion('gl-read')]: 'glpat-read',
        [secretVersion('gl-write')]: 'glpat-write',
        [secretVersion('gl-wrong')]: 'glpat-revoked',
        [secretVersion('bb-read')]: 'bb-read',
        [secretVersion('bb-admin')]: 'bb-admin',
        [secretVersion('app-key')]: appKeyPem,
        [secretVersion('other-key')]: otherKeyPem,
        [secretVersion('not-a-key')]: 'hunter2',
      }),
    );
    server = await startTestServer({ secretsFile: secrets });
    client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    client?.close();
    await server?.stop();
    await hosts?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("GitLab Enterprise: the read token's projects, paged across the host's pages, with PRIVATE-TOKEN", async () => {
    const connection = await gitlab('gitlab', `${hosts.url}/`);
    const uri = (id: number) => `${hosts.url}/group/p${id}.git`;
    for (const transport of TRANSPORTS) {
      hosts.requests.length = 0;
      // Pages of 4 from a host that serves 3 at most: the first page reads two of the host's, the next page goes on after p13.
      assert.deepEqual(await allPages(transport, connection, 4), [[uri(3), uri(5), uri(8), uri(13)], [uri(21)]]);
      assert.ok(hosts.requests.every((r) => r.headers['private-token'] === 'glpat-read'), 'the token came from the secrets file');
      assert.deepEqual(
        hosts.requests.map((r) => new URL(r.path, hosts.url).searchParams.get('id_after')),
        [null, '8', '13'],
        'keyset pages by the last project id',
      );
      // The default page (20) takes every project, from two of the host's pages.
      assert.deepEqual(await allPages(transport, connection), [GITLAB_IDS.map(uri)]);
    }
  });

  test("Bitbucket Data Center: the token's repositories by their http clone link, paged by start and limit", async () => {
    const connection = await bitbucket('bitbucket', hosts.url);
    const uri = (slug: string) => `${hosts.url}/scm/prj/${slug}.git`;
    for (const transport of TRANSPORTS) {
      hosts.requests.length = 0;
      // A repository with no http clone link cannot be linked: it is left out, not given a made-up URI.
      assert.deepEqual(await allPages(transport, connection, 3), [[uri('r0'), uri('r1'), uri('r3')], [uri('r4')]]);
      assert.ok(hosts.requests.every((r) => r.headers.authorization === 'Bearer bb-read'));
      assert.deepEqual(
        hosts.requests.map((r) => new URL(r.path, hosts.url).searchParams.get('start')),
        ['0', '3', '4'],
      );
    }
  });

  test("GitHub Enterprise: the app's installations, and the repositories of its installation with an installation token", async () => {
    const connection = await githubEnterprise('ghe', { appInstallationId: '7' });
    const uri = (repo: string) => `${hosts.url}/acme/${repo}.git`;
    for (const transport of TRANSPORTS) {
      const installations = await fetchInstallations(transport, connection);
      assert.equal(installations.code, Code.OK, JSON.stringify(installations));
      assert.deepEqual(installations.body.installations, [
        { id: '7', name: 'acme', type: 'organization' },
        { id: '9', name: 'octo', type: 'user' },
      ]);
      hosts.requests.length = 0;
      assert.deepEqual(await allPages(transport, connection, 2), [[uri('g1'), uri('g2')], [uri('g3'), uri('g4')], [uri('g5')]]);
      const minted = hosts.requests.filter((r) => r.path === '/api/v3/app/installations/7/access_tokens');
      assert.equal(minted.length, 3, 'each call mints one installation token');
    }
    // A page token is bound to the connection it came from.
    const first = await fetchLinkable('rest', connection, 1);
    const other = await githubEnterprise('ghe-other', { appInstallationId: '7' });
    refused(await fetchLinkable('rest', other, 1, String(first.body.nextPageToken)), 'rest', Code.INVALID_ARGUMENT, /page_token was issued for a different request/);
  });

  test('a host that refuses the credential is FAILED_PRECONDITION naming the field whose secret it is', async () => {
    const wrongToken = await gitlab('gitlab-wrong', hosts.url, 'gl-wrong');
    const wrongKey = await githubEnterprise('ghe-wrong-key', { privateKeySecretVersion: secretVersion('other-key'), appInstallationId: '7' });
    const notInstalled = await githubEnterprise('ghe-not-installed', { appInstallationId: '99' });
    for (const transport of TRANSPORTS) {
      refused(
        await fetchLinkable(transport, wrongToken),
        transport,
        Code.FAILED_PRECONDITION,
        /GitLab Enterprise host .* refused the credential of gitlab_enterprise_config\.read_authorizer_credential\.user_token_secret_version \(HTTP 401 .*401 Unauthorized/,
        'GIT_HOST_REFUSED',
      );
      refused(await fetchInstallations(transport, wrongKey), transport, Code.FAILED_PRECONDITION, /refused the credential of github_enterprise_config\.private_key_secret_version \(HTTP 401/, 'GIT_HOST_REFUSED');
      refused(await fetchLinkable(transport, notInstalled), transport, Code.FAILED_PRECONDITION, /has no installation 99 of the app \(github_enterprise_config\.app_installation_id\)/);
    }
  });

  test('an unreachable host is UNAVAILABLE; a host that is not such an API, FAILED_PRECONDITION', async () => {
    const gone = `http://127.0.0.1:${await freePort()}`;
    const down = await gitlab('gitlab-down', gone);
    const downApp = await githubEnterprise('ghe-down', { hostUri: gone });
    const notAnApi = await bitbucket('not-an-api', `${hosts.url}/not-an-api`);
    for (const transport of TRANSPORTS) {
      refused(await fetchLinkable(transport, down), transport, Code.UNAVAILABLE, /GitLab Enterprise host http:\/\/127\.0\.0\.1:\d+ did not answer GET \/api\/v4\/projects \(ECONNREFUSED\)/, 'GIT_HOST_UNAVAILABLE');
      refused(await fetchInstallations(transport, downApp), transport, Code.UNAVAILABLE, /did not answer GET \/api\/v3\/app\/installations/, 'GIT_HOST_UNAVAILABLE');
      refused(await fetchLinkable(transport, notAnApi), transport, Code.FAILED_PRECONDITION, /did not answer GET \/not-an-api\/rest\/api\/1\.0\/repos with JSON/, 'NOT_A_HOST_API');
    }
  });

  test('what the connection lacks is FAILED_PRECONDITION before any host is called', async () => {
    const missingSecret = await makeConnection('gitlab-no-secret', {
      gitlabEnterpriseConfig: { hostUri: hosts.url, webhookSecretSecretVersion: secretVersion('hook'), readAuthorizerCredential: userToken('not-in-the-file'), authorizerCredential: userToken('gl-write') },
    });
    const noAppId = await makeConnection('ghe-no-app', { githubEnterpriseConfig: { hostUri: hosts.url, privateKeySecretVersion: secretVersion('app-key') } });
    const badKey = await githubEnterprise('ghe-bad-key', { privateKeySecretVersion: secretVersion('not-a-key') });
    const notInstalled = await githubEnterprise('ghe-pending', {});
    const disabled = await gitlab('gitlab-disabled', hosts.url);
    assert.equal((await rest(server.url, 'PATCH', `/v1/${disabled}?updateMask=disabled`, { disabled: true })).status, 200);
    const generic = await makeConnection('generic', { httpConfig: { hostUri: hosts.url } });
    const github = await makeConnection('cloud-github', { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } });
    hosts.requests.length = 0;
    for (const transport of TRANSPORTS) {
      refused(await fetchLinkable(transport, missingSecret), transport, Code.FAILED_PRECONDITION, /not-in-the-file.*--secrets-file/, 'SECRET_VERSION_UNAVAILABLE');
      refused(await fetchInstallations(transport, noAppId), transport, Code.FAILED_PRECONDITION, /has no github_enterprise_config\.app_id/);
      refused(await fetchInstallations(transport, badKey), transport, Code.FAILED_PRECONDITION, /github_enterprise_config\.private_key_secret_version is not a GitHub app's RSA private key/);
      refused(await fetchLinkable(transport, notInstalled), transport, Code.FAILED_PRECONDITION, /has no github_enterprise_config\.app_installation_id/, 'APP_NOT_INSTALLED');
      refused(await fetchLinkable(transport, disabled), transport, Code.FAILED_PRECONDITION, /is disabled/, 'CONNECTION_DISABLED');
      refused(await fetchLinkable(transport, generic), transport, Code.FAILED_PRECONDITION, /generic HTTP git host, which has no API that lists/, 'PROVIDER_HAS_NO_LISTING');
      refused(await fetchLinkable(transport, github), transport, Code.FAILED_PRECONDITION, /github\.com, which devconnect-emulator does not call/, 'PROVIDER_API_NOT_EMULATED');
      refused(await fetchInstallations(transport, github), transport, Code.FAILED_PRECONDITION, /installations .* github\.com/, 'PROVIDER_API_NOT_EMULATED');
      refused(await fetchInstallations(transport, generic), transport, Code.FAILED_PRECONDITION, /not a GitHub connection/, 'NOT_A_GITHUB_CONNECTION');
      refused(await fetchLinkable(transport, `${PARENT}/connections/none`), transport, Code.NOT_FOUND, /was not found/);
    }
    assert.deepEqual(hosts.requests, [], 'no host was called');
  });
});
