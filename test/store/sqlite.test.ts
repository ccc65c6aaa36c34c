import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/store.js';
import { storeContract } from './contract.js';

const root = mkdtempSync(join(tmpdir(), 'devconnect-store-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** The data directory of each file-backed store, so the contract can reopen it. */
const dirs = new Map<Store, string>();
let n = 0;

storeContract(
  'SqliteStore (file)',
  async () => {
    const dir = join(root, `store-${++n}`);
    const store = SqliteStore.open(dir);
    dirs.set(store, dir);
    return store;
  },
  {
    reopen: async (closed) => {
      const dir = dirs.get(closed);
      if (dir === undefined) throw new Error('not a store this file opened');
      const store = SqliteStore.open(dir);
      dirs.set(store, dir);
      return store;
    },
    // Rows written before migration 000005 have no etag: made here through a second connection to the file.
    clearEtag: async (store, name) => {
      const dir = dirs.get(store);
      if (dir === undefined) throw new Error('not a store this file opened');
      const db = new Database(join(dir, 'devconnect.sqlite'));
      try {
        db.prepare('UPDATE resources SET etag = NULL WHERE name = ?').run(name);
      } finally {
        db.close();
      }
    },
  },
);

storeContract('SqliteStore (:memory:)', async () => SqliteStore.open(':memory:'));
