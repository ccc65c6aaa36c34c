/**
 * The AIP standard methods as every resource gets them (src/api/standard-methods.ts), seen over
 * REST as curl sees them: UpdateConnection (AIP-134), GitRepositoryLinks under their connection,
 * and the preconditions the store checks in the commit (absent, exists, etag, parent, children).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { DeveloperConnect } from '../../src/gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { InsightsConfigService } from '../../src/gen/google/cloud/developerconnect/v1/insights_config_pb.js';
import { Code, grpcCall } from '../support/auth-matrix-helpers.js';
import { PARENT, rest, startTestServer, untilDone, type JsonResponse, type TestServer } from '../support/server.js';

type Json = Record<string, unknown>;
const CONNECTIONS = `/v1/${PARENT}/connections`;
const GITHUB = { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } };

/** Asserts an AIP-193 error and returns it. */
function rpcError(res: JsonResponse, http: number, status: string): Json {
  assert.equal(res.status, http, JSON.stringify(res.body));
  const error = res.body.error as Json;
  assert.equal(error.status, status, JSON.stringify(error));
  return error;
}

/** The google.rpc.BadRequest field violations of an error. */
function violations(error: Json): string[] {
  const badRequest = (error.details as Json[]).find((d) => d['@type'] === 'type.googleapis.com/google.rpc.BadRequest');
  return ((badRequest?.fieldViolations as Json[] | undefined) ?? []).map((v) => String(v.field));
}

/** The resource in an operation's response (an Any: without its `@type`). */
function unpacked(response: unknown): Json {
  const { '@type': _type, ...resource } = response as Json;
  return resource;
}

/** The response of an operation that the server returned done (it runs with --operation-delay 0s). */
function doneResponse(res: JsonResponse): Json {
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.done, true, JSON.stringify(res.body));
  assert.equal(res.body.error, undefined, JSON.stringify(res.body));
  return unpacked(res.body.response);
}

