/**
 * The store's filtered and sorted listings (SQL over the resource index) held equal to the
 * in-memory reference of src/api (matchesFilter, orderedPage), page by page, over many filters and
 * orders on the same data: like filter-sql.test.ts, two implementations that must agree.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { ResourceChange, ResourceRecord } from '../../src/store/store.js';
import { listingAgreement } from './listing-agreement.js';

const P = 'projects/p/locations/us-central1';
const T0 = Date.UTC(2026, 0, 1);

listingAgreement('SqliteStore', async () => SqliteStore.open(':memory:'));

describe('SqliteStore resource index', () => {
  it('removes the index of a deleted resource, and of what a cascade deletes below it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'devconnect-index-'));
    const store = SqliteStore.open(dir);
    try {
      const write = (n: number, change: ResourceChange) =>
        store.insertOperation(
          { name: `${P}/operations/op-${n}`, parent: P, kind: 'things.create', input: '{}', verb: 'create', target: P, createTime: new Date(T0) },
          { finished: { outcome: {}, endTime: new Date(T0), change } },
        );
      const thing = (name: string): ResourceRecord => ({ name, parent: name.split('/').slice(0, -2).join('/'), collection: 'things', etag: 'e', data: Buffer.from(name), index: { name, rank: 1 } });
      const [a, b, child] = [thing(`${P}/things/a`), thing(`${P}/things/b`), thing(`${P}/things/b/things/c`)];
      await Promise.all([a, b, child].map((put, n) => write(n, { require: [], put })));
      const db = new Database(join(dir, 'devconnect.sqlite'), { readonly: true });
      const entries = () => db.prepare('SELECT count(*) FROM resource_fields').pluck().get();
      assert.equal(entries(), 6);
      await write(3, { require: [], put: { ...a, index: { name: a.name } } });
      assert.equal(entries(), 5, 'a put replaces the entries');
      await write(4, { require: [], delete: { name: a.name, cascade: false } });
      assert.equal(entries(), 4);
      await write(5, { require: [], delete: { name: b.name, cascade: true } });
      assert.equal(entries(), 0);
      db.close();
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
