import type Database from 'better-sqlite3';
import { toServiceAccountKey, type KeyRow } from './key-rows.js';
import type { NewServiceAccountKey, ServiceAccountKeyRecord } from './store.js';


/** The service_account_keys table of SqliteStore: synchronous statements, which the store wraps in its writes. */
export class SqliteServiceAccountKeys {
  private readonly statements;

  constructor(db: Database.Database) {
    this.statements = {
      insert: db.prepare(
        `INSERT INTO service_account_keys (key_id, project, email, public_key_pem, create_time)
         VALUES (@keyId, @project, @email, @publicKeyPem, @createTime) RETURNING *`,
      ),
      get: db.prepare('SELECT * FROM service_account_keys WHERE key_id = ?'),
      listAll: db.prepare('SELECT * FROM service_account_keys WHERE delete_time IS NULL ORDER BY seq'),
      listByEmail: db.prepare('SELECT * FROM service_account_keys WHERE email = ? AND delete_time IS NULL ORDER BY seq'),
      delete: db.prepare('UPDATE service_account_keys SET delete_time = ? WHERE key_id = ? AND delete_time IS NULL'),
    };
  }

  create(key: NewServiceAccountKey): ServiceAccountKeyRecord {
    return toServiceAccountKey(this.statements.insert.get({ ...key, createTime: key.createTime.getTime() }) as KeyRow);
  }

  get(keyId: string): ServiceAccountKeyRecord | undefined {
    const row = this.statements.get.get(keyId) as KeyRow | undefined;
    return row && toServiceAccountKey(row);
  }

  list(email?: string): ServiceAccountKeyRecord[] {
    const rows = (email === undefined ? this.statements.listAll.all() : this.statements.listByEmail.all(email)) as KeyRow[];
    return rows.map(toServiceAccountKey);
  }

  delete(keyId: string, deleteTime: Date): boolean {
    return this.statements.delete.run(deleteTime.getTime(), keyId).changes === 1;
  }
}
