/**
 * The git methods on real git: a connection to a git host on loopback (git http-backend that
 * requires its own credentials), a link, FetchGitRefs over smart HTTP, and FetchReadToken /
 * FetchReadWriteToken used by the real `git` command line through the link's git_proxy_uri.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { gitEnvironment, startGitHost, type GitHost } from '../support/git-host.js';
import { PARENT, rest, startTestServer, type JsonResponse, type TestServer } from '../support/server.js';
import { freePort } from '../support/ports.js';

type Json = Record<string, unknown>;
const run = promisify(execFile);
const PASSWORD_VERSION = 'projects/demo/secrets/git-password/versions/1';
const MISSING_VERSION = 'projects/demo/secrets/not-in-the-file/versions/1';

function ok(res: JsonResponse): Json {
  assert.equal(res.status, 200, JSON.stringify(res.body));
  if ('done' in res.body) {
    assert.equal(res.body.error, undefined, JSON.stringify(res.body));
    const { '@type': _type, ...resource } = res.body.response as Json;
    return resource;
  }
  return res.body;
}

function refused(res: JsonResponse, http: number, status: string, message: RegExp): void {
  assert.equal(res.status, http, JSON.stringify(res.body));
  const error = res.body.error as Json;
  assert.equal(error.status, status);
  assert.match(String(error.message), message);
}

describe('git methods against a real git host', () => {
  let host: GitHost;
  let server: TestServer;
  let work: string;
  let connection: string;
  let link: Json;

  const git = async (args: string[], cwd = work) => (await run('git', args, { cwd, env: gitEnvironment(work) })).stdout;
  const call = (method: string, path: string, body?: unknown) => rest(server.url, method, path, body);
  const makeConnection = async (id: string, httpConfig: Json, extra: Json = {}) =>
    ok(await call('POST', `/v1/${PARENT}/connections?connectionId=${id}`, { httpConfig, gitProxyConfig: { enabled: true }, ...extra }));
  const makeLink = async (parent: string, id: string, cloneUri: string) =>
    ok(await call('POST', `/v1/${parent}/gitRepositoryLinks?gitRepositoryLinkId=${id}`, { cloneUri }));
  const cloneUrl = (uri: string, token: string) => uri.replace('http://', `http://oauth2:${encodeURIComponent(token)}@`);

  before(async () => {
    host = await startGitHost({ basicAuth: { username: 'git-user', password: 'host-secret' } });
    host.createRepository('shop');
    host.createRepository('other');
    work = mkdtempSync(join(tmpdir(), 'git-client-'));
    const secrets = join(work, 'secrets.json');
    writeFileSync(
      secrets,
      JSON.stringify({
        [PASSWORD_VERSION]: 'host-secret',
        'projects/demo/secrets/wrong/versions/1': 'not-the-password',
        'projects/demo/secrets/gl-read/versions/1': 'glpat-read',
        'projects/demo/secrets/gl-write/versions/1': 'glpat-write',
      }),
    );
    server = await startTestServer({ secretsFile: secrets });
    connection = String(
      (await makeConnection('git-host', { hostUri: host.url, basicAuthentication: { username: 'git-user', passwordSecretVersion: PASSWORD_VERSION } })).name,
    );
    link = await makeLink(connection, 'shop', `${host.url}/shop.git`);
  });
  after(async () => {
    await server?.stop();
    await host?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test('a link under a connection with its git proxy on gets a git_proxy_uri on this server', () => {
    assert.equal(link.gitProxyUri, `${server.url}/git-proxy/${connection}/gitRepositoryLinks/shop`);
  });

  test("FetchGitRefs lists the host's branches or tags, paged, with the connection's credentials", async () => {
    host.authorizations.length = 0;
    const branches = ok(await call('GET', `/v1/${String(link.name)}:fetchGitRefs?refType=BRANCH`));
    assert.deepEqual(branches.refNames, ['refs/heads/dev', 'refs/heads/main']);
    assert.equal(branches.nextPageToken, undefined);
    assert.ok(host.authorizations.every((a) => a === `Basic ${Buffer.from('git-user:host-secret').toString('base64')}`), 'the password came from the secrets file');
    assert.deepEqual(ok(await call('GET', `/v1/${String(link.name)}:fetchGitRefs?refType=TAG`)).refNames, ['refs/tags/v1.0']);

    const first = ok(await call('GET', `/v1/${String(link.name)}:fetchGitRefs?refType=BRANCH&pageSize=1`));
    assert.deepEqual(first.refNames, ['refs/heads/dev']);
    const second = ok(await call('GET', `/v1/${String(link.name)}:fetchGitRefs?refType=BRANCH&pageSize=1&pageToken=${String(first.nextPageToken)}`));
    assert.deepEqual(second.refNames, ['refs/heads/main']);
    assert.equal(second.nextPageToken, undefined);

    refused(await call('GET', `/v1/${String(link.name)}:fetchGitRefs`), 400, 'INVALID_ARGUMENT', /ref_type is required/);
  });

  test('git clone works through the proxy with a read token; push needs the read-write token', async () => {
    const read = ok(await call('POST', `/v1/${String(link.name)}:fetchReadToken`, {}));
    assert.equal(read.gitUsername, 'oauth2');
    const expires = Date.parse(String(read.expirationTime)) - Date.now();
    assert.ok(expires > 3_500_000 && expires <= 3_600_000, `expires in ${expires} ms`);

    const clone = join(work, 'clone');
    await git(['clone', '--quiet', cloneUrl(String(link.gitProxyUri), String(read.token)), clone]);
    assert.equal(readFileSync(join(clone, 'README.md'), 'utf8'), '# shop\n');
    assert.match(await git(['branch', '-r'], clone), /origin\/dev/);

    writeFileSync(join(clone, 'CHANGE.md'), 'pushed through the proxy\n');
    await git(['add', 'CHANGE.md'], clone);
    await git(['commit', '--quiet', '-m', 'change'], clone);
    await assert.rejects(git(['push', '--quiet', 'origin', 'main'], clone), /403|read-only/);

    const write = ok(await call('POST', `/v1/${String(link.name)}:fetchReadWriteToken`, {}));
    await git(['remote', 'set-url', 'origin', cloneUrl(String(link.gitProxyUri), String(write.token))], clone);
    await git(['push', '--quiet', 'origin', 'main'], clone);
    const head = (await git(['rev-parse', 'HEAD'], clone)).trim();
    assert.equal(host.git(['rev-parse', 'main'], join(host.root, 'shop.git')).trim(), head, 'the commit reached the host');
  });

  test('the proxy refuses a wrong, forged or expired-looking token, and a token of another link', async () => {
    const other = await makeLink(connection, 'other', `${host.url}/other.git`);
    const otherToken = String(ok(await call('POST', `/v1/${String(other.name)}:fetchReadToken`, {})).token);
    const target = join(work, 'refused');
    for (const token of ['not-a-token', `${otherToken.slice(0, -3)}abc`, otherToken]) {
      await assert.rejects(git(['clone', '--quiet', cloneUrl(String(link.gitProxyUri), token), target]), /401|403|Authentication failed|not minted|refused/);
    }
    await assert.rejects(git(['clone', '--quiet', String(link.gitProxyUri), target]), /could not read Username|Authentication failed|401/);
  });

  test("a GitLab Enterprise connection reads with its read token and pushes with its other token, as user oauth2", async () => {
    const gitlab = await startGitHost({ basicAuth: { username: 'oauth2', password: 'glpat-read' } });
    try {
      gitlab.createRepository('group-app');
      const token = (id: string) => ({ userTokenSecretVersion: `projects/demo/secrets/${id}/versions/1` });
      const made = ok(
        await call('POST', `/v1/${PARENT}/connections?connectionId=gitlab-ee`, {
          gitlabEnterpriseConfig: {
            hostUri: gitlab.url,
            webhookSecretSecretVersion: 'projects/demo/secrets/hook/versions/1',
            readAuthorizerCredential: token('gl-read'),
            authorizerCredential: token('gl-write'),
          },
          gitProxyConfig: { enabled: true },
        }),
      );
      const repo = await makeLink(String(made.name), 'app', `${gitlab.url}/group-app.git`);
      assert.deepEqual(ok(await call('GET', `/v1/${String(repo.name)}:fetchGitRefs?refType=TAG`)).refNames, ['refs/tags/v1.0']);
      assert.ok(gitlab.authorizations.includes(`Basic ${Buffer.from('oauth2:glpat-read').toString('base64')}`));
      // The write token is another secret: the host, which knows only the read token, refuses the push the proxy forwards with it.
      const write = ok(await call('POST', `/v1/${String(repo.name)}:fetchReadWriteToken`, {}));
      const clone = join(work, 'gitlab-clone');
      await git(['clone', '--quiet', cloneUrl(String(repo.gitProxyUri), String(write.token)), clone]);
      writeFileSync(join(clone, 'x.md'), 'x\n');
      await git(['add', 'x.md'], clone);
      await git(['commit', '--quiet', '-m', 'x'], clone);
      await assert.rejects(git(['push', '--quiet', 'origin', 'main'], clone), /502|refused the connection's credentials/);
      assert.ok(gitlab.authorizations.includes(`Basic ${Buffer.from('oauth2:glpat-write').toString('base64')}`), 'the push went with the write token');
    } finally {
      await gitlab.stop();
    }
  });

  test('what the server cannot do is FAILED_PRECONDITION or UNAVAILABLE, saying what is missing', async () => {
    const missing = await makeConnection('missing-secret', { hostUri: host.url, basicAuthentication: { username: 'git-user', passwordSecretVersion: MISSING_VERSION } });
    const missingLink = await makeLink(String(missing.name), 'shop', `${host.url}/shop.git`);
    refused(await call('GET', `/v1/${String(missingLink.name)}:fetchGitRefs?refType=BRANCH`), 400, 'FAILED_PRECONDITION', /not-in-the-file.*--secrets-file/);

    const wrong = await makeConnection('wrong-secret', { hostUri: host.url, basicAuthentication: { username: 'git-user', passwordSecretVersion: 'projects/demo/secrets/wrong/versions/1' } });
    const wrongLink = await makeLink(String(wrong.name), 'shop', `${host.url}/shop.git`);
    refused(await call('GET', `/v1/${String(wrongLink.name)}:fetchGitRefs?refType=BRANCH`), 400, 'FAILED_PRECONDITION', /refused the connection's credentials/);

    const gone = `http://127.0.0.1:${await freePort()}`;
    const down = await makeConnection('down', { hostUri: gone });
    const downLink = await makeLink(String(down.name), 'x', `${gone}/x.git`);
    refused(await call('GET', `/v1/${String(downLink.name)}:fetchGitRefs?refType=BRANCH`), 503, 'UNAVAILABLE', /did not answer/);

    const elsewhere = await makeLink(connection, 'elsewhere', 'https://example.com/x.git');
    refused(await call('GET', `/v1/${String(elsewhere.name)}:fetchGitRefs?refType=TAG`), 400, 'FAILED_PRECONDITION', /not on the host of connection/);

    const github = ok(await call('POST', `/v1/${PARENT}/connections?connectionId=cloud-github`, { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } }));
    const githubLink = await makeLink(String(github.name), 'repo', 'https://github.com/acme/repo.git');
    refused(await call('POST', `/v1/${String(githubLink.name)}:fetchReadToken`, {}), 400, 'FAILED_PRECONDITION', /github\.com, which devconnect-emulator does not call/);

    ok(await call('PATCH', `/v1/${connection}?updateMask=disabled`, { disabled: true }));
    refused(await call('GET', `/v1/${String(link.name)}:fetchGitRefs?refType=BRANCH`), 400, 'FAILED_PRECONDITION', /is disabled/);
    ok(await call('PATCH', `/v1/${connection}?updateMask=disabled`, { disabled: false }));

    refused(await call('GET', `/v1/${connection}/gitRepositoryLinks/none:fetchGitRefs?refType=BRANCH`), 404, 'NOT_FOUND', /was not found/);
    // Listings come from providers' own APIs, which a generic git host has none of and the public ones are not called.
    refused(await call('GET', `/v1/${connection}:fetchLinkableGitRepositories`), 400, 'FAILED_PRECONDITION', /generic HTTP git host, which has no API that lists/);
    refused(await call('GET', `/v1/${String(github.name)}:fetchLinkableGitRepositories`), 400, 'FAILED_PRECONDITION', /github\.com, which devconnect-emulator does not call/);
    refused(await call('GET', `/v1/${String(github.name)}:fetchGitHubInstallations`), 400, 'FAILED_PRECONDITION', /installations .* github\.com/);
    refused(await call('GET', `/v1/${connection}:fetchGitHubInstallations`), 400, 'FAILED_PRECONDITION', /not a GitHub connection/);
    refused(await call('GET', `/v1/${PARENT}/connections/none:fetchLinkableGitRepositories`), 404, 'NOT_FOUND', /was not found/);
    const badSecret = await call('POST', `/v1/${PARENT}/connections?connectionId=bad-secret`, {
      httpConfig: { hostUri: host.url, bearerTokenAuthentication: { tokenSecretVersion: 'my-token' } },
    });
    refused(badSecret, 400, 'INVALID_ARGUMENT', /token_secret_version 'my-token' is not a secret version/);
  });
});
