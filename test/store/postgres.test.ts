import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/store.js';
import { freshDatabaseUrl } from '../support/postgres.js';
import { storeContract } from './contract.js';

/** The database of each store, so the contract can reopen it. */
const urls = new Map<Store, string>();

async function open(url: string): Promise<Store> {
  const store = await PostgresStore.open(url);
  urls.set(store, url);
  return store;
}

function urlOf(store: Store): string {
  const url = urls.get(store);
  if (url === undefined) throw new Error('not a store this file opened');
  return url;
}

storeContract('PostgresStore', async () => open(await freshDatabaseUrl()), {
  reopen: async (closed) => open(urlOf(closed)),
  // A row like one the SQLite store wrote before its migration 000005, made through a connection of its own.
  clearEtag: async (store, name) => {
    const client = new pg.Client({ connectionString: urlOf(store) });
    await client.connect();
    try {
      await client.query('UPDATE resources SET etag = NULL WHERE name = $1', [name]);
    } finally {
      await client.end();
    }
  },
});
