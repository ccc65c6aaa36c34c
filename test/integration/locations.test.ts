/** The set of locations is Developer Connect's regions by default, and `serve --locations` changes it everywhere it counts. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LOCATIONS } from '../../src/api/locations.js';
import { rest, startTestServer, type TestServer } from '../support/server.js';

type Json = Record<string, unknown>;

describe('locations', () => {
  let byDefault: TestServer;
  let custom: TestServer;
  before(async () => {
    [byDefault, custom] = await Promise.all([startTestServer(), startTestServer({ locations: ['moon-north1', 'us-central1'] })]);
  });
  after(async () => {
    await Promise.all([byDefault?.stop(), custom?.stop()]);
  });

  const ids = async (server: TestServer) => ((await rest(server.url, 'GET', '/v1/projects/demo/locations?pageSize=100')).body.locations as Json[]).map((l) => l.locationId);

  test("by default: Developer Connect's regions, and a resource elsewhere is NOT_FOUND", async () => {
    assert.deepEqual(await ids(byDefault), [...LOCATIONS]);
    const res = await rest(byDefault.url, 'POST', '/v1/projects/demo/locations/moon-north1/connections?connectionId=c', { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } });
    assert.equal(res.status, 404);
    assert.match(String((res.body.error as Json).message), /Location 'projects\/demo\/locations\/moon-north1' was not found/);
  });

  test('--locations: ListLocations, GetLocation and resource methods all follow it', async () => {
    assert.deepEqual(await ids(custom), ['moon-north1', 'us-central1']);
    assert.equal((await rest(custom.url, 'GET', '/v1/projects/demo/locations/moon-north1')).status, 200);
    assert.equal((await rest(custom.url, 'GET', '/v1/projects/demo/locations/europe-west1')).status, 404);
    const made = await rest(custom.url, 'POST', '/v1/projects/demo/locations/moon-north1/connections?connectionId=c', { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    assert.equal((await rest(custom.url, 'GET', '/v1/projects/demo/locations/europe-west1/connections')).status, 404);
  });

  test('a location id that is not one refuses to start', async () => {
    await assert.rejects(startTestServer({ locations: ['Not A Region'] }), /'Not A Region' is not a location id/);
  });
});
