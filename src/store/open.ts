import type { CommitHook } from './commit-hook.js';
import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './store.js';

/** Where state is kept: a PostgreSQL database when `databaseUrl` is given, else SQLite in `dataDir`. */
export interface StoreLocation {
  dataDir: string;
  databaseUrl?: string;
}

export async function openStore(where: StoreLocation, hooks: { onCommit?: CommitHook } = {}): Promise<Store> {
  return where.databaseUrl ? PostgresStore.open(where.databaseUrl, hooks) : SqliteStore.open(where.dataDir, hooks);
}

/** Opens the store for one command and closes it after; a server may have it open too (SQLite WAL, or PostgreSQL). */
export async function withStore<T>(where: StoreLocation, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(where);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}
