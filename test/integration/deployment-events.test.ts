/**
 * DeploymentEvents come from a fixture file (`serve --fixtures`, `devconnect-emulator fixtures load`)
 * and are read through GetDeploymentEvent and ListDeploymentEvents over REST and gRPC; the API has
 * no way to write them.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { InsightsConfigService } from '../../src/gen/google/cloud/developerconnect/v1/insights_config_pb.js';
import { grpcCall } from '../support/auth-matrix-helpers.js';
import { PARENT, rest, startTestServer, type TestServer } from '../support/server.js';

type Json = Record<string, unknown>;
const run = promisify(execFile);
const CONFIG = `${PARENT}/insightsConfigs/shop`;
const event = (id: string, state: string, deployTime: string, uri: string): Json => ({
  name: `${CONFIG}/deploymentEvents/${id}`,
  state,
  deployTime,
  runtimeDeploymentUri: uri,
  runtimeConfig: { uri: '//run.googleapis.com/projects/demo/locations/us-central1/services/shop', state: 'LINKED' },
  artifactDeployments: [{ id: `${id}-a`, artifactReference: 'us-docker.pkg.dev/demo/shop/web@sha256:abc', sourceCommitUris: ['https://example.com/shop/commit/1'] }],
});

describe('DeploymentEvents from fixtures', () => {
  let dir: string;
  let server: TestServer;
  let client: grpc.Client;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fixtures-'));
    const fixture = join(dir, 'fixture.json');
    writeFileSync(
      fixture,
      JSON.stringify({
        insightsConfigs: [{ name: CONFIG, appHubApplication: 'projects/demo/locations/us-central1/applications/shop' }],
        connections: [
          { name: `${PARENT}/connections/from-fixture`, githubConfig: { githubApp: 'DEVELOPER_CONNECT' } },
          { name: `${PARENT}/connections/stated`, githubConfig: { githubApp: 'DEVELOPER_CONNECT' }, installationState: { stage: 'COMPLETE' } },
        ],
        deploymentEvents: [event('e1', 'STATE_INACTIVE', '2026-11-01T10:00:00Z', 'rev-1'), event('e2', 'STATE_ACTIVE', '2026-11-20T10:00:00Z', 'rev-2')],
      }),
    );
    server = await startTestServer({ fixturesFile: fixture });
    client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    client?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('GetDeploymentEvent and ListDeploymentEvents (with a filter) read what the fixture seeded, over REST and gRPC', async () => {
    const got = await rest(server.url, 'GET', `/v1/${CONFIG}/deploymentEvents/e2`);
    assert.equal(got.status, 200, JSON.stringify(got.body));
    assert.equal(got.body.state, 'STATE_ACTIVE');
    assert.equal(got.body.deployTime, '2026-11-20T10:00:00Z');
    assert.ok(got.body.createTime, 'server-kept times are set when the fixture leaves them out');
    assert.equal(((got.body.artifactDeployments as Json[])[0] as Json).id, 'e2-a');

    const all = await rest(server.url, 'GET', `/v1/${CONFIG}/deploymentEvents`);
    assert.deepEqual((all.body.deploymentEvents as Json[]).map((e) => e.runtimeDeploymentUri), ['rev-1', 'rev-2']);
    const active = await rest(server.url, 'GET', `/v1/${CONFIG}/deploymentEvents?filter=${encodeURIComponent('state = STATE_ACTIVE')}`);
    assert.deepEqual((active.body.deploymentEvents as Json[]).map((e) => e.name), [`${CONFIG}/deploymentEvents/e2`]);
    const recent = await rest(server.url, 'GET', `/v1/${CONFIG}/deploymentEvents?filter=${encodeURIComponent('deploy_time > "2026-11-10T00:00:00Z"')}`);
    assert.deepEqual((recent.body.deploymentEvents as Json[]).map((e) => e.name), [`${CONFIG}/deploymentEvents/e2`]);

    const overGrpc = await grpcCall(client, InsightsConfigService.method.getDeploymentEvent, { name: `${CONFIG}/deploymentEvents/e1` }, undefined);
    assert.equal(overGrpc.body.state, 'STATE_INACTIVE');
    const missing = await grpcCall(client, InsightsConfigService.method.getDeploymentEvent, { name: `${CONFIG}/deploymentEvents/none` }, undefined);
    assert.equal(missing.status, 'NOT_FOUND');
  });

  test('fields the server derives are set on fixture resources as on created ones, unless the fixture sets them', async () => {
    const derived = await rest(server.url, 'GET', `/v1/${PARENT}/connections/from-fixture`);
    assert.equal(derived.status, 200, JSON.stringify(derived.body));
    const state = derived.body.installationState as Json;
    assert.equal(state.stage, 'PENDING_USER_OAUTH');
    assert.equal(state.actionUri, `${server.url}/console/${PARENT}/connections/from-fixture`, "the action URI is the server's own console page");
    const stated = await rest(server.url, 'GET', `/v1/${PARENT}/connections/stated`);
    assert.equal((stated.body.installationState as Json).stage, 'COMPLETE');
    const config = await rest(server.url, 'GET', `/v1/${CONFIG}`);
    assert.equal(config.body.state, 'COMPLETE');
  });

  test('the API cannot write them: no method creates, updates or deletes a DeploymentEvent', async () => {
    for (const [method, path] of [
      ['POST', `/v1/${CONFIG}/deploymentEvents?deploymentEventId=e3`],
      ['DELETE', `/v1/${CONFIG}/deploymentEvents/e1`],
      ['PATCH', `/v1/${CONFIG}/deploymentEvents/e1`],
    ] as const) {
      const res = await rest(server.url, method, path, method === 'DELETE' ? undefined : {});
      assert.equal(res.status, 404, `${method} ${path}: ${JSON.stringify(res.body)}`);
      assert.equal((res.body.error as Json).status, 'NOT_FOUND');
    }
  });

  test('`fixtures load` seeds a data directory while the server runs on it; a bad file names the entry and loads nothing wrong', async () => {
    const more = join(dir, 'more.json');
    writeFileSync(more, JSON.stringify({ deploymentEvents: [event('e3', 'STATE_ACTIVE', '2026-11-25T10:00:00Z', 'rev-3')] }));
    const cli = join(process.cwd(), 'src/cli/main.ts');
    const loaded = await run(process.execPath, ['--import', 'tsx', cli, 'fixtures', 'load', more, '--data-dir', server.dataDir]);
    assert.match(loaded.stdout, /Loaded 1 deploymentEvents/);
    const got = await rest(server.url, 'GET', `/v1/${CONFIG}/deploymentEvents/e3`);
    assert.equal(got.body.runtimeDeploymentUri, 'rev-3');
    const filtered = await rest(server.url, 'GET', `/v1/${CONFIG}/deploymentEvents?filter=${encodeURIComponent('runtime_deployment_uri = rev-3')}`);
    assert.deepEqual((filtered.body.deploymentEvents as Json[]).map((e) => e.name), [`${CONFIG}/deploymentEvents/e3`], 'indexed for filters as it is written');

    const orphan = join(dir, 'orphan.json');
    writeFileSync(orphan, JSON.stringify({ deploymentEvents: [{ name: `${PARENT}/insightsConfigs/none/deploymentEvents/x` }] }));
    await assert.rejects(run(process.execPath, ['--import', 'tsx', cli, 'fixtures', 'load', orphan, '--data-dir', server.dataDir]), /deploymentEvents\[0\].*Parent resource .*insightsConfigs\/none' was not found/s);
    const unknown = join(dir, 'unknown.json');
    writeFileSync(unknown, JSON.stringify({ widgets: [] }));
    await assert.rejects(run(process.execPath, ['--import', 'tsx', cli, 'fixtures', 'load', unknown, '--data-dir', server.dataDir]), /'widgets' is not a collection/);
  });
});
