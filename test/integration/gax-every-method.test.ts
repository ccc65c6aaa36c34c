/**
 * Every method of DeveloperConnect and InsightsConfigService (33) through google-gax clients built from
 * the official protos, over gRPC and over the REST fallback, as a user of Google's client libraries
 * calls them: long-running methods through `operation.promise()`, paged methods through their
 * PageDescriptor, and at least one refusal each, checked as the client surfaces it. The git methods
 * run against a real git host; DeploymentEvents come from a fixture file.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import gax from 'google-gax';
import { developerConnectClients, METHOD_SPECS, type DeveloperConnectClients, type MethodName } from '../support/gax-clients.js';
import { gitEnvironment, startGitHost, type GitHost } from '../support/git-host.js';
import { startTestServer, type TestServer } from '../support/server.js';

type Json = Record<string, unknown>;
interface Timestamp {
  seconds: number | string | { toString(): string };
  nanos?: number;
}
interface Resource {
  name: string;
  uid?: string;
  etag?: string;
  labels?: Record<string, string>;
  createTime?: Timestamp | null;
}
interface OperationMetadata {
  verb: string;
  target: string;
}

const run = promisify(execFile);
const ALL_METHODS = Object.keys(METHOD_SPECS) as MethodName[];
const FIXTURE_CONFIG = 'projects/demo/locations/us-central1/insightsConfigs/shop';
const fixtureEvent = (id: string, state: string, deployTime: string): Json => ({
  name: `${FIXTURE_CONFIG}/deploymentEvents/${id}`,
  state,
  deployTime,
  runtimeDeploymentUri: `rev-${id}`,
  runtimeConfig: { uri: '//run.googleapis.com/projects/demo/locations/us-central1/services/shop', state: 'LINKED' },
});

const secondsOf = (t: Timestamp | null | undefined): number => Number(String(t?.seconds ?? 0));
const names = (items: unknown[]): string[] => items.map((item) => (item as Resource).name);

/** An error as the client surfaces it: the gRPC code, and over REST the HTTP status and google.rpc.Status name. */
interface ExpectedError {
  code: gax.Status;
  reason?: string;
  message?: RegExp;
}
const HTTP: Partial<Record<gax.Status, [number, string]>> = {
  [gax.Status.INVALID_ARGUMENT]: [400, 'INVALID_ARGUMENT'],
  [gax.Status.FAILED_PRECONDITION]: [400, 'FAILED_PRECONDITION'],
  [gax.Status.NOT_FOUND]: [404, 'NOT_FOUND'],
  [gax.Status.ALREADY_EXISTS]: [409, 'ALREADY_EXISTS'],
  [gax.Status.ABORTED]: [409, 'ABORTED'],
};
const NOT_FOUND: ExpectedError = { code: gax.Status.NOT_FOUND, reason: 'RESOURCE_NOT_FOUND' };
const INVALID: ExpectedError = { code: gax.Status.INVALID_ARGUMENT };
const PRECONDITION: ExpectedError = { code: gax.Status.FAILED_PRECONDITION };

let host: GitHost;
let server: TestServer;
let dir: string;