describe('standard methods over REST, instant operations', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ operationDelayMs: 0 });
  });
  after(() => server.stop());

  const createConnection = async (id: string, body: Json = GITHUB): Promise<Json> => doneResponse(await rest(server.url, 'POST', `${CONNECTIONS}?connectionId=${id}`, body));
  const patch = (name: string, mask: string, body: Json, query = '') => rest(server.url, 'PATCH', `/v1/${name}?updateMask=${encodeURIComponent(mask)}${query}`, body);

  test('UpdateConnection changes the masked fields only, with a new etag and update_time', async () => {
    const made = await createConnection('upd', { ...GITHUB, labels: { a: '1' }, annotations: { keep: 'me' } });
    await new Promise((r) => setTimeout(r, 5));
    const updated = doneResponse(await patch(made.name as string, 'labels', { labels: { b: '2' }, annotations: { ignored: 'x' }, disabled: true }));
    assert.deepEqual(updated.labels, { b: '2' });
    assert.deepEqual(updated.annotations, { keep: 'me' }, 'not in the mask: unchanged');
    assert.equal(updated.disabled, undefined, 'not in the mask: unchanged');
    assert.notEqual(updated.etag, made.etag, 'a new etag on every update');
    assert.equal(updated.createTime, made.createTime);
    assert.ok(String(updated.updateTime) > String(made.updateTime), `${String(updated.updateTime)} after ${String(made.updateTime)}`);
    assert.equal(updated.uid, made.uid);
    const got = await rest(server.url, 'GET', `/v1/${String(made.name)}`);
    assert.deepEqual(got.body, updated, 'GetConnection sees what the update returned');
  });

  test('installation_state follows the GitHub configuration: OAuth first, then the app installation', async () => {
    const made = await createConnection('install');
    assert.equal((made.installationState as Json).stage, 'PENDING_USER_OAUTH');
    const credential = { oauthTokenSecretVersion: 'projects/demo/secrets/gh/versions/1' };
    const authorized = doneResponse(await patch(made.name as string, 'githubConfig', { githubConfig: { githubApp: 'DEVELOPER_CONNECT', authorizerCredential: credential } }));
    assert.equal((authorized.installationState as Json).stage, 'PENDING_INSTALL_APP');
    const installed = doneResponse(
      await patch(made.name as string, 'githubConfig.appInstallationId', { githubConfig: { appInstallationId: '42' } }),
    );
    assert.equal((installed.installationState as Json).stage, 'COMPLETE');
    assert.equal((installed.githubConfig as Json).appInstallationId, '42');
    assert.deepEqual((installed.githubConfig as Json).authorizerCredential, credential, 'a nested path leaves its siblings');
  });

  test("update_mask '*' replaces every field a client may set; allow_missing creates", async () => {
    const made = await createConnection('star', { ...GITHUB, labels: { a: '1' } });
    const replaced = doneResponse(await patch(made.name as string, '*', { gitlabConfig: { webhookSecretSecretVersion: 'projects/demo/secrets/w/versions/1' } }));
    assert.equal(replaced.labels, undefined);
    assert.equal(replaced.githubConfig, undefined, 'the oneof moved to gitlab_config');
    assert.ok(replaced.gitlabConfig);
    assert.equal(replaced.uid, made.uid, 'output-only fields are kept by the server');

    const name = `${PARENT}/connections/upserted`;
    rpcError(await patch(name, 'labels', { labels: { x: 'y' } }), 404, 'NOT_FOUND');
    const upserted = doneResponse(await patch(name, '*', { ...GITHUB, labels: { x: 'y' } }, '&allowMissing=true'));
    assert.equal(upserted.name, name);
    assert.deepEqual(upserted.labels, { x: 'y' });
    assert.ok(upserted.createTime && upserted.uid && upserted.etag);
  });

  test('bad updates are INVALID_ARGUMENT naming the field, and change nothing', async () => {
    const made = await createConnection('bad-upd');
    const missingMask = rpcError(await rest(server.url, 'PATCH', `/v1/${String(made.name)}`, { labels: { a: 'b' } }), 400, 'INVALID_ARGUMENT');
    assert.deepEqual(violations(missingMask), ['update_mask']);
    for (const mask of ['colour', 'uid', 'createTime', 'installationState', 'name', 'labels.x.y', 'githubConfig.nothing']) {
      const error = rpcError(await patch(made.name as string, mask, { labels: { a: 'b' } }), 400, 'INVALID_ARGUMENT');
      assert.deepEqual(violations(error), ['update_mask'], mask);
    }
    assert.deepEqual((await rest(server.url, 'GET', `/v1/${String(made.name)}`)).body, made, 'nothing changed');
  });

  test('IMMUTABLE fields, at any depth, cannot change: the call fails INVALID_ARGUMENT naming the field, and nothing changes', async () => {
    const made = await createConnection('immutable', { httpConfig: { hostUri: 'http://127.0.0.1:9' }, labels: { a: '1' } });
    const moved = rpcError(await patch(made.name as string, 'httpConfig.hostUri', { httpConfig: { hostUri: 'http://127.0.0.1:10' } }), 400, 'INVALID_ARGUMENT');
    assert.match(String(moved.message), /http_config\.host_uri cannot change after creation \(IMMUTABLE\)/);
    assert.deepEqual(violations(moved), ['connection.http_config.host_uri']);
    const replaced = rpcError(await patch(made.name as string, 'httpConfig', { httpConfig: { hostUri: 'http://127.0.0.1:10' } }), 400, 'INVALID_ARGUMENT');
    assert.deepEqual(violations(replaced), ['connection.http_config.host_uri'], 'replacing the message that holds it is a change too');
    assert.deepEqual((await rest(server.url, 'GET', `/v1/${String(made.name)}`)).body, made);
    const same = doneResponse(await patch(made.name as string, 'httpConfig,labels', { httpConfig: { hostUri: 'http://127.0.0.1:9' }, labels: { b: '2' } }));
    assert.deepEqual(same.labels, { b: '2' }, 'the same value is no change');
  });

  test('a stale etag is ABORTED, on update and on delete; the current one works', async () => {
    const made = await createConnection('etag');
    const updated = doneResponse(await patch(made.name as string, 'labels', { labels: { v: '2' }, etag: made.etag }));
    const stale = rpcError(await patch(made.name as string, 'labels', { labels: { v: '3' }, etag: made.etag }), 409, 'ABORTED');
    assert.match(String(stale.message), /etag/);
    rpcError(await rest(server.url, 'DELETE', `/v1/${String(made.name)}?etag=${String(made.etag)}`), 409, 'ABORTED');
    assert.deepEqual((await rest(server.url, 'GET', `/v1/${String(made.name)}`)).body, updated);
    doneResponse(await rest(server.url, 'DELETE', `/v1/${String(made.name)}?etag=${String(updated.etag)}`));
    rpcError(await rest(server.url, 'GET', `/v1/${String(made.name)}`), 404, 'NOT_FOUND');
  });

  test('GitRepositoryLinks live under their connection: create, get, list, delete', async () => {
    const connection = await createConnection('with-links');
    const links = `/v1/${String(connection.name)}/gitRepositoryLinks`;
    const link = doneResponse(await rest(server.url, 'POST', `${links}?gitRepositoryLinkId=repo-a`, { cloneUri: 'https://github.com/acme/a.git', labels: { t: 'x' } }));
    assert.equal(link.name, `${String(connection.name)}/gitRepositoryLinks/repo-a`);
    assert.equal(link.cloneUri, 'https://github.com/acme/a.git');
    assert.ok(link.uid && link.etag && link.createTime && link.webhookId);
    doneResponse(await rest(server.url, 'POST', `${links}?gitRepositoryLinkId=repo-b`, { cloneUri: 'https://github.com/acme/b.git' }));
    assert.deepEqual((await rest(server.url, 'GET', `/v1/${String(link.name)}`)).body, link);
    const listed = await rest(server.url, 'GET', links);
    assert.deepEqual((listed.body.gitRepositoryLinks as Json[]).map((l) => l.name), [link.name, `${String(connection.name)}/gitRepositoryLinks/repo-b`]);
    const filtered = await rest(server.url, 'GET', `${links}?filter=${encodeURIComponent('labels.t = x')}`);
    assert.deepEqual((filtered.body.gitRepositoryLinks as Json[]).map((l) => l.name), [link.name]);

    rpcError(await rest(server.url, 'POST', `${links}?gitRepositoryLinkId=repo-a`, { cloneUri: 'https://github.com/acme/a.git' }), 409, 'ALREADY_EXISTS');
    const missing = rpcError(await rest(server.url, 'POST', `${links}?gitRepositoryLinkId=no-uri`, { labels: {} }), 400, 'INVALID_ARGUMENT');
    assert.deepEqual(violations(missing), ['git_repository_link.clone_uri']);
    // AIP-203: a REQUIRED field inside a message the request sets is required too.
    const nested = rpcError(await rest(server.url, 'POST', `${CONNECTIONS}?connectionId=no-app`, { githubConfig: {}, gitProxyConfig: {} }), 400, 'INVALID_ARGUMENT');
    assert.deepEqual(violations(nested), ['connection.github_config.github_app']);
    const scopes = rpcError(await rest(server.url, 'POST', `/v1/${PARENT}/accountConnectors?accountConnectorId=x`, { providerOauthConfig: { systemProviderId: 'GITHUB' } }), 400, 'INVALID_ARGUMENT');
    assert.deepEqual(violations(scopes), ['account_connector.provider_oauth_config.scopes']);
    const orphan = rpcError(
      await rest(server.url, 'POST', `${CONNECTIONS}/nowhere/gitRepositoryLinks?gitRepositoryLinkId=x`, { cloneUri: 'https://github.com/acme/x.git' }),
      404,
      'NOT_FOUND',
    );
    assert.match(String(orphan.message), /Parent resource '.*\/connections\/nowhere' was not found/);

    // A connection with links cannot be deleted (DeleteConnection has no force).
    const blocked = rpcError(await rest(server.url, 'DELETE', `/v1/${String(connection.name)}`), 400, 'FAILED_PRECONDITION');
    assert.match(String(blocked.message), /has child resources/);
    doneResponse(await rest(server.url, 'DELETE', `/v1/${String(link.name)}`));
    doneResponse(await rest(server.url, 'DELETE', `/v1/${String(connection.name)}/gitRepositoryLinks/repo-b`));
    doneResponse(await rest(server.url, 'DELETE', `/v1/${String(connection.name)}`));
    rpcError(await rest(server.url, 'GET', `/v1/${String(link.name)}`), 404, 'NOT_FOUND');
  });
});

