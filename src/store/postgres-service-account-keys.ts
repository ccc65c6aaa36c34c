import type pg from 'pg';
import { toServiceAccountKey, type KeyRow } from './key-rows.js';
import type { NewServiceAccountKey, ServiceAccountKeyRecord } from './store.js';


/** The service_account_keys table of PostgresStore; writes run inside the store's group transaction. */
export class PostgresServiceAccountKeys {
  async create(tx: pg.PoolClient, key: NewServiceAccountKey): Promise<ServiceAccountKeyRecord> {
    const { rows } = await tx.query<KeyRow>(
      `INSERT INTO service_account_keys (key_id, project, email, public_key_pem, create_time) VALUES ($1, $2, $3, $4, $5) RETURNING *`,
      [key.keyId, key.project, key.email, key.publicKeyPem, key.createTime.getTime()],
    );
    return toServiceAccountKey(rows[0]!);
  }

  async get(db: pg.Pool, keyId: string): Promise<ServiceAccountKeyRecord | undefined> {
    const { rows } = await db.query<KeyRow>('SELECT * FROM service_account_keys WHERE key_id = $1', [keyId]);
    return rows[0] && toServiceAccountKey(rows[0]);
  }

  async list(db: pg.Pool, email?: string): Promise<ServiceAccountKeyRecord[]> {
    const { rows } =
      email === undefined
        ? await db.query<KeyRow>('SELECT * FROM service_account_keys WHERE delete_time IS NULL ORDER BY seq')
        : await db.query<KeyRow>('SELECT * FROM service_account_keys WHERE email = $1 AND delete_time IS NULL ORDER BY seq', [email]);
    return rows.map(toServiceAccountKey);
  }

  async delete(tx: pg.PoolClient, keyId: string, deleteTime: Date): Promise<boolean> {
    const { rowCount } = await tx.query('UPDATE service_account_keys SET delete_time = $1 WHERE key_id = $2 AND delete_time IS NULL', [deleteTime.getTime(), keyId]);
    return rowCount === 1;
  }
}
