/**
 * An InsightsConfig's `state` (issue #7): PENDING while Developer Connect discovers the App Hub
 * application's runtimes, then COMPLETE, as the cloud shows it: the create operation ends with the
 * config PENDING and a later Get shows it COMPLETE. Discovery takes `--insights-discovery-delay`
 * from the config's last write, and its end is stored, so a server restarted on the same data
 * completes what was left PENDING.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { JsonObject } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { InsightsConfigService } from '../../src/gen/google/cloud/developerconnect/v1/insights_config_pb.js';
import { Code, grpcCall, restCall, type Outcome, type Transport } from '../support/auth-matrix-helpers.js';
import { freshDatabaseUrl } from '../support/postgres.js';
import { PARENT, startTestServer, type TestServer } from '../support/server.js';

const DISCOVERY_MS = 300;
const app = (name: string) => `projects/demo/locations/us-central1/applications/${name}`;

/** The calls of the test, over one transport; each answers proto3 JSON (Operations for the writes). */
interface Api {
  create(id: string, config: JsonObject): Promise<JsonObject>;
  get(name: string): Promise<JsonObject>;
  list(filter: string): Promise<JsonObject[]>;
  update(config: JsonObject): Promise<JsonObject>;
}

function succeeded(outcome: Outcome): JsonObject {
  assert.equal(outcome.code, Code.OK, outcome.message);
  return outcome.body;
}

function restApi(url: string): Api {
  const call = async (verb: string, path: string, body?: JsonObject) => succeeded(await restCall(url, { verb, path, body }, undefined));
  return {
    create: (id, config) => call('POST', `/v1/${PARENT}/insightsConfigs?insightsConfigId=${id}`, config),
    get: (name) => call('GET', `/v1/${name}`),
    list: async (filter) => ((await call('GET', `/v1/${PARENT}/insightsConfigs?filter=${encodeURIComponent(filter)}`)).insightsConfigs ?? []) as JsonObject[],
    update: (config) => call('PATCH', `/v1/${String(config.name)}`, config),
  };
}

function grpcApi(client: grpc.Client): Api {
  const call = async (method: (typeof InsightsConfigService.method)[keyof typeof InsightsConfigService.method], request: JsonObject) =>
    succeeded(await grpcCall(client, method, request, undefined));
  const m = InsightsConfigService.method;
  return {
    create: (id, config) => call(m.createInsightsConfig, { parent: PARENT, insightsConfigId: id, insightsConfig: config }),
    get: (name) => call(m.getInsightsConfig, { name }),
    list: async (filter) => ((await call(m.listInsightsConfigs, { parent: PARENT, filter })).insightsConfigs ?? []) as JsonObject[],
    update: (config) => call(m.updateInsightsConfig, { insightsConfig: config }),
  };
}

/** The config an operation ended with: these operations are done at once (no --operation-delay). */
function response(operation: JsonObject): JsonObject {
  assert.equal(operation.done, true, JSON.stringify(operation));
  assert.equal(operation.error, undefined, JSON.stringify(operation));
  return operation.response as JsonObject;
}

