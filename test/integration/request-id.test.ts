import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PARENT, rest, startTestServer, type JsonResponse, type TestServer } from '../support/server.js';

type Json = Record<string, unknown>;

function create(server: TestServer, id: string, requestId: string, body: Json = { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } }): Promise<JsonResponse> {
  return rest(server.url, 'POST', `/v1/${PARENT}/connections?connectionId=${id}&requestId=${requestId}`, body);
}

function assertInvalidRequestId(res: JsonResponse, message: RegExp): void {
  assert.equal(res.status, 400, JSON.stringify(res.body));
  const error = res.body.error as Json;
  assert.equal(error.status, 'INVALID_ARGUMENT');
  assert.match(error.message as string, message);
  const [info] = error.details as Json[];
  assert.deepEqual((info?.metadata as Json | undefined)?.field, 'request_id');
}

async function operationCount(server: TestServer): Promise<number> {
  const list = await rest(server.url, 'GET', `/v1/${PARENT}/operations?pageSize=1000`);
  return ((list.body.operations as Json[] | undefined) ?? []).length;
}

describe('request_id (AIP-155): a retried create or delete gets the first operation back', () => {
  describe('with instant operations', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ operationDelayMs: 0 });
    });
    after(() => server.stop());

    test('a retried create returns the same done operation and makes nothing more', async () => {
      const requestId = randomUUID();
      const first = await create(server, 'retried', requestId);
      assert.equal(first.status, 200);
      const before = await operationCount(server);
      const again = await create(server, 'retried', requestId.toUpperCase());
      assert.equal(again.status, 200, 'not ALREADY_EXISTS: the retry is recognised before the connection is looked for');
      assert.deepEqual(again.body, first.body);
      assert.equal(await operationCount(server), before);
      const connection = await rest(server.url, 'GET', `/v1/${PARENT}/connections/retried`);
      assert.equal(connection.body.uid, (first.body.response as Json).uid, 'the connection of the first request, not a second one');
    });

    test('a retry whose map fields come in another order is still a retry', async () => {
      const requestId = randomUUID();
      const body = (labels: Json): Json => ({ githubConfig: { githubApp: 'DEVELOPER_CONNECT' }, labels });
      const first = await create(server, 'labelled', requestId, body({ a: '1', b: '2' }));
      const again = await create(server, 'labelled', requestId, body({ b: '2', a: '1' }));
      assert.equal(again.status, 200);
      assert.equal(again.body.name, first.body.name);
    });

    test('the same request_id on a different request is INVALID_ARGUMENT, and changes nothing', async () => {
      const requestId = randomUUID();
      await create(server, 'original', requestId);
      const before = await operationCount(server);
      assertInvalidRequestId(await create(server, 'another', requestId), /already used for a different request/);
      assertInvalidRequestId(await create(server, 'original', requestId, { githubConfig: { githubApp: 'FIREBASE' } }), /already used/);
      assert.equal((await rest(server.url, 'GET', `/v1/${PARENT}/connections/another`)).status, 404);
      assert.equal(await operationCount(server), before);
    });

    test('a retried delete returns its operation even though the connection is gone', async () => {
      await create(server, 'doomed', randomUUID());
      const requestId = randomUUID();
      const first = await rest(server.url, 'DELETE', `/v1/${PARENT}/connections/doomed?requestId=${requestId}`);
      assert.equal(first.status, 200);
      assert.equal(first.body.done, true);
      const again = await rest(server.url, 'DELETE', `/v1/${PARENT}/connections/doomed?requestId=${requestId}`);
      assert.equal(again.status, 200, 'not NOT_FOUND');
      assert.deepEqual(again.body, first.body);
      const fresh = await rest(server.url, 'DELETE', `/v1/${PARENT}/connections/doomed?requestId=${randomUUID()}`);
      assert.equal(fresh.status, 404, 'a new request id is a new request');
    });

    test('request ids that are not UUIDs, or the zero UUID, are INVALID_ARGUMENT', async () => {
      for (const bad of ['not-a-uuid', '00000000-0000-0000-0000-000000000000', `${randomUUID()}x`]) {
        assertInvalidRequestId(await create(server, 'bad-id', bad), /must be a UUID other than the zero UUID/);
      }
      assertInvalidRequestId(await rest(server.url, 'DELETE', `/v1/${PARENT}/connections/retried?requestId=nope`), /must be a UUID/);
    });

    test('the request id outlives a restart', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'devconnect-request-id-'));
      try {
        const requestId = randomUUID();
        const first = await startTestServer({ dataDir });
        const created = await create(first, 'durable-retry', requestId);
        await first.stop();
        const restarted = await startTestServer({ dataDir });
        const again = await create(restarted, 'durable-retry', requestId);
        await restarted.stop();
        assert.equal(again.status, 200);
        assert.deepEqual(again.body, created.body);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });

  describe('with slow operations (30 s)', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ operationDelayMs: 30_000 });
    });
    after(() => server.stop());

    test('retries, also concurrent ones, get the one running operation; cancelling it stops the only work', async () => {
      const requestId = randomUUID();
      const replies = await Promise.all([create(server, 'slow-retry', requestId), create(server, 'slow-retry', requestId), create(server, 'slow-retry', requestId)]);
      const names = new Set(replies.map((r) => r.body.name));
      assert.equal(names.size, 1, JSON.stringify(replies.map((r) => r.body)));
      assert.equal(replies[0]?.body.done, undefined, 'still running');
      const [name] = [...names] as string[];
      assert.equal((await rest(server.url, 'POST', `/v1/${name}:cancel`)).status, 200);
      const list = await rest(server.url, 'GET', `/v1/${PARENT}/operations?filter=${encodeURIComponent('metadata.target="' + PARENT + '/connections/slow-retry"')}`);
      assert.equal((list.body.operations as Json[]).length, 1, 'one operation for the three calls');
    });
  });
});