describe('the same standard methods on InsightsConfigs and AccountConnectors, over REST and gRPC', () => {
  let server: TestServer;
  let client: grpc.Client;
  before(async () => {
    server = await startTestServer({ operationDelayMs: 0 });
    client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await server.stop();
  });

  test('InsightsConfigs: create (PENDING, discovering), get, list with filter, an update without update_mask that keeps what it leaves out, delete', async () => {
    const base = `/v1/${PARENT}/insightsConfigs`;
    const made = doneResponse(await rest(server.url, 'POST', `${base}?insightsConfigId=app`, { appHubApplication: 'projects/demo/locations/us-central1/applications/shop', labels: { t: 'a' } }));
    assert.equal(made.name, `${PARENT}/insightsConfigs/app`);
    assert.equal(made.state, 'PENDING', 'discovery of the App Hub application ends after the create (insights-config-state.test.ts)');
    assert.deepEqual((await rest(server.url, 'GET', `/v1/${String(made.name)}`)).body, made);
    doneResponse(await rest(server.url, 'POST', `${base}?insightsConfigId=other`, { projects: { projectIds: ['demo'] } }));
    const filtered = await rest(server.url, 'GET', `${base}?filter=${encodeURIComponent('labels.t = a')}`);
    assert.deepEqual((filtered.body.insightsConfigs as Json[]).map((c) => c.name), [made.name]);
    // UpdateInsightsConfig has no update_mask: the request changes the fields it sets, and the others stay (as in the cloud, which gcloud relies on).
    const updated = doneResponse(await rest(server.url, 'PATCH', `/v1/${String(made.name)}`, { labels: { t: 'b' } }));
    assert.equal(updated.appHubApplication, made.appHubApplication);
    assert.deepEqual(updated.labels, { t: 'b' });
    assert.equal(updated.createTime, made.createTime);
    doneResponse(await rest(server.url, 'DELETE', `/v1/${String(made.name)}`));
    rpcError(await rest(server.url, 'GET', `/v1/${String(made.name)}`), 404, 'NOT_FOUND');
  });

  test('AccountConnectors: create, an update whose omitted update_mask means the fields it sets, delete with etag', async () => {
    const base = `/v1/${PARENT}/accountConnectors`;
    const oauth = { providerOauthConfig: { systemProviderId: 'GITHUB', scopes: ['repo'] } };
    const made = doneResponse(await rest(server.url, 'POST', `${base}?accountConnectorId=gh`, { ...oauth, labels: { a: '1' }, annotations: { n: 'x' } }));
    assert.ok(made.etag && made.createTime);
    const updated = doneResponse(await rest(server.url, 'PATCH', `/v1/${String(made.name)}`, { labels: { b: '2' } }));
    assert.deepEqual(updated.labels, { b: '2' });
    assert.deepEqual(updated.annotations, { n: 'x' }, 'not set in the request: unchanged');
    assert.deepEqual(updated.providerOauthConfig, made.providerOauthConfig);
    rpcError(await rest(server.url, 'DELETE', `/v1/${String(made.name)}?etag=${String(made.etag)}`), 409, 'ABORTED');
    doneResponse(await rest(server.url, 'DELETE', `/v1/${String(made.name)}?etag=${String(updated.etag)}&force=true`));
  });

  test('over gRPC: the InsightsConfigService and AccountConnector methods answer as over REST', async () => {
    const created = await grpcCall(
      client,
      InsightsConfigService.method.createInsightsConfig,
      { parent: PARENT, insightsConfigId: 'grpc-app', insightsConfig: { appHubApplication: 'projects/demo/locations/us-central1/applications/x' } },
      undefined,
    );
    assert.equal(created.code, Code.OK, created.message);
    assert.equal(created.body.done, true);
    const got = await grpcCall(client, InsightsConfigService.method.getInsightsConfig, { name: `${PARENT}/insightsConfigs/grpc-app` }, undefined);
    assert.equal(got.body.state, 'PENDING');
    const missing = await grpcCall(client, DeveloperConnect.method.getAccountConnector, { name: `${PARENT}/accountConnectors/none` }, undefined);
    assert.equal(missing.status, 'NOT_FOUND');
    const badId = await grpcCall(client, DeveloperConnect.method.createAccountConnector, { parent: PARENT, accountConnectorId: 'Bad_Id', accountConnector: {} }, undefined);
    assert.equal(badId.status, 'INVALID_ARGUMENT');
    const events = await grpcCall(client, InsightsConfigService.method.listDeploymentEvents, { parent: `${PARENT}/insightsConfigs/grpc-app` }, undefined);
    assert.deepEqual([events.status, events.body], ['OK', {}], 'no DeploymentEvents until a fixture brings some');
  });
});

