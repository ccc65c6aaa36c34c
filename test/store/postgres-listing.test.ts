import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres.js';
import { freshDatabaseUrl } from '../support/postgres.js';
import { listingAgreement } from './listing-agreement.js';

let url = '';

listingAgreement(
  'PostgresStore',
  async () => PostgresStore.open((url = await freshDatabaseUrl())),
  {
    // The planner picks joins by statistics, which autovacuum gathers only a while after a bulk load.
    loaded: async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query('ANALYZE').finally(() => client.end());
    },
    // Two of the orders, to keep the file's time in bounds: no order (filters alone), and two keys in both directions with NULLs.
    orders: ['', 'state, rank desc'],
  },
);
