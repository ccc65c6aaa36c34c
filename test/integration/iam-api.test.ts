import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import {
  GetIamPolicyRequestSchema,
  SetIamPolicyRequestSchema,
  TestIamPermissionsRequestSchema,
  TestIamPermissionsResponseSchema,
} from '../../src/gen/google/iam/v1/iam_policy_pb.js';
import { BindingSchema, PolicySchema } from '../../src/gen/google/iam/v1/policy_pb.js';
import { rest, startTestServer, type TestServer } from '../support/server.js';

const VIEWER = 'roles/developerconnect.viewer';

function unary<I extends DescMessage, O extends DescMessage>(client: grpc.Client, method: string, input: I, output: O, request: MessageShape<I>): Promise<MessageShape<O>> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      `/google.iam.v1.IAMPolicy/${method}`,
      (m: MessageShape<I>) => Buffer.from(toBinary(input, m)),
      (b: Buffer) => fromBinary(output, b),
      request,
      (error, response) => (error ? reject(error) : resolve(response as MessageShape<O>)),
    );
  });
}

describe('IAM policies over REST (Resource Manager v1 shapes)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  const get = (project: string) => rest(server.url, 'POST', `/v1/projects/${project}:getIamPolicy`, {});
  const set = (project: string, policy: object, extra: object = {}) => rest(server.url, 'POST', `/v1/projects/${project}:setIamPolicy`, { policy, ...extra });

  test('a project without a policy has the empty one: version 1, no bindings, an etag', async () => {
    const res = await get('fresh');
    assert.equal(res.status, 200);
    assert.equal(res.body.version, 1);
    assert.equal(res.body.bindings, undefined);
    assert.match(String(res.body.etag), /^[A-Za-z0-9+/]{11}=$/);
  });

  test('setIamPolicy stores the policy in canonical form and returns it with a new etag; getIamPolicy reads it', async () => {
    const before = await get('demo');
    const res = await set('demo', {
      etag: before.body.etag,
      bindings: [
        { role: VIEWER, members: ['user:Bob@example.com', 'group:devs@example.com'] },
        { role: 'roles/owner', members: ['user:alice@example.com'] },
        { role: VIEWER, members: ['serviceAccount:ci@demo.iam.gserviceaccount.com', 'allAuthenticatedUsers'] },
      ],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.bindings, [
      { role: VIEWER, members: ['allAuthenticatedUsers', 'group:devs@example.com', 'serviceAccount:ci@demo.iam.gserviceaccount.com', 'user:bob@example.com'] },
      { role: 'roles/owner', members: ['user:alice@example.com'] },
    ]);
    assert.notEqual(res.body.etag, before.body.etag);
    assert.deepEqual((await get('demo')).body, res.body);
    assert.equal((await get('other')).body.bindings, undefined, 'a policy belongs to one project');
  });

  test('a stale etag is 409 ABORTED and changes nothing; the current etag succeeds', async () => {
    const first = await set('race', { bindings: [{ role: VIEWER, members: ['user:a@example.com'] }] });
    const staleEtag = first.body.etag;
    const second = await set('race', { etag: staleEtag, bindings: [{ role: VIEWER, members: ['user:b@example.com'] }] });
    assert.equal(second.status, 200);
    const conflict = await set('race', { etag: staleEtag, bindings: [] });
    assert.equal(conflict.status, 409);
    assert.deepEqual(conflict.body.error, {
      code: 409,
      status: 'ABORTED',
      message: 'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.',
      details: [],
    });
    assert.deepEqual((await get('race')).body, second.body, 'nothing changed');
    const retry = await set('race', { etag: second.body.etag, bindings: [] });
    assert.equal(retry.status, 200);
    assert.equal(retry.body.bindings, undefined);
  });

  test('bad policies are 400 INVALID_ARGUMENT', async () => {
    const cases: [object, RegExp][] = [
      [{ bindings: [{ role: 'roles/developerconnect.superuser', members: ['user:a@example.com'] }] }, /^Role roles\/developerconnect\.superuser is not supported for this resource\.$/],
      [{ bindings: [{ role: VIEWER, members: ['alice@example.com'] }] }, /^Policy member 'alice@example\.com' is not valid/],
      [{ bindings: [{ role: VIEWER, members: ['domain:example.com'] }] }, /is not valid/],
      [{ version: 2, bindings: [] }, /^Policy version 2 is not valid/],
      [{ bindings: [{ role: VIEWER, members: ['user:a@example.com'], condition: { expression: 'true' } }] }, /IAM Conditions/],
      [{ bindings: 'all' }, /^Invalid request/],
    ];
    for (const [policy, message] of cases) {
      const res = await set('bad', policy);
      assert.equal(res.status, 400, JSON.stringify(policy));
      const error = res.body.error as { status: string; message: string };
      assert.equal(error.status, 'INVALID_ARGUMENT');
      assert.match(error.message, message);
    }
    assert.equal((await rest(server.url, 'POST', '/v1/projects/bad:setIamPolicy', {})).status, 400, 'policy is required');
    assert.equal((await get('bad')).body.bindings, undefined, 'nothing was stored');
  });

  test('update_mask: bindings and etag by default; a mask without bindings keeps them; audit configs are refused', async () => {
    const stored = await set('masked', { bindings: [{ role: VIEWER, members: ['user:a@example.com'] }] });
    const keep = await set('masked', { version: 3, bindings: [] }, { updateMask: 'version' });
    assert.equal(keep.status, 200);
    assert.deepEqual(keep.body.bindings, stored.body.bindings);
    assert.equal(keep.body.version, 3);
    assert.equal((await set('masked', { bindings: [] }, { updateMask: 'auditConfigs' })).status, 400);
    assert.equal((await set('masked', { bindings: [] }, { updateMask: 'owners' })).status, 400);
  });

  test('testIamPermissions answers the permissions held (all of them under --auth none) and refuses wildcards', async () => {
    const asked = ['developerconnect.connections.get', 'resourcemanager.projects.setIamPolicy'];
    const res = await rest(server.url, 'POST', '/v1/projects/demo:testIamPermissions', { permissions: asked });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.permissions, asked);
    const wildcard = await rest(server.url, 'POST', '/v1/projects/demo:testIamPermissions', { permissions: ['developerconnect.*'] });
    assert.equal(wildcard.status, 400);
  });

  test('only projects have policies over REST', async () => {
    const res = await rest(server.url, 'POST', '/v1/projects/demo/locations/us-central1:getIamPolicy', {});
    assert.equal(res.status, 404);
  });

  test('policies survive a restart', async () => {
    const dataDir = server.dataDir;
    const before = await get('demo');
    await server.close();
    const restarted = await startTestServer({ dataDir });
    try {
      const res = await rest(restarted.url, 'POST', '/v1/projects/demo:getIamPolicy', {});
      assert.deepEqual(res.body, before.body);
    } finally {
      await restarted.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
    server = await startTestServer();
  });
});

