import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { anyPack, EmptySchema } from '@bufbuild/protobuf/wkt';
import { create } from '@bufbuild/protobuf';
import { createConnection, PARENT, rest, startTestServer, untilDone, type TestServer } from '../support/server.js';

type Json = Record<string, unknown>;
const metadataOf = (op: Json): Json => op.metadata as Json;
const errorOf = (op: Json): Json => op.error as Json;

function assertRpcError(res: { status: number; body: Json }, httpStatus: number, status: string): Json {
  assert.equal(res.status, httpStatus, JSON.stringify(res.body));
  const error = res.body.error as Json;
  assert.equal(error.code, httpStatus);
  assert.equal(error.status, status);
  assert.equal(typeof error.message, 'string');
  return error;
}

describe('operations over REST, with slow operations (30 s)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ operationDelayMs: 30_000 });
  });
  after(() => server.stop());

  test('CreateConnection returns a running operation with Google-style name and metadata', async () => {
    const op = await createConnection(server.url, 'meta');
    assert.match(op.name as string, /^projects\/demo\/locations\/us-central1\/operations\/operation-\d{13}-[0-9a-f]+$/);
    assert.equal(op.done, undefined);
    const metadata = metadataOf(op);
    assert.equal(metadata['@type'], 'type.googleapis.com/google.cloud.developerconnect.v1.OperationMetadata');
    assert.equal(metadata.verb, 'create');
    assert.equal(metadata.target, `${PARENT}/connections/meta`);
    assert.equal(metadata.apiVersion, 'v1');
    assert.match(metadata.createTime as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  });

  test('cancel answers {} at once; the operation ends CANCELLED, is kept, and nothing is created', async () => {
    const op = await createConnection(server.url, 'cancelled');
    const started = Date.now();
    const cancel = await rest(server.url, 'POST', `/v1/${op.name as string}:cancel`);
    assert.equal(cancel.status, 200);
    assert.deepEqual(cancel.body, {});
    const done = await untilDone(server.url, op.name as string, 2_000);
    assert.ok(Date.now() - started < 2_000, 'cancel must not wait for the 30 s of work');
    assert.equal(errorOf(done).code, 1);
    assert.equal(done.response, undefined);
    assert.equal(metadataOf(done).requestedCancellation, true);
    assert.ok(metadataOf(done).endTime);
    const connection = await rest(server.url, 'GET', `/v1/${PARENT}/connections/cancelled`);
    assertRpcError(connection, 404, 'NOT_FOUND');
  });

  test('cancel takes an empty body or {} and rejects any field', async () => {
    const a = await createConnection(server.url, 'body-a');
    assert.equal((await rest(server.url, 'POST', `/v1/${a.name as string}:cancel`, {})).status, 200);
    const b = await createConnection(server.url, 'body-b');
    for (const body of [{ name: b.name }, { foo: 1 }, '{"name":', '[]', '"x"']) {
      const res = await rest(server.url, 'POST', `/v1/${b.name as string}:cancel`, body);
      assertRpcError(res, 400, 'INVALID_ARGUMENT');
    }
    const still = await rest(server.url, 'GET', `/v1/${b.name as string}`);
    assert.equal(still.body.done, undefined, 'a rejected cancel must not cancel');
    assert.equal(metadataOf(still.body).requestedCancellation, undefined);
  });

  test('DeleteOperation removes the record but does not stop the work', async () => {
    const slow = await startTestServer({ operationDelayMs: 300 });
    try {
      const op = await createConnection(slow.url, 'outlives');
      const del = await rest(slow.url, 'DELETE', `/v1/${op.name as string}`);
      assert.equal(del.status, 200);
      assert.deepEqual(del.body, {});
      assertRpcError(await rest(slow.url, 'GET', `/v1/${op.name as string}`), 404, 'NOT_FOUND');
      assertRpcError(await rest(slow.url, 'DELETE', `/v1/${op.name as string}`), 404, 'NOT_FOUND');
      let connection = await rest(slow.url, 'GET', `/v1/${PARENT}/connections/outlives`);
      for (let i = 0; i < 100 && connection.status === 404; i++) {
        await new Promise((r) => setTimeout(r, 20));
        connection = await rest(slow.url, 'GET', `/v1/${PARENT}/connections/outlives`);
      }
      assert.equal(connection.status, 200);
    } finally {
      await slow.stop();
    }
  });

  test('two creates of one connection while both run: the first creates it, the second ends with ALREADY_EXISTS', async () => {
    const slow = await startTestServer({ operationDelayMs: 200 });
    try {
      const first = await createConnection(slow.url, 'contested');
      const second = await createConnection(slow.url, 'contested');
      assert.equal(second.done, undefined, 'accepted: the connection did not exist yet');
      const won = await untilDone(slow.url, first.name as string);
      const lost = await untilDone(slow.url, second.name as string);
      assert.equal((won.response as Json).name, `${PARENT}/connections/contested`);
      assert.deepEqual(lost.error, { code: 6, message: `Resource '${PARENT}/connections/contested' already exists.` });
      assert.equal(lost.response, undefined);
      const connection = await rest(slow.url, 'GET', `/v1/${PARENT}/connections/contested`);
      assert.equal(connection.body.uid, (won.response as Json).uid, 'the loser changed nothing');
    } finally {
      await slow.stop();
    }
  });

  test('an operation kind that cannot be cancelled answers UNIMPLEMENTED (501)', async () => {
    server.engine.register({
      kind: 'test.uncancellable',
      cancellable: false,
      afterRestart: 'fail',
      run: (_input, { signal }) =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => resolve({ response: anyPack(EmptySchema, create(EmptySchema)) }), 60_000);
          signal.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(signal.reason as Error);
          });
        }),
    });
    const record = await server.engine.start({ parent: PARENT, kind: 'test.uncancellable', input: '{}', verb: 'test', target: PARENT });
    const res = await rest(server.url, 'POST', `/v1/${record.name}:cancel`);
    const error = assertRpcError(res, 501, 'UNIMPLEMENTED');
    assert.match(error.message as string, /cannot be cancelled/);
  });
});

