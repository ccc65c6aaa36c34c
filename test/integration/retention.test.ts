/**
 * Retention as a client meets it: a done operation is gone (NOT_FOUND) once its retention passes,
 * and a request id is forgotten once its own passes: the same request again is a new request.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { PARENT, rest, startTestServer } from '../support/server.js';

const BODY = { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } };

async function eventually(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `${what} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('done operations are deleted after --operation-retention, request ids forgotten after --request-id-retention', async () => {
  const server = await startTestServer({ operationRetentionMs: 1_500, requestIdRetentionMs: 1_000 });
  try {
    const requestId = randomUUID();
    const created = await rest(server.url, 'POST', `/v1/${PARENT}/connections?connectionId=kept&requestId=${requestId}`, BODY);
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const name = created.body.name as string;
    const retry = await rest(server.url, 'POST', `/v1/${PARENT}/connections?connectionId=kept&requestId=${requestId}`, BODY);
    assert.equal(retry.body.name, name, 'within its retention, a retry gets the first operation');
    assert.equal((await rest(server.url, 'GET', `/v1/${name}`)).status, 200);

    // Once the request id is forgotten the same request is a new one: the connection exists, so its create fails.
    await eventually(
      async () => {
        const again = await rest(server.url, 'POST', `/v1/${PARENT}/connections?connectionId=kept&requestId=${requestId}`, BODY);
        return again.body.name !== name;
      },
      10_000,
      'the request id is forgotten',
    );
    await eventually(async () => (await rest(server.url, 'GET', `/v1/${name}`)).status === 404, 10_000, 'the done operation is deleted');
    assert.equal((await rest(server.url, 'GET', `/v1/${PARENT}/connections/kept`)).status, 200, 'retention deletes operations, never resources');
  } finally {
    await server.stop();
  }
});