describe('IAM policies over gRPC (google.iam.v1.IAMPolicy)', () => {
  let server: TestServer;
  let client: grpc.Client;
  before(async () => {
    server = await startTestServer();
    client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await server.stop();
  });

  const getPolicy = (resource: string) => unary(client, 'GetIamPolicy', GetIamPolicyRequestSchema, PolicySchema, create(GetIamPolicyRequestSchema, { resource }));
  const setPolicy = (resource: string, members: string[], etag: Uint8Array = new Uint8Array()) =>
    unary(
      client,
      'SetIamPolicy',
      SetIamPolicyRequestSchema,
      PolicySchema,
      create(SetIamPolicyRequestSchema, { resource, policy: create(PolicySchema, { etag, bindings: [create(BindingSchema, { role: VIEWER, members })] }) }),
    );
  const code = (promise: Promise<unknown>) => promise.then(() => grpc.status.OK, (e: grpc.ServiceError) => e.code);

  test('SetIamPolicy, GetIamPolicy and TestIamPermissions', async () => {
    const empty = await getPolicy('projects/demo');
    assert.equal(empty.version, 1);
    assert.equal(empty.bindings.length, 0);
    assert.equal(empty.etag.length, 8);
    const set = await setPolicy('projects/demo', ['user:a@example.com'], empty.etag);
    assert.deepEqual(set.bindings.map((b) => [b.role, b.members]), [[VIEWER, ['user:a@example.com']]]);
    const read = await getPolicy('projects/demo');
    assert.deepEqual(read.etag, set.etag);
    assert.deepEqual(read.bindings.map((b) => b.members), [['user:a@example.com']]);

    const tested = await unary(
      client,
      'TestIamPermissions',
      TestIamPermissionsRequestSchema,
      TestIamPermissionsResponseSchema,
      create(TestIamPermissionsRequestSchema, { resource: 'projects/demo', permissions: ['developerconnect.operations.cancel'] }),
    );
    assert.deepEqual(tested.permissions, ['developerconnect.operations.cancel']);
  });

  test('a stale etag is ABORTED; bad policies and non-project resources are INVALID_ARGUMENT', async () => {
    const first = await setPolicy('projects/race', ['user:a@example.com']);
    await setPolicy('projects/race', ['user:b@example.com'], first.etag);
    assert.equal(await code(setPolicy('projects/race', ['user:c@example.com'], first.etag)), grpc.status.ABORTED);
    assert.deepEqual((await getPolicy('projects/race')).bindings[0]?.members, ['user:b@example.com']);
    assert.equal(await code(setPolicy('projects/race', ['nobody'])), grpc.status.INVALID_ARGUMENT);
    assert.equal(await code(getPolicy('projects/demo/locations/us-central1/connections/c')), grpc.status.INVALID_ARGUMENT);
    assert.equal(await code(getPolicy('')), grpc.status.INVALID_ARGUMENT);
  });
});
