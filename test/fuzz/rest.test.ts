/**
 * Property-based fuzzing of the REST surface (#11): every route of the google.api.http annotations
 * with hostile paths, query strings and bodies; JSON bodies generated from the request messages'
 * descriptors, valid and then mutated; List filters; page tokens. The properties: never a 5xx,
 * every error in the AIP-193 shape, nothing in the store changed by a refused call, and the server
 * still answering afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { parseFilter } from '../../src/api/filter.js';
import { ApiError, Code } from '../../src/common/errors.js';
import { services } from '../../src/proto/registry.js';
import { connections } from '../../src/resources/connections/index.js';
import { httpRoutes, type HttpRoute } from '../../src/transport/http-rules.js';
import { createConnection, PARENT, rest, startTestServer, untilDone, type TestServer } from '../support/server.js';
import { storeSnapshot } from '../support/store-snapshot.js';
import { anyText, filterText, messageJson, mutated, pathFor, queryFor, validId, type KnownIds } from './arbitraries.js';
import { assertRestAnswer, fuzzParameters } from './harness.js';
import { RawHttpClient, type RawRequest } from './http-client.js';

const ROUTES = httpRoutes(services);
const JSON_TYPE = { 'content-type': 'application/json' };

/** The message a route's body carries: the request ('*'), one of its fields, or none (''). */
function bodyMessage(route: HttpRoute) {
  if (route.body === '') return undefined;
  if (route.body === '*') return route.method.input;
  const field = route.method.input.fields.find((f) => f.name === route.body);
  return field?.fieldKind === 'message' ? field.message : undefined;
}

/** The JSON names of the request fields a route takes from the query string. */
function queryNames(route: HttpRoute): string[] {
  if (route.body === '*') return [];
  const bound = new Set(route.variables.map((v) => v.split('.')[0]));
  return route.method.input.fields.filter((f) => !bound.has(f.name) && f.name !== route.body).map((f) => f.jsonName);
}

