import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listAllPages, rest, startTestServer, type TestServer } from '../support/server.js';

type Json = Record<string, unknown>;
const PARENT = 'projects/listing/locations/us-east1';

/** Every page of ListConnections with `query`, as connection ids in order, and the page count. */
async function listAll(server: TestServer, query: string): Promise<{ ids: string[]; pages: number }> {
  const { names, pages } = await listAllPages(server.url, `/v1/${PARENT}/connections?${query}`, 'connections');
  return { ids: names.map((name) => name.split('/').pop() as string), pages };
}

const q = (filter: string, rest = ''): string => `filter=${encodeURIComponent(filter)}${rest}`;

describe('ListConnections over REST: filter (AIP-160) and order_by (AIP-132)', () => {
  let server: TestServer;
  let middle = '';

  before(async () => {
    server = await startTestServer({ operationDelayMs: 0 });
    const make = async (id: string, labels: Record<string, string>, disabled = false): Promise<Json> => {
      const res = await rest(server.url, 'POST', `/v1/${PARENT}/connections?connectionId=${id}`, {
        githubConfig: { githubApp: 'DEVELOPER_CONNECT' },
        labels,
        disabled,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      await new Promise((r) => setTimeout(r, 5)); // distinct create times
      return res.body.response as Json;
    };
    await make('charlie', { env: 'prod', team: 'a' });
    await make('alpha', { env: 'dev' });
    middle = (await make('echo', { env: 'prod' }, true)).createTime as string;
    await make('bravo', { team: 'b' });
    await make('delta', { env: 'prod', team: 'b' });
  });
  after(() => server.stop());

  test('without filter or order_by: every connection, oldest first', async () => {
    assert.deepEqual((await listAll(server, '')).ids, ['charlie', 'alpha', 'echo', 'bravo', 'delta']);
  });

  test('filters on labels, bool and string fields, with AND, OR, NOT and prefixes', async () => {
    assert.deepEqual((await listAll(server, q('labels.env = prod'))).ids, ['charlie', 'echo', 'delta']);
    assert.deepEqual((await listAll(server, q('labels.env = prod AND labels.team = b'))).ids, ['delta']);
    assert.deepEqual((await listAll(server, q('labels.env != prod'))).ids, ['alpha', 'bravo'], 'a missing label is not prod');
    assert.deepEqual((await listAll(server, q('NOT labels.env = prod OR disabled = true'))).ids, ['alpha', 'echo', 'bravo']);
    assert.deepEqual((await listAll(server, q(`name = "${PARENT}/connections/*"  AND installation_state.stage = PENDING_USER_OAUTH`))).ids.length, 5, 'a GitHub connection without credential waits for OAuth');
    assert.deepEqual((await listAll(server, q(`name = ${PARENT}/connections/b*`))).ids, ['bravo']);
    assert.deepEqual((await listAll(server, q('labels.nothing = x'))).ids, []);
  });

  test('filters on create_time with RFC 3339 times', async () => {
    assert.deepEqual((await listAll(server, q(`create_time > "${middle}"`))).ids, ['bravo', 'delta']);
    assert.deepEqual((await listAll(server, q(`create_time <= "${middle}"`))).ids, ['charlie', 'alpha', 'echo']);
  });

  test('orders by name or create_time, ascending or descending, across pages without repeats or gaps', async () => {
    assert.deepEqual((await listAll(server, 'orderBy=name')).ids, ['alpha', 'bravo', 'charlie', 'delta', 'echo']);
    const paged = await listAll(server, 'orderBy=name%20desc&pageSize=2');
    assert.deepEqual(paged.ids, ['echo', 'delta', 'charlie', 'bravo', 'alpha']);
    assert.equal(paged.pages, 3);
    assert.deepEqual((await listAll(server, `orderBy=${encodeURIComponent('create_time desc')}&${q('labels.env = prod')}&pageSize=1`)).ids, ['delta', 'echo', 'charlie']);
  });

  test('a page token stays valid when connections are added or deleted before the next page', async () => {
    const first = await rest(server.url, 'GET', `/v1/${PARENT}/connections?orderBy=name&pageSize=2`);
    assert.deepEqual((first.body.connections as Json[]).map((c) => (c.name as string).split('/').pop()), ['alpha', 'bravo']);
    await rest(server.url, 'POST', `/v1/${PARENT}/connections?connectionId=aardvark`, { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } });
    await rest(server.url, 'DELETE', `/v1/${PARENT}/connections/charlie`);
    const next = await rest(server.url, 'GET', `/v1/${PARENT}/connections?orderBy=name&pageSize=2&pageToken=${encodeURIComponent(first.body.nextPageToken as string)}`);
    assert.deepEqual((next.body.connections as Json[]).map((c) => (c.name as string).split('/').pop()), ['delta', 'echo']);
    const foreign = await rest(server.url, 'GET', `/v1/${PARENT}/connections?orderBy=create_time&pageToken=${encodeURIComponent(first.body.nextPageToken as string)}`);
    assert.equal(foreign.status, 400, 'a token from another order_by');
  });

  test('bad filters and order_by are INVALID_ARGUMENT that say what is wrong', async () => {
    const cases: [string, RegExp][] = [
      [q('colour = red'), /unknown field 'colour'/],
      [q('labels.env ='), /expected a value/],
      [q('create_time > yesterday'), /RFC 3339/],
      ['orderBy=colour', /cannot order by 'colour'/],
      ['orderBy=name%20sideways', /optionally followed by 'asc' or 'desc'/],
      ['orderBy=name,name', /appears twice/],
    ];
    for (const [query, message] of cases) {
      const res = await rest(server.url, 'GET', `/v1/${PARENT}/connections?${query}`);
      assert.equal(res.status, 400, query);
      const error = res.body.error as Json;
      assert.equal(error.status, 'INVALID_ARGUMENT');
      assert.match(error.message as string, message);
    }
  });
});