before(async () => {
  // A git host without credentials of its own: the connection needs no secret to reach it.
  host = await startGitHost();
  host.createRepository('shop');
  dir = mkdtempSync(join(tmpdir(), 'gax-every-method-'));
  const fixtures = join(dir, 'fixtures.json');
  writeFileSync(
    fixtures,
    JSON.stringify({
      insightsConfigs: [{ name: FIXTURE_CONFIG, appHubApplication: 'projects/demo/locations/us-central1/applications/shop' }],
      deploymentEvents: [fixtureEvent('e1', 'STATE_INACTIVE', '2026-11-01T10:00:00Z'), fixtureEvent('e2', 'STATE_ACTIVE', '2026-11-20T10:00:00Z')],
    }),
  );
  server = await startTestServer({ fixturesFile: fixtures });
});
after(async () => {
  await server?.stop();
  await host?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

for (const transport of ['grpc', 'rest'] as const) {
  describe(`every Developer Connect method through google-gax over ${transport}`, () => {
    let clients: DeveloperConnectClients;
    const parent = `projects/gax-${transport}/locations/us-central1`;
    /** The methods that answered a call of this file, and those whose refusal was checked. */
    const answered = new Set<MethodName>();
    const refused = new Set<MethodName>();

    before(async () => {
      clients = await developerConnectClients(transport, server.port);
    });
    after(() => clients?.close());

    const call = async <T = Json>(method: MethodName, request: Json): Promise<T> => {
      const response = (await clients.call(method, request)) as T;
      answered.add(method);
      return response;
    };
    /** Calls a long-running method and waits for it with operation.promise(), as a user would. */
    const lro = async <T = Json>(method: MethodName, request: Json): Promise<[T, OperationMetadata]> => {
      const operation = await clients.call(method, request);
      assert.ok(operation instanceof gax.Operation, `${method} resolves with a gax Operation`);
      const [response, metadata] = (await operation.promise()) as [T, OperationMetadata];
      answered.add(method);
      return [response, metadata];
    };
    const paged = async (method: MethodName, request: Json, options?: gax.CallOptions) => {
      const result = await clients.paged(method, request, options);
      answered.add(method);
      return result;
    };
    /** The enum value's name, whether the transport hands it over as a name or a number. */
    const enumName = (type: string, value: unknown): string =>
      typeof value === 'number' ? String(clients.protos.lookupEnum(`google.cloud.developerconnect.v1.${type}`).valuesById[value]) : String(value);

    /**
     * The call (or, for an LRO, its operation) is refused with the expected code. gRPC errors carry the code
     * and the ErrorInfo reason; google-gax 5.0.x hands REST errors through as the HTTP call's error, whose
     * `code` is the HTTP status and whose message is the AIP-193 JSON body. An error inside an operation
     * reaches operation.promise() as a google.rpc.Status on either transport.
     */
    async function rejects(method: MethodName, request: Json, expected: ExpectedError): Promise<void> {
      const error: unknown = await clients.call(method, request).then(
        async (result) => {
          if (!(result instanceof gax.Operation)) return assert.fail(`${method}: expected ${gax.Status[expected.code]}, got ${JSON.stringify(result)}`);
          const failure: unknown = await result.promise().then(
            () => assert.fail(`${method}: expected ${gax.Status[expected.code]}, but the operation succeeded`),
            (e: unknown) => e,
          );
          const e = failure as Error & { code?: unknown };
          assert.equal(e.code, expected.code, `${method} (in its operation): ${e.message}`);
          if (expected.message) assert.match(e.message, expected.message);
          return undefined;
        },
        (e: unknown) => e,
      );
      refused.add(method);
      if (error === undefined) return;
      assert.ok(error instanceof Error, `${method}: expected an Error, got ${String(error)}`);
      const e = error as Error & { code?: unknown; reason?: string };
      if (transport === 'grpc') {
        assert.equal(e.code, expected.code, `${method}: ${e.message}`);
        if (expected.reason) assert.equal(e.reason, expected.reason, `${method}: ${e.message}`);
        if (expected.message) assert.match(e.message, expected.message);
        return;
      }
      const [http, status] = HTTP[expected.code] ?? [0, ''];
      assert.equal(e.code, http, `${method}: ${e.message}`);
      const body = JSON.parse(e.message) as { error: { code: number; status: string; message: string; details?: Json[] } };
      assert.equal(body.error.code, http);
      assert.equal(body.error.status, status, `${method}: ${e.message}`);
      if (expected.reason) {
        const info = body.error.details?.find((d) => d['@type'] === 'type.googleapis.com/google.rpc.ErrorInfo');
        assert.equal(info?.reason, expected.reason, `${method}: ${e.message}`);
      }
      if (expected.message) assert.match(body.error.message, expected.message);
    }

    test('the clients wire exactly the methods of both services in the official protos', () => {
      const inProtos = ['DeveloperConnect', 'InsightsConfigService'].flatMap((service) =>
        clients.protos.lookupService(`google.cloud.developerconnect.v1.${service}`).methodsArray.map((m) => m.name[0]!.toLowerCase() + m.name.slice(1)),
      );
      assert.equal(inProtos.length, 33);
      assert.deepEqual([...ALL_METHODS].sort(), [...inProtos].sort());
    });

    test('Connections: Create, Get, List, Update, Delete', async () => {
      const [made, metadata] = await lro<Resource>('createConnection', { parent, connectionId: 'crud', connection: { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } } });
      assert.equal(made.name, `${parent}/connections/crud`);
      assert.equal(metadata.verb, 'create');
      assert.equal(metadata.target, made.name);
      await lro('createConnection', { parent, connectionId: 'crud-2', connection: { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } } });

      const got = await call<Resource>('getConnection', { name: made.name });
      assert.equal(got.uid, made.uid);
      const [all] = await paged('listConnections', { parent, pageSize: 1 });
      assert.deepEqual(names(all), [`${parent}/connections/crud`, `${parent}/connections/crud-2`], 'autoPaginate follows every page');
      const [page, next] = await paged('listConnections', { parent, pageSize: 1 }, { autoPaginate: false });
      assert.deepEqual(names(page), [made.name]);
      assert.ok(next?.pageToken, 'the first page names the next');

      const [updated] = await lro<Resource>('updateConnection', { connection: { name: made.name, labels: { env: 'prod' } }, updateMask: { paths: ['labels'] } });
      assert.deepEqual({ ...updated.labels }, { env: 'prod' });
      assert.notEqual(updated.etag, made.etag);

      const [, deleted] = await lro('deleteConnection', { name: made.name });
      assert.equal(deleted.verb, 'delete');

      await rejects('getConnection', { name: made.name }, NOT_FOUND);
      await rejects('createConnection', { parent, connectionId: 'Not_A_Valid_Id', connection: { githubConfig: {} } }, INVALID);
      await rejects('listConnections', { parent, filter: 'no_such_field = 1' }, INVALID);
      await rejects('updateConnection', { connection: { name: `${parent}/connections/crud-2`, labels: { a: 'b' } }, updateMask: { paths: ['uid'] } }, INVALID);
      await rejects('deleteConnection', { name: `${parent}/connections/never-made` }, NOT_FOUND);
    });

    /** A connection to the git host with its git proxy on, and a link to shop.git under it (made by the first git test). */
    let connection: Resource;
    let link: Resource & { cloneUri: string; gitProxyUri: string };

    test('GitRepositoryLinks: Create, Get, List; FetchReadToken and FetchReadWriteToken open the link for git', async () => {
      [connection] = await lro<Resource>('createConnection', {
        parent,
        connectionId: 'git-host',
        connection: { httpConfig: { hostUri: host.url }, gitProxyConfig: { enabled: true } },
      });
      [link] = await lro<Resource & { cloneUri: string; gitProxyUri: string }>('createGitRepositoryLink', {
        parent: connection.name,
        gitRepositoryLinkId: 'shop',
        gitRepositoryLink: { cloneUri: `${host.url}/shop.git` },
      });
      assert.equal(link.name, `${connection.name}/gitRepositoryLinks/shop`);
      assert.equal(link.gitProxyUri, `${server.url}/git-proxy/${link.name}`);
      assert.equal((await call<Resource>('getGitRepositoryLink', { name: link.name })).uid, link.uid);
      const [links] = await paged('listGitRepositoryLinks', { parent: connection.name });
      assert.deepEqual(names(links), [link.name]);

      // The tokens open the link through this server's git proxy, for the real git command line.
      const lsRemote = async (token: string) => {
        const url = link.gitProxyUri.replace('http://', `http://oauth2:${encodeURIComponent(token)}@`);
        return (await run('git', ['ls-remote', '--heads', url], { env: gitEnvironment(dir) })).stdout;
      };
      const read = await call<{ token: string; gitUsername: string; expirationTime: Timestamp }>('fetchReadToken', { gitRepositoryLink: link.name });
      assert.equal(read.gitUsername, 'oauth2');
      const expiresIn = secondsOf(read.expirationTime) - Date.now() / 1000;
      assert.ok(expiresIn > 3_500 && expiresIn <= 3_600, `expires in ${expiresIn} s`);
      assert.match(await lsRemote(read.token), /refs\/heads\/main/);
      const write = await call<{ token: string; gitUsername: string }>('fetchReadWriteToken', { gitRepositoryLink: link.name });
      assert.equal(write.gitUsername, 'oauth2');
      assert.notEqual(write.token, read.token);
      assert.match(await lsRemote(write.token), /refs\/heads\/dev/);

      // Refusals: a link under a connection without its git proxy, a missing link, a missing parent, a bad filter,
      // and FetchGitRefs without a ref type (which leaves the enum out of the request on either transport).
      const [noProxy] = await lro<Resource>('createConnection', { parent, connectionId: 'no-proxy', connection: { httpConfig: { hostUri: host.url } } });
      const [unproxied] = await lro<Resource>('createGitRepositoryLink', { parent: noProxy.name, gitRepositoryLinkId: 'shop', gitRepositoryLink: { cloneUri: `${host.url}/shop.git` } });
      await rejects('fetchReadToken', { gitRepositoryLink: unproxied.name }, PRECONDITION);
      await rejects('fetchReadWriteToken', { gitRepositoryLink: `${connection.name}/gitRepositoryLinks/none` }, NOT_FOUND);
      await rejects('createGitRepositoryLink', { parent: `${parent}/connections/none`, gitRepositoryLinkId: 'x', gitRepositoryLink: { cloneUri: `${host.url}/shop.git` } }, NOT_FOUND);
      await rejects('getGitRepositoryLink', { name: `${connection.name}/gitRepositoryLinks/none` }, NOT_FOUND);
      await rejects('listGitRepositoryLinks', { parent: connection.name, filter: 'no_such_field = 1' }, INVALID);
      await rejects('fetchGitRefs', { gitRepositoryLink: link.name }, { ...INVALID, message: /ref_type/ });
    });

    test(
      "FetchGitRefs lists the host's branches and tags, paged (over REST the fallback sends refType as a number: ?refType=2)",
      async () => {
        const [branches] = await paged('fetchGitRefs', { gitRepositoryLink: link.name, refType: 'BRANCH' });
        assert.deepEqual(branches, ['refs/heads/dev', 'refs/heads/main']);
        const [tags] = await paged('fetchGitRefs', { gitRepositoryLink: link.name, refType: 'TAG' });
        assert.deepEqual(tags, ['refs/tags/v1.0']);
        const [first, next] = await paged('fetchGitRefs', { gitRepositoryLink: link.name, refType: 'BRANCH', pageSize: 1 }, { autoPaginate: false });
        assert.deepEqual(first, ['refs/heads/dev']);
        assert.ok(next?.pageToken, 'the first page names the next');
        await rejects('fetchGitRefs', { gitRepositoryLink: `${connection.name}/gitRepositoryLinks/none`, refType: 'TAG' }, NOT_FOUND);
      },
    );

    test('DeleteGitRepositoryLink; a connection is deleted only once its links are gone', async () => {
      await rejects('deleteConnection', { name: connection.name }, PRECONDITION);
      const [, unlinked] = await lro('deleteGitRepositoryLink', { name: link.name });
      assert.equal(unlinked.verb, 'delete');
      assert.equal(unlinked.target, link.name);
      await rejects('deleteGitRepositoryLink', { name: link.name }, NOT_FOUND);
      const [empty] = await paged('listGitRepositoryLinks', { parent: connection.name });
      assert.deepEqual(empty, []);
      await lro('deleteConnection', { name: connection.name });
      await rejects('getConnection', { name: connection.name }, NOT_FOUND);
    });

    test('FetchLinkableGitRepositories and FetchGitHubInstallations answer FAILED_PRECONDITION by design', async () => {
      const [github] = await lro<Resource>('createConnection', { parent, connectionId: 'github', connection: { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } } });
      const [http] = await lro<Resource>('createConnection', { parent, connectionId: 'http', connection: { httpConfig: { hostUri: host.url } } });
      await rejects('fetchLinkableGitRepositories', { connection: github.name }, { code: gax.Status.FAILED_PRECONDITION, reason: 'PROVIDER_API_NOT_EMULATED' });
      await rejects('fetchLinkableGitRepositories', { connection: http.name }, { code: gax.Status.FAILED_PRECONDITION, reason: 'PROVIDER_HAS_NO_LISTING' });
      await rejects('fetchGitHubInstallations', { connection: github.name }, { code: gax.Status.FAILED_PRECONDITION, reason: 'PROVIDER_API_NOT_EMULATED' });
      await rejects('fetchGitHubInstallations', { connection: http.name }, { code: gax.Status.FAILED_PRECONDITION, reason: 'NOT_A_GITHUB_CONNECTION' });
      await rejects('fetchGitHubInstallations', { connection: `${parent}/connections/none` }, NOT_FOUND);
      for (const method of ['fetchLinkableGitRepositories', 'fetchGitHubInstallations'] as const) answered.add(method);
    });

    test('AccountConnectors: Create, Get, List, Update, Delete', async () => {
      const request = (id: string) => ({ parent, accountConnectorId: id, accountConnector: { providerOauthConfig: { systemProviderId: 'GITLAB', scopes: ['api'] } } });
      const [made, metadata] = await lro<Resource & { providerOauthConfig: { systemProviderId: unknown; scopes: string[] } }>('createAccountConnector', request('crud'));
      assert.equal(made.name, `${parent}/accountConnectors/crud`);
      assert.equal(metadata.verb, 'create');
      assert.equal(enumName('SystemProvider', made.providerOauthConfig.systemProviderId), 'GITLAB');
      assert.deepEqual(made.providerOauthConfig.scopes, ['api']);
      await lro('createAccountConnector', request('crud-2'));

      assert.equal((await call<Resource>('getAccountConnector', { name: made.name })).name, made.name);
      const [all] = await paged('listAccountConnectors', { parent, pageSize: 1 });
      assert.deepEqual(names(all), [made.name, `${parent}/accountConnectors/crud-2`]);

      const [updated] = await lro<Resource>('updateAccountConnector', { accountConnector: { name: made.name, labels: { team: 'a' } }, updateMask: { paths: ['labels'] } });
      assert.deepEqual({ ...updated.labels }, { team: 'a' });
      assert.notEqual(updated.etag, made.etag);
      await lro('deleteAccountConnector', { name: made.name });

      await rejects('getAccountConnector', { name: made.name }, NOT_FOUND);
      await rejects('createAccountConnector', request('crud-2'), { code: gax.Status.ALREADY_EXISTS });
      await rejects('listAccountConnectors', { parent, filter: 'no_such_field = 1' }, INVALID);
      await rejects('updateAccountConnector', { accountConnector: { name: made.name, labels: { a: 'b' } }, updateMask: { paths: ['labels'] } }, NOT_FOUND);
      await rejects('deleteAccountConnector', { name: `${parent}/accountConnectors/crud-2`, etag: 'stale-etag' }, { code: gax.Status.ABORTED });
    });

    test(
      'CreateAccountConnector refuses a provider OAuth config without its REQUIRED scopes',
      async () => {
        const request = { parent, accountConnectorId: 'no-scopes', accountConnector: { providerOauthConfig: { systemProviderId: 'GITHUB' } } };
        await rejects('createAccountConnector', request, { ...INVALID, message: /scopes/ });
      },
    );

    test('StartOAuth → authorize page → FinishOAuth, FetchAccessToken, FetchSelf, ListUsers, DeleteSelf, DeleteUser', async () => {
      const [connector] = await lro<Resource>('createAccountConnector', {
        parent,
        accountConnectorId: 'github',
        accountConnector: { providerOauthConfig: { systemProviderId: 'GITHUB', scopes: ['repo', 'read:user'] } },
      });
      const missing = `${parent}/accountConnectors/none`;
      await rejects('fetchSelf', { name: connector.name }, NOT_FOUND);
      await rejects('fetchAccessToken', { accountConnector: connector.name }, NOT_FOUND);
      await rejects('startOAuth', { accountConnector: missing }, NOT_FOUND);
      await rejects('finishOAuth', { accountConnector: missing, oauthParams: { code: 'c', ticket: 't' } }, NOT_FOUND);
      await rejects('listUsers', { parent: connector.name, filter: 'no_such_field = 1' }, INVALID);
      await rejects('deleteUser', { name: `${connector.name}/users/none` }, NOT_FOUND);
      await rejects('deleteSelf', { name: connector.name }, NOT_FOUND);

      /** The whole flow: StartOAuth, the authorize page clicked through as a browser posts its form, FinishOAuth. */
      const connect = async (): Promise<void> => {
        const start = await call<{ ticket: string; authUri: string; codeChallenge: string; codeChallengeMethod: string; scopes: string[]; systemProviderId: unknown }>(
          'startOAuth',
          { accountConnector: connector.name },
        );
        assert.equal(enumName('SystemProvider', start.systemProviderId), 'GITHUB');
        assert.equal(start.codeChallengeMethod, 'S256');
        assert.deepEqual(start.scopes, ['repo', 'read:user']);
        const authUri = new URL(start.authUri);
        assert.equal(authUri.origin, server.url);
        assert.equal(authUri.searchParams.get('state'), start.ticket);

        const page = await fetch(authUri);
        assert.equal(page.status, 200);
        const form = new URLSearchParams();
        for (const [, name, value] of (await page.text()).matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) form.set(name!, value!.replaceAll('&amp;', '&'));
        form.set('decision', 'allow');
        const granted = await fetch(new URL('/oauth/authorize', server.url), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: form.toString(),
          redirect: 'manual',
        });
        const code = /<code id="code">([^<]+)<\/code>/.exec(await granted.text())?.[1] ?? '';
        assert.ok(code.length > 20, 'the authorize page issued a code');

        const bad = await call<{ exchangeError?: { code: string } | null }>('finishOAuth', { accountConnector: connector.name, oauthParams: { code: 'made-up', ticket: start.ticket } });
        assert.equal(bad.exchangeError?.code, 'invalid_grant', 'a bad code is an exchange_error, not an RPC error');
        const finished = await call<{ exchangeError?: unknown }>('finishOAuth', { accountConnector: connector.name, oauthParams: { code, ticket: start.ticket } });
        assert.equal(finished.exchangeError ?? null, null, JSON.stringify(finished));
      };

      await connect();
      const self = await call<Resource & { displayName: string }>('fetchSelf', { name: connector.name });
      assert.match(self.name, new RegExp(`^${connector.name}/users/u[0-9a-f]{20}$`));
      assert.equal(self.displayName, 'dev@localhost');
      const token = await call<{ token: string; scopes: string[]; expirationTime: Timestamp }>('fetchAccessToken', { accountConnector: connector.name });
      assert.deepEqual(token.scopes, ['repo', 'read:user']);
      assert.ok(token.token.length > 20);
      assert.ok(secondsOf(token.expirationTime) - Date.now() / 1000 > 3_500);
      const [users] = await paged('listUsers', { parent: connector.name });
      assert.deepEqual(names(users), [self.name]);

      const [, selfDeleted] = await lro('deleteSelf', { name: connector.name });
      assert.equal(selfDeleted.target, self.name);
      await rejects('fetchSelf', { name: connector.name }, NOT_FOUND);

      await connect();
      // A connector with Users is not deleted without force.
      await rejects('deleteAccountConnector', { name: connector.name }, PRECONDITION);
      const [, userDeleted] = await lro('deleteUser', { name: self.name });
      assert.equal(userDeleted.target, self.name);
      const [none] = await paged('listUsers', { parent: connector.name });
      assert.deepEqual(none, []);
      await lro('deleteAccountConnector', { name: connector.name });
    });

    test('InsightsConfigs: Create, Get, List, Update, Delete', async () => {
      const app = (name: string) => `projects/gax-${transport}/locations/us-central1/applications/${name}`;
      const [made, metadata] = await lro<Resource & { state: unknown; appHubApplication: string }>('createInsightsConfig', {
        parent,
        insightsConfigId: 'shop',
        insightsConfig: { appHubApplication: app('shop') },
      });
      assert.equal(made.name, `${parent}/insightsConfigs/shop`);
      assert.equal(metadata.verb, 'create');
      assert.equal(enumName('InsightsConfig.State', made.state), 'PENDING', 'discovering the App Hub application');
      await lro('createInsightsConfig', { parent, insightsConfigId: 'cart', insightsConfig: { appHubApplication: app('cart') } });

      const got = await call<Resource & { appHubApplication: string }>('getInsightsConfig', { name: made.name });
      assert.equal(got.appHubApplication, app('shop'));
      const [all] = await paged('listInsightsConfigs', { parent, pageSize: 1 });
      assert.deepEqual(names(all).sort(), [`${parent}/insightsConfigs/cart`, made.name]);

      const [updated] = await lro<Resource & { appHubApplication: string }>('updateInsightsConfig', {
        insightsConfig: { name: made.name, appHubApplication: app('shop'), labels: { env: 'prod' } },
      });
      assert.deepEqual({ ...updated.labels }, { env: 'prod' });
      assert.equal(updated.appHubApplication, app('shop'));
      await lro('deleteInsightsConfig', { name: made.name });

      await rejects('getInsightsConfig', { name: made.name }, NOT_FOUND);
      await rejects('createInsightsConfig', { parent, insightsConfigId: 'Bad_Id', insightsConfig: { appHubApplication: app('x') } }, INVALID);
      await rejects('listInsightsConfigs', { parent, filter: 'no_such_field = 1' }, INVALID);
      await rejects('updateInsightsConfig', { insightsConfig: { name: made.name, appHubApplication: app('shop') } }, NOT_FOUND);
      await rejects('deleteInsightsConfig', { name: made.name }, NOT_FOUND);
    });

    test('GetDeploymentEvent and ListDeploymentEvents read the fixture', async () => {
      const event = await call<Resource & { state: unknown; deployTime: Timestamp; runtimeDeploymentUri: string }>('getDeploymentEvent', {
        name: `${FIXTURE_CONFIG}/deploymentEvents/e2`,
      });
      assert.equal(enumName('DeploymentEvent.State', event.state), 'STATE_ACTIVE');
      assert.equal(secondsOf(event.deployTime), Date.parse('2026-11-20T10:00:00Z') / 1000);
      assert.equal(event.runtimeDeploymentUri, 'rev-e2');

      const [all] = await paged('listDeploymentEvents', { parent: FIXTURE_CONFIG });
      assert.deepEqual(names(all).sort(), [`${FIXTURE_CONFIG}/deploymentEvents/e1`, `${FIXTURE_CONFIG}/deploymentEvents/e2`]);
      const [page, next] = await paged('listDeploymentEvents', { parent: FIXTURE_CONFIG, pageSize: 1 }, { autoPaginate: false });
      assert.equal(page.length, 1);
      assert.ok(next?.pageToken);
      const [active] = await paged('listDeploymentEvents', { parent: FIXTURE_CONFIG, filter: 'state = STATE_ACTIVE' });
      assert.deepEqual(names(active), [event.name]);

      await rejects('getDeploymentEvent', { name: `${FIXTURE_CONFIG}/deploymentEvents/none` }, NOT_FOUND);
      await rejects('listDeploymentEvents', { parent: FIXTURE_CONFIG, filter: 'no_such_field = 1' }, INVALID);
    });

    test('every method was called, and every method was seen refusing', () => {
      assert.deepEqual(ALL_METHODS.filter((m) => !answered.has(m)), [], 'methods never called');
      assert.deepEqual(ALL_METHODS.filter((m) => !refused.has(m)), [], 'methods without a checked refusal');
    });
  });
}