describe('fuzzing REST', () => {
  let server: TestServer;
  let client: RawHttpClient;
  let known: KnownIds;
  const tokens: { connections: string; operations: string } = { connections: '', operations: '' };

  before(async () => {
    server = await startTestServer();
    client = new RawHttpClient(server.port);
    const ops = [await createConnection(server.url, 'keep-me'), await createConnection(server.url, 'keep-too')];
    for (const op of ops) await untilDone(server.url, op.name as string);
    await rest(server.url, 'POST', `/v1/${PARENT}/connections/keep-me/gitRepositoryLinks?gitRepositoryLinkId=keep-link`, { cloneUri: 'https://github.com/acme/a.git' });
    const operation = String(ops[0]?.name).split('/').pop() ?? '';
    known = { projects: ['demo'], locations: ['us-central1'], connections: ['keep-me'], gitRepositoryLinks: ['keep-link'], operations: [operation] };
    tokens.connections = String((await rest(server.url, 'GET', `/v1/${PARENT}/connections?pageSize=1`)).body.nextPageToken);
    tokens.operations = String((await rest(server.url, 'GET', `/v1/${PARENT}/operations?pageSize=1`)).body.nextPageToken);
    assert.ok(tokens.connections.length > 0 && tokens.operations.length > 0, 'listings of two items have a second page');
  });
  after(async () => {
    client?.close();
    await server?.stop();
  });

  /** Sends a request and checks the answer; a refused one must leave the store as it was. */
  async function check(request: RawRequest): Promise<void> {
    const stored = storeSnapshot(server.dataDir);
    const what = `${request.method} ${request.path} ${String(request.body ?? '').slice(0, 300)}`;
    const answer = await client.send(request);
    if (assertRestAnswer(answer, what)) assert.equal(storeSnapshot(server.dataDir), stored, `${what}: a refused call changed the store`);
  }

  /** The server still serves a plain call. */
  async function assertUp(): Promise<void> {
    const res = await rest(server.url, 'GET', `/v1/${PARENT}/connections/keep-me`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }

  test('every route with hostile paths, query strings and bodies', async () => {
    const call = fc.constantFrom(...ROUTES).chain((route) => {
      const message = bodyMessage(route);
      const body = message === undefined ? fc.option(anyText, { nil: undefined }) : fc.oneof(mutated(messageJson(message)).map((j) => JSON.stringify(j)), anyText);
      return fc.record({
        method: fc.oneof({ weight: 9, arbitrary: fc.constant(route.httpMethod) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'OPTIONS') }),
        path: fc.tuple(pathFor(route, known), queryFor(queryNames(route))).map(([path, query]) => (query === '' ? path : `${path}?${query}`)),
        body,
      });
    });
    await fc.assert(
      fc.asyncProperty(call, ({ method, path, body }) => check({ method, path, headers: body === undefined ? {} : JSON_TYPE, body })),
      fuzzParameters(120, 0.3),
    );
    await assertUp();
  });

  test('create and update with JSON bodies made from the descriptors, valid and mutated', async () => {
    const writes = ROUTES.filter((r) => bodyMessage(r) !== undefined && r.httpMethod !== 'GET');
    const queryValues = fc.oneof(validId, fc.constantFrom('true', 'false', 'labels', 'annotations,labels', '*'), fc.uuid({ version: 4 }));
    const call = fc.constantFrom(...writes).chain((route) => {
      const message = bodyMessage(route)!;
      const json = messageJson(message, 'valid');
      return fc.record({
        route: fc.constant(route),
        path: pathFor(route, known),
        query: queryFor(queryNames(route), queryValues),
        body: fc.oneof(json, mutated(json), messageJson(message, 'hostile')),
      });
    });
    await fc.assert(
      fc.asyncProperty(call, ({ route, path, query, body }) =>
        check({ method: route.httpMethod, path: query === '' ? path : `${path}?${query}`, headers: JSON_TYPE, body: JSON.stringify(body) }),
      ),
      fuzzParameters(120, 0.3),
    );
    await assertUp();
  });

  test('List with generated filters, order_by and page sizes', async () => {
    const listings = [
      { path: `/v1/${PARENT}/connections`, fields: connections.filterFields, order: ['name', 'create_time desc', 'update_time', 'nope'] },
      {
        path: `/v1/${PARENT}/operations`,
        fields: { done: 'bool', 'metadata.verb': 'string', 'metadata.target': 'string', 'error.code': 'int' } as const,
        order: [],
      },
    ];
    const call = fc.constantFrom(...listings).chain((listing) =>
      fc.record({
        path: fc.constant(listing.path),
        filter: filterText(listing.fields),
        orderBy: fc.option(fc.oneof(fc.constantFrom(...(listing.order.length > 0 ? listing.order : ['x'])), anyText), { nil: undefined }),
        pageSize: fc.option(fc.oneof(fc.integer({ min: -5, max: 2000 }).map(String), anyText), { nil: undefined }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(call, ({ path, filter, orderBy, pageSize }) => {
        const query = new URLSearchParams({ filter: filter.replace(/[\ud800-\udfff]/g, 'x') });
        if (orderBy !== undefined) query.set('orderBy', orderBy.replace(/[\ud800-\udfff]/g, 'x'));
        if (pageSize !== undefined) query.set('pageSize', pageSize.replace(/[\ud800-\udfff]/g, 'x'));
        return check({ method: 'GET', path: `${path}?${query.toString()}` });
      }),
      fuzzParameters(100, 0.2),
    );
    await assertUp();
  });

  test('the filter parser answers every text with a parse or an INVALID_ARGUMENT, never another error', () => {
    fc.assert(
      fc.property(fc.oneof(filterText(connections.filterFields), fc.string({ unit: 'binary', maxLength: 60 })), (text) => {
        try {
          parseFilter(text, connections.filterFields);
        } catch (error) {
          assert.ok(error instanceof ApiError && error.code === Code.INVALID_ARGUMENT, `${JSON.stringify(text)}: ${String(error)}`);
        }
      }),
      fuzzParameters(1_000, 0.05),
    );
  });

  test('page tokens: issued, mutated, forged or from another listing', async () => {
    const mutate = (token: string) =>
      fc.oneof(
        fc.constant(token),
        fc.tuple(fc.nat(), fc.constantFrom('A', '_', '-', '.', '=', '%', '0')).map(([at, c]) => token.slice(0, at % token.length) + c + token.slice((at % token.length) + 1)),
        fc.nat().map((at) => token.slice(0, at % token.length)),
        anyText.map((junk) => token + junk),
        fc.jsonValue().map((payload) => `${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${token.split('.')[1] ?? ''}`),
        fc.constant(token.split('.').reverse().join('.')),
        anyText,
      );
    const call = fc.record({
      listing: fc.constantFrom('connections', 'operations') as fc.Arbitrary<'connections' | 'operations'>,
      from: fc.constantFrom('connections', 'operations') as fc.Arbitrary<'connections' | 'operations'>,
    }).chain(({ listing, from }) => fc.record({ listing: fc.constant(listing), token: mutate(tokens[from]) }));
    await fc.assert(
      fc.asyncProperty(call, ({ listing, token }) =>
        check({ method: 'GET', path: `/v1/${PARENT}/${listing}?pageSize=1&pageToken=${encodeURIComponent(token.replace(/[\ud800-\udfff]/g, 'x'))}` }),
      ),
      fuzzParameters(60, 0.15),
    );
    await assertUp();
  });
});
