import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { listAllPages, rest, startTestServer } from '../support/server.js';

const PARENT = 'projects/backfill/locations/us-central1';

describe('List over resources stored before the resource index (migration 000006)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'devconnect-backfill-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('indexes them before the first List, which filters and sorts them like any other', async () => {
    const first = await startTestServer({ dataDir });
    try {
      for (const [id, env] of [['alpha', 'prod'], ['bravo', 'dev'], ['charlie', 'prod']] as const) {
        const res = await rest(first.url, 'POST', `/v1/${PARENT}/connections?connectionId=${id}`, { githubConfig: { githubApp: 'DEVELOPER_CONNECT' }, labels: { env } });
        assert.equal(res.status, 200, JSON.stringify(res.body));
      }
    } finally {
      // A failed assertion must not leave the server listening: the test process would never end.
      await first.stop();
    }

    // What a data directory written before the index looks like: rows without entries, not indexed.
    const db = new Database(join(dataDir, 'devconnect.sqlite'));
    db.exec('DELETE FROM resource_fields; UPDATE resources SET indexed = 0');
    db.close();

    const second = await startTestServer({ dataDir });
    try {
      const list = async (query: string) => (await listAllPages(second.url, `/v1/${PARENT}/connections?${query}`, 'connections')).names.map((n) => n.split('/').pop());
      assert.deepEqual(await list(`filter=${encodeURIComponent('labels.env = prod')}`), ['alpha', 'charlie']);
      assert.deepEqual(await list('orderBy=name%20desc&pageSize=1'), ['charlie', 'bravo', 'alpha']);
      const unindexed = await second.store.listUnindexedResources({ collection: 'connections', pageSize: 10 });
      assert.deepEqual(unindexed.items, []);
    } finally {
      await second.stop();
    }
  });
});
