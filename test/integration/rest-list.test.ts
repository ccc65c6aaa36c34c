import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { anyPack, EmptySchema } from '@bufbuild/protobuf/wkt';
import { OperationFailure } from '../../src/engine/handler.js';
import { listAllPages, rest, startTestServer, untilDone, type TestServer } from '../support/server.js';

type Json = Record<string, unknown>;
const PARENT = 'projects/lists/locations/europe-west1';

/** Lists every page with `query` and returns operation names in order, with the page count. */
function listAll(server: TestServer, query: string, parent = PARENT): Promise<{ names: string[]; pages: number }> {
  return listAllPages(server.url, `/v1/${parent}/operations?${query}`, 'operations');
}

describe('ListOperations over REST', () => {
  let server: TestServer;
  const created: string[] = [];

  before(async () => {
    server = await startTestServer();
    // A handler whose outcome is chosen by its input, so every filter field has real variety.
    server.engine.register({
      kind: 'test.outcome',
      cancellable: true,
      afterRestart: 'fail',
      run: async (input) => {
        if (input === 'fail') throw new OperationFailure(9, 'failed on purpose');
        return { response: anyPack(EmptySchema, create(EmptySchema)) };
      },
    });
    for (let i = 0; i < 12; i++) {
      const record = await server.engine.start({
        parent: PARENT,
        kind: 'test.outcome',
        input: i % 3 === 0 ? 'fail' : 'ok',
        verb: i % 2 === 0 ? 'create' : 'delete',
        target: `${PARENT}/connections/c${i}`,
      });
      created.push(record.name);
    }
    for (const name of created) await untilDone(server.url, name);
  });
  after(() => server.stop());

  test('pages through everything newest first, with no duplicates', async () => {
    const { names, pages } = await listAll(server, 'pageSize=5');
    assert.deepEqual(names, [...created].reverse());
    assert.equal(pages, 3);
  });

  test('stays stable when operations are inserted between pages', async () => {
    const first = await rest(server.url, 'GET', `/v1/${PARENT}/operations?pageSize=4`);
    const newer = await server.engine.start({ parent: PARENT, kind: 'test.outcome', input: 'ok', verb: 'update', target: 'x' });
    await untilDone(server.url, newer.name);
    const second = await rest(server.url, 'GET', `/v1/${PARENT}/operations?pageSize=4&pageToken=${first.body.nextPageToken as string}`);
    const seen = [...(first.body.operations as Json[]), ...(second.body.operations as Json[])].map((o) => o.name);
    assert.deepEqual(seen, [...created].reverse().slice(0, 8));
    created.push(newer.name);
  });

  test('filters on done, metadata.verb, metadata.target and error.code with AND, OR, NOT', async () => {
    const cases: [string, number][] = [
      ['done = true', 13],
      ['done = false', 0],
      ['metadata.verb = "create"', 6],
      ['metadata.verb = delete AND error.code = 9', 2],
      ['error.code = 9 OR metadata.verb = update', 5],
      ['NOT error.code = 9', 9],
      ['error.code != 9 AND metadata.verb != "update"', 8],
      [`metadata.target = "${PARENT}/connections/c1*"`, 3],
    ];
    for (const [filter, expected] of cases) {
      const { names } = await listAll(server, `filter=${encodeURIComponent(filter)}&pageSize=2`);
      assert.equal(names.length, expected, filter);
    }
  });

  test('an unparsable filter is INVALID_ARGUMENT and says where', async () => {
    for (const filter of ['done = ', 'colour = red', 'done = maybe', '(done = true', 'error.code = "x"']) {
      const res = await rest(server.url, 'GET', `/v1/${PARENT}/operations?filter=${encodeURIComponent(filter)}`);
      assert.equal(res.status, 400, filter);
      const error = res.body.error as Json;
      assert.equal(error.status, 'INVALID_ARGUMENT');
      assert.match(error.message as string, /filter/i);
    }
  });

  test('pageSize: default 50, capped at 1000, negative rejected', async () => {
    const parent = 'projects/lists/locations/us-east1';
    for (let i = 0; i < 1001; i++) await server.engine.start({ parent, kind: 'test.outcome', input: 'ok', verb: 'create', target: 't' });
    const byDefault = await rest(server.url, 'GET', `/v1/${parent}/operations`);
    assert.equal((byDefault.body.operations as Json[]).length, 50);
    const capped = await rest(server.url, 'GET', `/v1/${parent}/operations?pageSize=5000`);
    assert.equal((capped.body.operations as Json[]).length, 1000);
    assert.ok(capped.body.nextPageToken);
    const negative = await rest(server.url, 'GET', `/v1/${parent}/operations?pageSize=-1`);
    assert.equal(negative.status, 400);
  });

  test('forged and foreign page tokens are INVALID_ARGUMENT', async () => {
    const page = await rest(server.url, 'GET', `/v1/${PARENT}/operations?pageSize=2`);
    const token = page.body.nextPageToken as string;
    const [payload = '', signature = ''] = token.split('.');
    const forgedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), c: '1' })).toString('base64url');
    const attempts = [
      `/v1/${PARENT}/operations?pageToken=garbage`,
      `/v1/${PARENT}/operations?pageToken=${forgedPayload}.${signature}`,
      `/v1/projects/other/locations/europe-west1/operations?pageToken=${token}`,
      `/v1/${PARENT}/operations?filter=done%3Dtrue&pageToken=${token}`,
    ];
    for (const path of attempts) {
      const res = await rest(server.url, 'GET', path);
      assert.equal(res.status, 400, path);
      assert.equal((res.body.error as Json).status, 'INVALID_ARGUMENT');
    }
    const sameQueryOtherSize = await rest(server.url, 'GET', `/v1/${PARENT}/operations?pageSize=3&pageToken=${token}`);
    assert.equal(sameQueryOtherSize.status, 200, 'AIP-158 lets page_size change between pages');
  });

  test('an empty parent lists nothing, and a malformed parent is 400', async () => {
    const empty = await rest(server.url, 'GET', '/v1/projects/nobody/locations/us-west1/operations');
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.body, {});
    const bad = await rest(server.url, 'GET', '/v1/projects/a%2Fb/locations/x/operations');
    assert.equal(bad.status, 400);
  });
});
