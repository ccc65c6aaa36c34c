import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { services } from '../../src/proto/registry.js';
import { httpRoutes } from '../../src/transport/http-rules.js';
import { createConnection, PARENT, rest, startTestServer, untilDone, type TestServer } from '../support/server.js';

type Json = Record<string, unknown>;

/** Fills a route template with the given id for every `*` (and a two-segment value for `**`). */
function fill(template: string, id: string): string {
  return template
    .replace(/\{[^}=]+=([^}]+)\}/g, (_m, segments: string) => segments)
    .replace(/\{[^}]+\}/g, id)
    .replace(/\*\*/g, `${id}/${id}`)
    .replace(/\*/g, id);
}

const BAD_IDS = ['a%2Fb', '%20', 'x%00y', '%E0%A4%A', '-lead', 'a'.repeat(300), '%F0%9F%98%80'];
const BAD_BODIES = ['{', '[]', '"text"', 'null', '{"name":1}', '{"unknownField":true}', '{"labels":"x"}', '{"pageSize":"many"}'];
const BAD_QUERIES = ['pageSize=abc', 'pageSize=99999999999', 'pageToken=%FF', 'filter=(((', 'validateOnly=maybe', 'nope=1', 'connection.labels=1'];

describe('malformed input never yields a 500', () => {
  let server: TestServer;
  let stored: { operations: Json[]; connections: Json[] };

  before(async () => {
    server = await startTestServer({ operationDelayMs: 0 });
    const op = await createConnection(server.url, 'keep-me');
    await untilDone(server.url, op.name as string);
    stored = await snapshot();
  });
  after(() => server.stop());

  async function snapshot(): Promise<{ operations: Json[]; connections: Json[] }> {
    const ops = await rest(server.url, 'GET', `/v1/${PARENT}/operations`);
    const cons = await rest(server.url, 'GET', `/v1/${PARENT}/connections`);
    return { operations: ops.body.operations as Json[], connections: cons.body.connections as Json[] };
  }

  function assertCleanError(res: { status: number; body: Json }, what: string): void {
    assert.ok(res.status < 500 || res.status === 501, `${what}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    if (res.status >= 400) {
      const error = res.body.error as Json | undefined;
      assert.ok(error, `${what}: AIP-193 error body`);
      assert.equal(error.code, res.status, what);
      assert.equal(typeof error.status, 'string', what);
      assert.ok((error.message as string).length > 0, what);
    }
  }

  test('every route with bad ids, bodies and query parameters', async () => {
    const routes = httpRoutes(services);
    assert.ok(routes.length >= 30, 'routes come from the annotations');
    let calls = 0;
    for (const route of routes) {
      for (const id of BAD_IDS) {
        const path = fill(route.template, id);
        assertCleanError(await rest(server.url, route.httpMethod, path), `${route.httpMethod} ${path}`);
        calls++;
      }
      const path = fill(route.template, 'ok');
      // fetch, like most HTTP clients, sends no body with GET.
      for (const body of route.httpMethod === 'GET' ? [] : BAD_BODIES) {
        assertCleanError(await rest(server.url, route.httpMethod, path, body), `${route.httpMethod} ${path} ${body}`);
        calls++;
      }
      for (const query of BAD_QUERIES) {
        assertCleanError(await rest(server.url, route.httpMethod, `${path}?${query}`), `${route.httpMethod} ${path}?${query}`);
        calls++;
      }
    }
    assert.ok(calls > 500);
  });

  test('bad input to the implemented methods is INVALID_ARGUMENT', async () => {
    const op = `/v1/${PARENT}/operations`;
    const cases: [string, string, unknown?][] = [
      ['GET', `${op}?pageSize=abc`],
      ['GET', `${op}?pageSize=-5`],
      ['GET', `${op}?pageToken=abc`],
      ['GET', `${op}?filter=done%20%3D`],
      ['GET', `${op}/x%2Fy`],
      ['POST', `${op}/operation-1-a:cancel`, '{'],
      ['POST', `${op}/operation-1-a:cancel`, { name: 'x' }],
      ['DELETE', `${op}/operation-1-a`, { name: 'x' }],
      ['POST', `/v1/${PARENT}/connections?connectionId=ok`, '{"githubConfig": []}'],
      ['POST', `/v1/${PARENT}/connections?connectionId=ok&validateOnly=yes`, { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } }],
      ['GET', `/v1/${PARENT}/connections?pageToken=zzz`],
    ];
    for (const [method, path, body] of cases) {
      const res = await rest(server.url, method, path, body);
      assert.equal(res.status, 400, `${method} ${path}: ${JSON.stringify(res.body)}`);
      assert.equal((res.body.error as Json).status, 'INVALID_ARGUMENT');
    }
  });

  test('a body over 1 MiB is refused cleanly', async () => {
    const huge = JSON.stringify({ githubConfig: { githubApp: 'DEVELOPER_CONNECT' }, labels: { big: 'x'.repeat(2 * 1024 * 1024) } });
    const res = await rest(server.url, 'POST', `/v1/${PARENT}/connections?connectionId=huge`, huge);
    assert.equal(res.status, 400);
  });

  test('stored data is unchanged by all of it', async () => {
    assert.deepEqual(await snapshot(), stored);
  });
});