describe('operations over REST, with instant operations', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ operationDelayMs: 0 });
  });
  after(() => server.stop());

  test('a finished operation carries the Connection as its response', async () => {
    const op = await createConnection(server.url, 'instant');
    const done = await untilDone(server.url, op.name as string);
    const response = done.response as Json;
    assert.equal(response['@type'], 'type.googleapis.com/google.cloud.developerconnect.v1.Connection');
    assert.equal(response.name, `${PARENT}/connections/instant`);
    assert.match(response.uid as string, /^[0-9a-f-]{36}$/);
    assert.equal(done.error, undefined);
  });

  test('work that needs no waiting is committed at once: the create reply is the done operation, the connection exists', async () => {
    const op = await createConnection(server.url, 'at-once');
    assert.equal(op.done, true);
    assert.equal((op.response as Json).name, `${PARENT}/connections/at-once`);
    assert.ok(metadataOf(op).endTime, 'endTime is set');
    assert.deepEqual((await rest(server.url, 'GET', `/v1/${op.name as string}`)).body, op, 'GetOperation says the same');
    assert.equal((await rest(server.url, 'GET', `/v1/${PARENT}/connections/at-once`)).status, 200);
    const del = await rest(server.url, 'DELETE', `/v1/${PARENT}/connections/at-once`);
    assert.equal(del.body.done, true);
    assertRpcError(await rest(server.url, 'GET', `/v1/${PARENT}/connections/at-once`), 404, 'NOT_FOUND');
  });

  test('cancelling a finished operation is a no-op that answers {}', async () => {
    const op = await createConnection(server.url, 'finished');
    const done = await untilDone(server.url, op.name as string);
    const cancel = await rest(server.url, 'POST', `/v1/${op.name as string}:cancel`);
    assert.equal(cancel.status, 200);
    assert.deepEqual(cancel.body, {});
    const after = await rest(server.url, 'GET', `/v1/${op.name as string}`);
    assert.deepEqual(after.body, done);
  });

  test('names: unknown is 404, malformed is 400, never 500', async () => {
    assertRpcError(await rest(server.url, 'GET', `/v1/${PARENT}/operations/operation-1-abc`), 404, 'NOT_FOUND');
    assertRpcError(await rest(server.url, 'POST', `/v1/${PARENT}/operations/operation-1-abc:cancel`), 404, 'NOT_FOUND');
    for (const bad of ['a%2Fb', '%20x', '%E0%A4%A', '-x', 'x%3Fy']) {
      const res = await rest(server.url, 'GET', `/v1/${PARENT}/operations/${bad}`);
      assertRpcError(res, 400, 'INVALID_ARGUMENT');
    }
    assertRpcError(await rest(server.url, 'GET', '/v1/projects/p/operations/x'), 404, 'NOT_FOUND');
    assertRpcError(await rest(server.url, 'GET', '/nowhere'), 404, 'NOT_FOUND');
  });

  test('errors follow AIP-193 with an ErrorInfo detail', async () => {
    const res = await rest(server.url, 'GET', `/v1/${PARENT}/operations/operation-2-abc`);
    const error = assertRpcError(res, 404, 'NOT_FOUND');
    const [info] = error.details as Json[];
    assert.equal(info?.['@type'], 'type.googleapis.com/google.rpc.ErrorInfo');
    assert.equal(info?.reason, 'RESOURCE_NOT_FOUND');
    assert.equal(info?.domain, 'developerconnect.googleapis.com');
  });

  test('unknown query parameters and fields are rejected; snake_case input is accepted', async () => {
    assertRpcError(await rest(server.url, 'GET', `/v1/${PARENT}/operations?bogus=1`), 400, 'INVALID_ARGUMENT');
    const snake = await rest(server.url, 'POST', `/v1/${PARENT}/connections?connection_id=snake`, {
      github_config: { github_app: 'DEVELOPER_CONNECT' },
    });
    assert.equal(snake.status, 200);
    const unknown = await rest(server.url, 'POST', `/v1/${PARENT}/connections?connectionId=unknown-field`, {
      githubConfig: { githubApp: 'DEVELOPER_CONNECT' },
      colour: 'red',
    });
    assertRpcError(unknown, 400, 'INVALID_ARGUMENT');
  });

  test("alt=json;enum-encoding=int (google-gax's REST fallback) sends enums as numbers", async () => {
    const op = await createConnection(server.url, 'enum-int');
    await untilDone(server.url, op.name as string);
    const text = await rest(server.url, 'GET', `/v1/${PARENT}/connections/enum-int`);
    assert.equal((text.body.installationState as Json).stage, 'PENDING_USER_OAUTH');
    assert.equal((text.body.installationState as Json).actionUri, `${server.url}/console/${PARENT}/connections/enum-int`, 'the link to follow: its console page');
    const ints = await rest(server.url, 'GET', `/v1/${PARENT}/connections/enum-int?$alt=json%3Benum-encoding%3Dint`);
    assert.equal((ints.body.installationState as Json).stage, 2);
  });

  test('DeleteConnection is an operation that removes the connection', async () => {
    const created = await createConnection(server.url, 'to-delete');
    await untilDone(server.url, created.name as string);
    const del = await rest(server.url, 'DELETE', `/v1/${PARENT}/connections/to-delete`);
    assert.equal(del.status, 200);
    assert.equal(metadataOf(del.body).verb, 'delete');
    const done = await untilDone(server.url, del.body.name as string);
    assert.equal((done.response as Json)['@type'], 'type.googleapis.com/google.protobuf.Empty');
    assertRpcError(await rest(server.url, 'GET', `/v1/${PARENT}/connections/to-delete`), 404, 'NOT_FOUND');
  });

  test('CreateConnection validates its input', async () => {
    const cases: [string, unknown][] = [
      ['?connectionId=Bad_Id', { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } }],
      ['', { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } }],
      ['?connectionId=ok-id', {}],
      ['?connectionId=ok-id&requestId=not-a-uuid', { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } }],
    ];
    for (const [query, body] of cases) {
      const res = await rest(server.url, 'POST', `/v1/${PARENT}/connections${query}`, body);
      assertRpcError(res, 400, 'INVALID_ARGUMENT');
    }
    const elsewhere = await rest(server.url, 'POST', '/v1/projects/demo/locations/mars/connections?connectionId=x', { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } });
    assertRpcError(elsewhere, 404, 'NOT_FOUND');
    const op = await createConnection(server.url, 'twice');
    await untilDone(server.url, op.name as string);
    const again = await rest(server.url, 'POST', `/v1/${PARENT}/connections?connectionId=twice`, { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } });
    assertRpcError(again, 409, 'ALREADY_EXISTS');
  });
});