describe('standard methods over REST, operations that take 300 ms', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ operationDelayMs: 300 });
  });
  after(() => server.stop());

  test('two updates with the same etag: exactly one wins, the other ends ABORTED', async () => {
    const created = await rest(server.url, 'POST', `${CONNECTIONS}?connectionId=race`, GITHUB);
    const made = unpacked((await untilDone(server.url, created.body.name as string)).response);
    const update = (v: string) => rest(server.url, 'PATCH', `/v1/${String(made.name)}?updateMask=labels`, { labels: { v }, etag: made.etag });
    const [a, b] = await Promise.all([update('a'), update('b')]);
    const ends = await Promise.all([a, b].map((op) => untilDone(server.url, op.body.name as string)));
    const winners = ends.filter((op) => op.error === undefined);
    const losers = ends.filter((op) => (op.error as Json | undefined)?.code === 10);
    assert.equal(winners.length, 1, JSON.stringify(ends));
    assert.equal(losers.length, 1, JSON.stringify(ends));
    const stored = (await rest(server.url, 'GET', `/v1/${String(made.name)}`)).body;
    assert.deepEqual(stored, unpacked(winners[0]!.response), 'the stored connection is the winner’s');
  });

  test('reconciling is true while an operation on the resource runs, in Get and List', async () => {
    const created = await rest(server.url, 'POST', `${CONNECTIONS}?connectionId=busy`, GITHUB);
    const made = unpacked((await untilDone(server.url, created.body.name as string)).response);
    assert.equal(made.reconciling, undefined);
    const op = await rest(server.url, 'PATCH', `/v1/${String(made.name)}?updateMask=labels`, { labels: { a: 'b' } });
    assert.equal((await rest(server.url, 'GET', `/v1/${String(made.name)}`)).body.reconciling, true);
    const listed = (await rest(server.url, 'GET', CONNECTIONS)).body.connections as Json[];
    assert.equal(listed.find((c) => c.name === made.name)?.reconciling, true);
    // A filter sees `reconciling` as Get and List show it, though it is not stored.
    const filtered = async (filter: string) =>
      (((await rest(server.url, 'GET', `${CONNECTIONS}?filter=${encodeURIComponent(filter)}`)).body.connections as Json[] | undefined) ?? []).map((c) => c.name);
    assert.deepEqual(await filtered('reconciling = true'), [made.name]);
    assert.ok(!(await filtered('reconciling = false')).includes(made.name), 'not among those that are not reconciling');
    assert.ok(!(await filtered('NOT reconciling')).includes(made.name));
    await untilDone(server.url, op.body.name as string);
    assert.equal((await rest(server.url, 'GET', `/v1/${String(made.name)}`)).body.reconciling, undefined, 'false again once it is done');
    assert.deepEqual(await filtered('reconciling = true'), []);
    assert.ok((await filtered('reconciling = false')).includes(made.name));
  });

  test('a cancelled update leaves no trace', async () => {
    const created = await rest(server.url, 'POST', `${CONNECTIONS}?connectionId=cancel-upd`, GITHUB);
    const made = unpacked((await untilDone(server.url, created.body.name as string)).response);
    const op = await rest(server.url, 'PATCH', `/v1/${String(made.name)}?updateMask=labels`, { labels: { never: 'set' } });
    assert.equal(op.body.done, undefined);
    assert.equal((await rest(server.url, 'POST', `/v1/${String(op.body.name)}:cancel`)).status, 200);
    const ended = await untilDone(server.url, op.body.name as string);
    assert.equal((ended.error as Json).code, 1);
    assert.deepEqual((await rest(server.url, 'GET', `/v1/${String(made.name)}`)).body, made);
  });

  test('a link created while its connection is deleted: the connection delete fails, or the link create does', async () => {
    const created = await rest(server.url, 'POST', `${CONNECTIONS}?connectionId=contended`, GITHUB);
    const connection = unpacked((await untilDone(server.url, created.body.name as string)).response);
    const [link, del] = await Promise.all([
      rest(server.url, 'POST', `/v1/${String(connection.name)}/gitRepositoryLinks?gitRepositoryLinkId=l`, { cloneUri: 'https://github.com/a/b.git' }),
      rest(server.url, 'DELETE', `/v1/${String(connection.name)}`),
    ]);
    const [linkEnd, delEnd] = await Promise.all([untilDone(server.url, link.body.name as string), untilDone(server.url, del.body.name as string)]);
    const linkOk = linkEnd.error === undefined;
    const delOk = delEnd.error === undefined;
    assert.ok(linkOk !== delOk, `exactly one succeeds: ${JSON.stringify([linkEnd.error, delEnd.error])}`);
    const connectionNow = await rest(server.url, 'GET', `/v1/${String(connection.name)}`);
    const linkNow = await rest(server.url, 'GET', `/v1/${String(connection.name)}/gitRepositoryLinks/l`);
    assert.equal(connectionNow.status, linkOk ? 200 : 404);
    assert.equal(linkNow.status, linkOk ? 200 : 404, 'never a link without its connection');
  });
});
