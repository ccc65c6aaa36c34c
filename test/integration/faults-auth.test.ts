import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { issueToken } from '../../src/cli/token.js';
import { startTestServer, type TestServer } from '../support/server.js';

// Under --auth jwt the fault rules are the root owner's: they change how the server answers everyone.

const OWNER = 'user:admin@example.com';
const PROJECT_OWNER = 'user:project-owner@example.com';
const NOBODY = 'user:nobody@example.com';
const FAULTS = '/emulator/v1/faults';
const CONNECTION = 'projects/demo/locations/us-central1/connections/c';

type Json = Record<string, unknown>;

describe('/emulator/v1/faults under --auth jwt', () => {
  let server: TestServer;
  const tokens: Record<string, string> = {};

  async function call(token: string | undefined, method: string, path: string, body?: object): Promise<{ status: number; body: Json; headers: Headers }> {
    const response = await fetch(server.url + path, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as Json, headers: response.headers };
  }

  before(async () => {
    server = await startTestServer({ auth: 'jwt', owner: OWNER });
    for (const who of [OWNER, PROJECT_OWNER, NOBODY]) tokens[who] = await issueToken({ dataDir: server.dataDir, principal: who });
    tokens.unscoped = await issueToken({ dataDir: server.dataDir, principal: OWNER, scopes: ['userinfo.email'] });
    // roles/owner of the project, not of the root policy.
    const set = await call(tokens[OWNER], 'POST', '/v1/projects/demo:setIamPolicy', { policy: { bindings: [{ role: 'roles/owner', members: [PROJECT_OWNER] }] } });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const created = await call(tokens[OWNER], 'POST', `/v1/projects/demo/locations/us-central1/connections?connectionId=c`, { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } });
    assert.equal(created.status, 200, JSON.stringify(created.body));
  });
  after(() => server.stop());

  test('without credentials: 401 with a Bearer challenge', async () => {
    for (const method of ['GET', 'POST', 'DELETE']) {
      const res = await call(undefined, method, FAULTS, method === 'POST' ? { method: 'GetConnection', delay: '1s' } : undefined);
      assert.equal(res.status, 401, method);
      assert.equal((res.body.error as Json).status, 'UNAUTHENTICATED');
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer /);
    }
  });

  test("an owner of a project, not of the root policy, gets 403 for every method, and nothing changes", async () => {
    const added = await call(tokens[OWNER], 'POST', FAULTS, { method: 'ListConnections', delay: '1ms' });
    assert.equal(added.status, 200);
    for (const who of [PROJECT_OWNER, NOBODY]) {
      for (const [method, path] of [['GET', FAULTS], ['POST', FAULTS], ['DELETE', FAULTS], ['GET', `${FAULTS}/${String(added.body.id)}`], ['DELETE', `${FAULTS}/${String(added.body.id)}`]] as const) {
        const res = await call(tokens[who], method, path, method === 'POST' ? { method: 'GetConnection', delay: '1s' } : undefined);
        assert.equal(res.status, 403, `${who} ${method} ${path}`);
        const error = res.body.error as { status: string; message: string; details: Json[] };
        assert.equal(error.status, 'PERMISSION_DENIED');
        assert.match(error.message, /needs roles\/owner on the root policy/);
        assert.equal(error.details[0]?.reason, 'IAM_PERMISSION_DENIED');
      }
    }
    const listed = await call(tokens[OWNER], 'GET', FAULTS);
    assert.deepEqual((listed.body.faults as Json[]).map((r) => r.id), [added.body.id], 'the rule is still there, alone');
    assert.equal((await call(tokens[OWNER], 'DELETE', FAULTS)).status, 200);
  });

  test('a token without the cloud-platform scope is 403 ACCESS_TOKEN_SCOPE_INSUFFICIENT, even the owner’s', async () => {
    const res = await call(tokens.unscoped, 'GET', FAULTS);
    assert.equal(res.status, 403);
    assert.equal(((res.body.error as { details: Json[] }).details[0] ?? {}).reason, 'ACCESS_TOKEN_SCOPE_INSUFFICIENT');
  });

  test('a caller without the permission gets the usual refusal, not the fault, and the rule does not fire', async () => {
    const rule = await call(tokens[OWNER], 'POST', FAULTS, { method: 'GetConnection', error: { code: 'UNAVAILABLE' } });
    assert.equal(rule.status, 200);
    try {
      const refused = await call(tokens[NOBODY], 'GET', `/v1/${CONNECTION}`);
      assert.equal(refused.status, 403);
      assert.equal(((refused.body.error as { details: Json[] }).details[0] ?? {}).reason, 'IAM_PERMISSION_DENIED');
      assert.equal((await call(tokens[OWNER], 'GET', `${FAULTS}/${String(rule.body.id)}`)).body.fired, 0);
      const faulted = await call(tokens[PROJECT_OWNER], 'GET', `/v1/${CONNECTION}`);
      assert.equal(faulted.status, 503, 'a caller who may make the call meets the fault');
      assert.equal((await call(tokens[OWNER], 'GET', `${FAULTS}/${String(rule.body.id)}`)).body.fired, 1);
    } finally {
      await call(tokens[OWNER], 'DELETE', FAULTS);
    }
  });
});