/** Reads the config until it is COMPLETE (discovery ends on the server's own, DISCOVERY_MS after the write). */
async function untilComplete(api: Api, name: string): Promise<JsonObject> {
  const end = Date.now() + 10_000;
  for (;;) {
    const config = await api.get(name);
    if (config.state === 'COMPLETE') return config;
    assert.equal(config.state, 'PENDING');
    if (Date.now() > end) throw new Error(`${name} still PENDING after 10 s`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const millis = (time: unknown) => Date.parse(String(time));

describe('InsightsConfig state: PENDING while discovering, then COMPLETE', () => {
  let server: TestServer;
  let client: grpc.Client;
  before(async () => {
    server = await startTestServer({ insightsDiscoveryDelayMs: DISCOVERY_MS });
    client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await server.stop();
  });

  for (const transport of ['rest', 'grpc'] as Transport[]) {
    test(`over ${transport}: created PENDING, COMPLETE after the delay; a label change keeps the state, a new App Hub application discovers again`, async () => {
      const api = transport === 'rest' ? restApi(server.url) : grpcApi(client);
      const name = `${PARENT}/insightsConfigs/shop-${transport}`;
      const made = response(await api.create(`shop-${transport}`, { appHubApplication: app('shop'), state: 'COMPLETE' }));
      assert.equal(made.state, 'PENDING', 'the operation ends with the config discovering, whatever state the request asked for');
      assert.equal(made.reconciling, true, 'AIP-128: the service is updating it');
      const read = await api.get(name);
      assert.deepEqual([read.state, read.reconciling, read.updateTime], ['PENDING', true, made.updateTime]);
      assert.deepEqual((await api.list(`state = PENDING AND name = "${name}"`)).map((c) => c.name), [name]);

      const complete = await untilComplete(api, name);
      assert.equal(complete.reconciling, undefined, 'no longer reconciling (false is not written in proto3 JSON)');
      assert.ok(millis(complete.updateTime) >= millis(made.updateTime) + DISCOVERY_MS, `completed ${millis(complete.updateTime) - millis(made.updateTime)} ms after the write`);
      assert.equal(complete.createTime, made.createTime);
      assert.deepEqual((await api.list(`state = COMPLETE AND name = "${name}"`)).map((c) => c.name), [name]);
      assert.deepEqual(await api.list(`state = PENDING AND name = "${name}"`), []);

      const labelled = response(await api.update({ name, labels: { env: 'prod' } }));
      assert.deepEqual([labelled.state, labelled.reconciling], ['COMPLETE', undefined], 'a label is no reason to discover again');
      const stated = response(await api.update({ name, state: 'ERROR' }));
      assert.equal(stated.state, 'COMPLETE', 'the client cannot make discovery fail');

      const moved = response(await api.update({ name, appHubApplication: app('cart') }));
      assert.deepEqual([moved.state, moved.reconciling, moved.appHubApplication], ['PENDING', true, app('cart')]);
      assert.deepEqual(moved.labels, { env: 'prod' });
      const labelledWhilePending = response(await api.update({ name, labels: { env: 'dev' }, state: 'COMPLETE' }));
      assert.equal(labelledWhilePending.state, 'PENDING', 'the client cannot end discovery either');
      assert.equal((await untilComplete(api, name)).appHubApplication, app('cart'));

      const toProjects = response(await api.update({ name, projects: { projectIds: ['demo'] } }));
      assert.deepEqual([toProjects.state, toProjects.appHubApplication, toProjects.projects], ['PENDING', undefined, { projectIds: ['demo'] }]);
      await untilComplete(api, name);
      assert.equal(response(await api.update({ name, projects: { projectIds: ['demo'] } })).state, 'COMPLETE', 'the same projects: nothing new to discover');
      assert.equal(response(await api.update({ name, projects: { projectIds: ['demo', 'other'] } })).state, 'PENDING');
      await untilComplete(api, name);

      // gcloud's `insights-configs update --run-discovery` sends the config with state PENDING.
      assert.equal(response(await api.update({ name, state: 'PENDING' })).state, 'PENDING');
      await untilComplete(api, name);
    });
  }
});

describe('InsightsConfig discovery and operations on the config', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ insightsDiscoveryDelayMs: DISCOVERY_MS, operationDelayMs: 3 * DISCOVERY_MS });
  });
  after(() => server.stop());

  test('discovery waits for an update in progress, which wins: the config is completed after it', async () => {
    const api = restApi(server.url);
    const name = `${PARENT}/insightsConfigs/busy`;
    const creating = await api.create('busy', { appHubApplication: app('shop') });
    const made = await waitDone(server.url, String(creating.name));
    const updating = await api.update({ name, labels: { env: 'prod' } });
    assert.notEqual(updating.done, true, 'the update works for 900 ms');
    // Discovery is due 300 ms after the create, while the update runs: it leaves the config to it.
    await new Promise((r) => setTimeout(r, 2 * DISCOVERY_MS));
    assert.equal((await api.get(name)).state, 'PENDING');
    const updated = await waitDone(server.url, String(updating.name));
    assert.deepEqual([updated.state, updated.labels], ['PENDING', { env: 'prod' }], 'the update committed over the config as it read it');
    const complete = await untilComplete(api, name);
    assert.ok(millis(complete.updateTime) >= millis(updated.updateTime) + DISCOVERY_MS);
    assert.ok(millis(made.updateTime) < millis(updated.updateTime));
  });
});

/** Polls GetOperation until done and returns its response. */
async function waitDone(url: string, operation: string): Promise<JsonObject> {
  const end = Date.now() + 10_000;
  for (;;) {
    const op = succeeded(await restCall(url, { verb: 'GET', path: `/v1/${operation}` }, undefined));
    if (op.done === true) return response(op);
    if (Date.now() > end) throw new Error(`${operation} not done after 10 s`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('InsightsConfig discovery is stored: a restarted server completes what was left PENDING', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'devconnect-discovery-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('configs PENDING when the server stopped are COMPLETE after it starts again on the same data', async () => {
    const names = ['left-1', 'left-2'].map((id) => `${PARENT}/insightsConfigs/${id}`);
    // A discovery that would take an hour: the configs are still PENDING when this server stops.
    const first = await startTestServer({ dataDir, insightsDiscoveryDelayMs: 3_600_000 });
    try {
      const api = restApi(first.url);
      for (const name of names) assert.equal(response(await api.create(name.split('/').at(-1)!, { appHubApplication: app('shop') })).state, 'PENDING');
    } finally {
      await first.stop();
    }
    const second = await startTestServer({ dataDir, insightsDiscoveryDelayMs: DISCOVERY_MS });
    try {
      const api = restApi(second.url);
      for (const name of names) await untilComplete(api, name);
      assert.deepEqual((await api.list('state = COMPLETE')).map((c) => c.name), names);
    } finally {
      await second.stop();
    }
  });
});

describe('InsightsConfig discovery on a PostgreSQL cluster', () => {
  test('a config created through one node is completed by another, and every node reads it COMPLETE', async () => {
    const databaseUrl = await freshDatabaseUrl();
    // Node A would take an hour: only node B can be the one that completes the config.
    const a = await startTestServer({ databaseUrl, insightsDiscoveryDelayMs: 3_600_000 });
    const b = await startTestServer({ databaseUrl, insightsDiscoveryDelayMs: DISCOVERY_MS });
    try {
      const name = `${PARENT}/insightsConfigs/clustered`;
      assert.equal(response(await restApi(a.url).create('clustered', { appHubApplication: app('shop') })).state, 'PENDING');
      await untilComplete(restApi(a.url), name);
      assert.deepEqual((await restApi(b.url).list('state = COMPLETE')).map((c) => c.name), [name]);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
