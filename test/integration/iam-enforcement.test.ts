import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import { issueToken } from '../../src/cli/token.js';
import { CancelOperationRequestSchema, type CancelOperationRequest } from '../../src/gen/google/longrunning/operations_pb.js';
import { ErrorInfoSchema } from '../../src/gen/google/rpc/error_details_pb.js';
import { StatusSchema } from '../../src/gen/google/rpc/status_pb.js';
import { startTestServer, type TestServer } from '../support/server.js';

const OWNER = 'user:admin@example.com';
const LOCATION = 'projects/demo/locations/us-central1';
const MISSING_OP = `${LOCATION}/operations/operation-1-00`;

/** One REST call with a bearer token. */
async function call(server: TestServer, token: string | undefined, method: string, path: string, body?: object) {
  const response = await fetch(server.url + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

function denial(permission: string, resource: string) {
  return {
    code: 403,
    status: 'PERMISSION_DENIED',
    message: `Permission '${permission}' denied on resource '${resource}' (or it may not exist).`,
    details: [
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: 'IAM_PERMISSION_DENIED',
        domain: 'iam.googleapis.com',
        metadata: { permission, resource },
      },
    ],
  };
}

describe('IAM enforcement under --auth jwt', () => {
  let server: TestServer;
  let dir: string;
  const tokens: Record<string, string> = {};
  const as = (who: string) => tokens[who];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'devconnect-iam-'));
    const policyFile = join(dir, 'policy.json');
    writeFileSync(
      policyFile,
      JSON.stringify({
        policies: { 'projects/demo': { bindings: [{ role: 'roles/developerconnect.admin', members: ['group:devs@example.com'] }] } },
        groups: { 'devs@example.com': ['user:carol@example.com'] },
      }),
    );
    server = await startTestServer({ auth: 'jwt', owner: OWNER, iamPolicyFile: policyFile });
    for (const who of [OWNER, 'user:alice@example.com', 'user:bob@example.com', 'user:carol@example.com']) {
      tokens[who] = await issueToken({ dataDir: server.dataDir, principal: who });
    }
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the bootstrap owner sets a project policy; its members get exactly their role', async () => {
    const set = await call(server, as(OWNER), 'POST', '/v1/projects/demo:setIamPolicy', {
      policy: {
        bindings: [
          { role: 'roles/developerconnect.admin', members: ['group:devs@example.com'] },
          { role: 'roles/developerconnect.viewer', members: ['user:alice@example.com'] },
        ],
      },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const asAlice = await call(server, as('user:alice@example.com'), 'GET', `/v1/${MISSING_OP}`);
    assert.equal(asAlice.status, 404, 'alice may get operations: a missing one is NOT_FOUND');
    const cancel = await call(server, as('user:alice@example.com'), 'POST', `/v1/${MISSING_OP}:cancel`, {});
    assert.deepEqual(cancel.body.error, denial('developerconnect.operations.cancel', MISSING_OP));
  });

  test('a caller without the permission gets 403 whether or not the resource exists', async () => {
    const created = await call(server, as(OWNER), 'POST', `/v1/${LOCATION}/connections?connectionId=c1`, { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const existing = String(created.body.name);
    for (const name of [existing, MISSING_OP]) {
      const res = await call(server, as('user:bob@example.com'), 'GET', `/v1/${name}`);
      assert.equal(res.status, 403);
      assert.deepEqual(res.body.error, denial('developerconnect.operations.get', name));
    }
  });

  test('denials carry the same status and ErrorInfo over gRPC', async () => {
    const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${as('user:alice@example.com')}`);
    const error = await new Promise<grpc.ServiceError>((resolve, reject) =>
      client.makeUnaryRequest(
        '/google.longrunning.Operations/CancelOperation',
        (m: CancelOperationRequest) => Buffer.from(toBinary(CancelOperationRequestSchema, m)),
        (b: Buffer) => b,
        create(CancelOperationRequestSchema, { name: MISSING_OP }),
        metadata,
        (e) => (e ? resolve(e) : reject(new Error('expected PERMISSION_DENIED'))),
      ),
    );
    client.close();
    assert.equal(error.code, grpc.status.PERMISSION_DENIED);
    assert.equal(error.details, `Permission 'developerconnect.operations.cancel' denied on resource '${MISSING_OP}' (or it may not exist).`);
    const [bin] = error.metadata.get('grpc-status-details-bin');
    assert.ok(Buffer.isBuffer(bin));
    const [detail] = fromBinary(StatusSchema, bin).details;
    assert.ok(detail);
    const info = anyUnpack(detail, ErrorInfoSchema);
    assert.equal(info?.reason, 'IAM_PERMISSION_DENIED');
    assert.equal(info?.domain, 'iam.googleapis.com');
    assert.deepEqual(info?.metadata, { permission: 'developerconnect.operations.cancel', resource: MISSING_OP });
  });

  test('groups from the policy file grant their members; getIamPolicy and setIamPolicy need their resourcemanager permissions', async () => {
    const asCarol = await call(server, as('user:carol@example.com'), 'POST', `/v1/${MISSING_OP}:cancel`, {});
    assert.equal(asCarol.status, 404, 'carol may cancel through group:devs: a missing operation is NOT_FOUND');
    const read = await call(server, as('user:carol@example.com'), 'POST', '/v1/projects/demo:getIamPolicy', {});
    assert.deepEqual(read.body.error, denial('resourcemanager.projects.getIamPolicy', 'projects/demo'));
    const write = await call(server, as('user:alice@example.com'), 'POST', '/v1/projects/demo:setIamPolicy', { policy: { bindings: [] } });
    assert.deepEqual(write.body.error, denial('resourcemanager.projects.setIamPolicy', 'projects/demo'));
  });

  test('testIamPermissions needs no permission and answers what the caller holds', async () => {
    const asked = ['developerconnect.operations.get', 'developerconnect.operations.cancel', 'resourcemanager.projects.setIamPolicy'];
    const alice = await call(server, as('user:alice@example.com'), 'POST', '/v1/projects/demo:testIamPermissions', { permissions: asked });
    assert.deepEqual(alice.body.permissions, ['developerconnect.operations.get']);
    const bob = await call(server, as('user:bob@example.com'), 'POST', '/v1/projects/demo:testIamPermissions', { permissions: asked });
    assert.deepEqual(bob.body, {});
    const owner = await call(server, as(OWNER), 'POST', '/v1/projects/demo:testIamPermissions', { permissions: asked });
    assert.deepEqual(owner.body.permissions, asked);
    assert.equal((await call(server, undefined, 'POST', '/v1/projects/demo:testIamPermissions', { permissions: asked })).status, 401);
  });

  test('a policy change takes effect on the next call', async () => {
    const current = await call(server, as(OWNER), 'POST', '/v1/projects/demo:getIamPolicy', {});
    const revoked = await call(server, as(OWNER), 'POST', '/v1/projects/demo:setIamPolicy', {
      policy: { etag: current.body.etag, bindings: [{ role: 'roles/developerconnect.admin', members: ['group:devs@example.com'] }] },
    });
    assert.equal(revoked.status, 200);
    assert.equal((await call(server, as('user:alice@example.com'), 'GET', `/v1/${MISSING_OP}`)).status, 403);
  });
});
