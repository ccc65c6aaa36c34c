import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
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
  },
);

storeContract('SqliteStore (:memory:)', async () => SqliteStore.open(':memory:'));
