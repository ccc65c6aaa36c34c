/**
 * The git methods and the git proxy for a GitHub Enterprise connection, on real git: `git
 * http-backend` serving real repositories, and beside it on the same origin GitHub's
 * `POST /api/v3/app/installations/{id}/access_tokens`, which checks the app's JWT (RS256, iss the
 * app id, against the public half of a key made here) and issues installation tokens that git's
 * requests must then carry as the password of user x-access-token. FetchGitRefs over REST and
 * gRPC, and the real `git` command line through the link's git_proxy_uri.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { JsonObject } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { jwtVerify } from 'jose';
import { DeveloperConnect } from '../../src/gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { Code, grpcCall, restCall, type Outcome, type Transport } from '../support/auth-matrix-helpers.js';
import { gitEnvironment, startGitHost, type GitHost } from '../support/git-host.js';
import { PARENT, rest, startTestServer, type TestServer } from '../support/server.js';
import { freePort } from '../support/ports.js';

const run = promisify(execFile);
const TRANSPORTS: Transport[] = ['rest', 'grpc'];
const APP_ID = 42;
const INSTALLATION = 7;
const secretVersion = (id: string) => `projects/demo/secrets/${id}/versions/1`;
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('GitHub Enterprise: the git methods and the git proxy with the app installation token', () => {
  const appKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  // GitHub hands out app keys as PKCS#1 ("BEGIN RSA PRIVATE KEY").
  const appKeyPem = appKeys.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
  const otherKeyPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
  /** The installation tokens the host has issued and not revoked: git's requests must carry one. */
  const issued = new Set<string>();
  /** The installation each token request was for, in order. */
  const minted: number[] = [];
  /** How long the tokens the host issues live (GitHub's: an hour). */
  let tokenLifetimeMs = 3_600_000;

  let host: GitHost;
  let server: TestServer;
  let client: grpc.Client;
  let work: string;
  let link: JsonObject;

  /** GitHub's token exchange, as far as an app's installation token goes; the requests outside /api/ are git's. */
  async function githubApi(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://host');
    if (!url.pathname.startsWith('/api/')) return false;
    const [status, body] = await exchangeToken(req, url);
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    return true;
  }
  async function exchangeToken(req: IncomingMessage, url: URL): Promise<[number, unknown]> {
    const exchange = /^\/api\/v3\/app\/installations\/(\d+)\/access_tokens$/.exec(url.pathname);
    if (!exchange || req.method !== 'POST') return [404, { message: 'Not Found' }];
    try {
      const jwt = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const { payload } = await jwtVerify(jwt, appKeys.publicKey, { algorithms: ['RS256'], issuer: String(APP_ID) });
      assert.ok(payload.exp! - payload.iat! <= 600, 'GitHub refuses an app JWT that lives more than ten minutes');
    } catch {
      return [401, { message: 'A JSON web token could not be decoded' }];
    }
    minted.push(Number(exchange[1]));
    if (Number(exchange[1]) !== INSTALLATION) return [404, { message: 'Not Found' }];
    const token = `ghs_${randomBytes(18).toString('base64url')}`;
    issued.add(token);
    return [201, { token, expires_at: new Date(Date.now() + tokenLifetimeMs).toISOString(), permissions: { contents: 'write' }, repository_selection: 'all' }];
  }

  const git = async (args: string[], cwd = work) => (await run('git', args, { cwd, env: gitEnvironment(work) })).stdout;
  const cloneUrl = (uri: string, token: string) => uri.replace('http://', `http://oauth2:${encodeURIComponent(token)}@`);

  async function makeConnection(id: string, config: JsonObject): Promise<string> {
    const res = await rest(server.url, 'POST', `/v1/${PARENT}/connections?connectionId=${id}`, {
      githubEnterpriseConfig: { hostUri: host.url, appId: String(APP_ID), privateKeySecretVersion: secretVersion('app-key'), appInstallationId: String(INSTALLATION), ...config },
      gitProxyConfig: { enabled: true },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.error, undefined, JSON.stringify(res.body));
    return `${PARENT}/connections/${id}`;
  }
  async function makeLink(connection: string, id: string, cloneUri: string): Promise<JsonObject> {
    const res = await rest(server.url, 'POST', `/v1/${connection}/gitRepositoryLinks?gitRepositoryLinkId=${id}`, { cloneUri });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { '@type': _type, ...resource } = res.body.response as JsonObject;
    return resource;
  }
  const fetchGitRefs = (transport: Transport, gitRepositoryLink: string, refType: 'BRANCH' | 'TAG'): Promise<Outcome> =>
    transport === 'grpc'
      ? grpcCall(client, DeveloperConnect.method.fetchGitRefs, { gitRepositoryLink, refType }, undefined)
      : restCall(server.url, { verb: 'GET', path: `/v1/${gitRepositoryLink}:fetchGitRefs?refType=${refType}` }, undefined);
  const fetchToken = (transport: Transport, gitRepositoryLink: string, access: 'read' | 'read-write'): Promise<Outcome> => {
    const method = access === 'read' ? DeveloperConnect.method.fetchReadToken : DeveloperConnect.method.fetchReadWriteToken;
    if (transport === 'grpc') return grpcCall(client, method, { gitRepositoryLink }, undefined);
    return restCall(server.url, { verb: 'POST', path: `/v1/${gitRepositoryLink}:${access === 'read' ? 'fetchReadToken' : 'fetchReadWriteToken'}`, body: {} }, undefined);
  };
  function succeeded(outcome: Outcome): JsonObject {
    assert.equal(outcome.code, Code.OK, JSON.stringify(outcome));
    return outcome.body;
  }
  function refused(outcome: Outcome, transport: Transport, code: Code, message: RegExp, reason?: string): void {
    assert.equal(outcome.status, Code[code], JSON.stringify(outcome));
    if (transport === 'rest') assert.equal(outcome.http, code === Code.UNAVAILABLE ? 503 : 400);
    assert.match(outcome.message, message);
    if (reason) assert.equal(outcome.errorInfo?.reason, reason);
  }
  /** Whether every request git's side of the host received carried an installation token the host issued, as x-access-token's password. */
  const allWithIssuedTokens = () =>
    host.authorizations.length > 0 && host.authorizations.every((a) => [...issued].some((token) => a === basic('x-access-token', token)));

  before(async () => {
    host = await startGitHost({ basicAuth: { username: 'x-access-token', password: issued }, api: githubApi });
    host.createRepository('shop');
    work = mkdtempSync(join(tmpdir(), 'ghe-git-'));
    const secrets = join(work, 'secrets.json');
    writeFileSync(secrets, JSON.stringify({ [secretVersion('app-key')]: appKeyPem, [secretVersion('other-key')]: otherKeyPem }));
    server = await startTestServer({ secretsFile: secrets });
    client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    link = await makeLink(await makeConnection('ghe', {}), 'shop', `${host.url}/shop.git`);
  });
  after(async () => {
    client?.close();
    await server?.stop();
    await host?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test("FetchGitRefs reads the host's refs with an installation token, minted once and reused until it nears its end", async () => {
    minted.length = 0;
    host.authorizations.length = 0;
    for (const transport of TRANSPORTS) {
      assert.deepEqual(succeeded(await fetchGitRefs(transport, String(link.name), 'BRANCH')).refNames, ['refs/heads/dev', 'refs/heads/main']);
      assert.deepEqual(succeeded(await fetchGitRefs(transport, String(link.name), 'TAG')).refNames, ['refs/tags/v1.0']);
    }
    assert.ok(allWithIssuedTokens(), `git's requests carried x-access-token and an issued token: ${JSON.stringify(host.authorizations)}`);
    assert.deepEqual(minted, [INSTALLATION], 'one token for four calls: it lives an hour');
  });

  test('git clone works through the proxy with a read token; push needs the read-write token', async () => {
    minted.length = 0;
    host.authorizations.length = 0;
    const read = succeeded(await fetchToken('grpc', String(link.name), 'read'));
    const clone = join(work, 'clone');
    await git(['clone', '--quiet', cloneUrl(String(link.gitProxyUri), String(read.token)), clone]);
    assert.equal(readFileSync(join(clone, 'README.md'), 'utf8'), '# shop\n');
    assert.match(await git(['branch', '-r'], clone), /origin\/dev/);

    writeFileSync(join(clone, 'CHANGE.md'), 'pushed through the proxy to GitHub Enterprise\n');
    await git(['add', 'CHANGE.md'], clone);
    await git(['commit', '--quiet', '-m', 'change'], clone);
    await assert.rejects(git(['push', '--quiet', 'origin', 'main'], clone), /403|read-only/);

    const write = succeeded(await fetchToken('rest', String(link.name), 'read-write'));
    await git(['remote', 'set-url', 'origin', cloneUrl(String(link.gitProxyUri), String(write.token))], clone);
    await git(['push', '--quiet', 'origin', 'main'], clone);
    const head = (await git(['rev-parse', 'HEAD'], clone)).trim();
    assert.equal(host.git(['rev-parse', 'main'], join(host.root, 'shop.git')).trim(), head, 'the commit reached the host');
    assert.ok(allWithIssuedTokens(), `the proxy forwarded with the installation token: ${JSON.stringify(host.authorizations)}`);
    assert.deepEqual(minted, [], "the clone's and the push's requests reused the token FetchGitRefs minted");
  });

  test('a token the host refused is dropped, and one about to expire is not reused', async () => {
    for (const transport of TRANSPORTS) {
      succeeded(await fetchGitRefs(transport, String(link.name), 'TAG'));
      // The host revokes every token (as DELETE /installation/token, or a suspended installation, would).
      issued.clear();
      const before = minted.length;
      refused(
        await fetchGitRefs(transport, String(link.name), 'TAG'),
        transport,
        Code.FAILED_PRECONDITION,
        /refused the connection's credentials .*HTTP 401; the credential of the installation token of the app \(made with github_enterprise_config\.private_key_secret_version\)/,
        'GIT_HOST_REFUSED',
      );
      assert.equal(minted.length, before, 'the cached token was sent');
      assert.deepEqual(succeeded(await fetchGitRefs(transport, String(link.name), 'TAG')).refNames, ['refs/tags/v1.0']);
      assert.equal(minted.length, before + 1, 'the refused token was forgotten: the next call minted another');
    }

    // Tokens issued for a minute, less than the margin the server keeps: each call mints its own.
    const brief = await makeLink(await makeConnection('ghe-brief-tokens', {}), 'shop', `${host.url}/shop.git`);
    tokenLifetimeMs = 60_000;
    try {
      minted.length = 0;
      succeeded(await fetchGitRefs('rest', String(brief.name), 'TAG'));
      succeeded(await fetchGitRefs('grpc', String(brief.name), 'TAG'));
      assert.deepEqual(minted, [INSTALLATION, INSTALLATION]);
    } finally {
      tokenLifetimeMs = 3_600_000;
    }
  });

  test('a private key the host does not know is FAILED_PRECONDITION naming the field; through the proxy, git is refused', async () => {
    const wrongKey = await makeLink(await makeConnection('ghe-wrong-key', { privateKeySecretVersion: secretVersion('other-key') }), 'shop', `${host.url}/shop.git`);
    const notInstalled = await makeLink(await makeConnection('ghe-other-installation', { appInstallationId: '99' }), 'shop', `${host.url}/shop.git`);
    for (const transport of TRANSPORTS) {
      refused(
        await fetchGitRefs(transport, String(wrongKey.name), 'BRANCH'),
        transport,
        Code.FAILED_PRECONDITION,
        /GitHub Enterprise host .* refused the credential of github_enterprise_config\.private_key_secret_version \(HTTP 401 on POST \/api\/v3\/app\/installations\/7\/access_tokens: .*could not be decoded/,
        'GIT_HOST_REFUSED',
      );
      refused(await fetchGitRefs(transport, String(notInstalled.name), 'BRANCH'), transport, Code.FAILED_PRECONDITION, /has no installation 99 of the app \(github_enterprise_config\.app_installation_id\)/);
    }
    // The token is minted (the host is called only by the proxy), but git gets the host's refusal.
    const read = succeeded(await fetchToken('rest', String(wrongKey.name), 'read'));
    await assert.rejects(git(['clone', '--quiet', cloneUrl(String(wrongKey.gitProxyUri), String(read.token)), join(work, 'refused')]), /403[\s\S]*private_key_secret_version|private_key_secret_version[\s\S]*403/);
  });

  test('an unreachable host is UNAVAILABLE; through the proxy, git gets 502', async () => {
    const gone = `http://127.0.0.1:${await freePort()}`;
    const down = await makeLink(await makeConnection('ghe-down', { hostUri: gone }), 'shop', `${gone}/shop.git`);
    for (const transport of TRANSPORTS) {
      refused(
        await fetchGitRefs(transport, String(down.name), 'BRANCH'),
        transport,
        Code.UNAVAILABLE,
        /GitHub Enterprise host http:\/\/127\.0\.0\.1:\d+ did not answer POST \/api\/v3\/app\/installations\/7\/access_tokens \(ECONNREFUSED\)/,
        'GIT_HOST_UNAVAILABLE',
      );
    }
    const read = succeeded(await fetchToken('grpc', String(down.name), 'read'));
    await assert.rejects(git(['clone', '--quiet', cloneUrl(String(down.gitProxyUri), String(read.token)), join(work, 'down')]), /502|did not answer/);
  });

  test('what the connection lacks (app id, private key, installation) is FAILED_PRECONDITION before any host is called', async () => {
    const noAppId = await makeLink(await makeConnection('ghe-no-app', { appId: '0' }), 'shop', `${host.url}/shop.git`);
    const noKey = await makeLink(await makeConnection('ghe-no-key', { privateKeySecretVersion: '' }), 'shop', `${host.url}/shop.git`);
    const keyNotKnown = await makeLink(await makeConnection('ghe-key-unknown', { privateKeySecretVersion: secretVersion('not-in-the-file') }), 'shop', `${host.url}/shop.git`);
    const notInstalled = await makeLink(await makeConnection('ghe-pending', { appInstallationId: '0' }), 'shop', `${host.url}/shop.git`);
    minted.length = 0;
    host.authorizations.length = 0;
    for (const transport of TRANSPORTS) {
      for (const call of [(l: JsonObject) => fetchGitRefs(transport, String(l.name), 'BRANCH'), (l: JsonObject) => fetchToken(transport, String(l.name), 'read-write')]) {
        refused(await call(noAppId), transport, Code.FAILED_PRECONDITION, /has no github_enterprise_config\.app_id/, 'GITHUB_APP_INCOMPLETE');
        refused(await call(noKey), transport, Code.FAILED_PRECONDITION, /has no github_enterprise_config\.private_key_secret_version/, 'GITHUB_APP_INCOMPLETE');
        refused(await call(keyNotKnown), transport, Code.FAILED_PRECONDITION, /not-in-the-file.*--secrets-file/, 'SECRET_VERSION_UNAVAILABLE');
        refused(await call(notInstalled), transport, Code.FAILED_PRECONDITION, /has no github_enterprise_config\.app_installation_id/, 'APP_NOT_INSTALLED');
      }
    }
    assert.deepEqual(minted, [], 'no token was asked for');
    assert.deepEqual(host.authorizations, [], 'git was not called');
  });
});
