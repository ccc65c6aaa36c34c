import type Database from 'better-sqlite3';
import type { NewServiceAccountKey, ServiceAccountKeyRecord } from './store.js';

interface KeyRow {
  seq: number;
  key_id: string;
  project: string;
  email: string;
  public_key_pem: string;
  create_time: number;
  delete_time: number | null;
}

function toKey(row: KeyRow): ServiceAccountKeyRecord {
  return {
    keyId: row.key_id,
    project: row.project,
    email: row.email,
    publicKeyPem: row.public_key_pem,
    createTime: new Date(row.create_time),
    deleteTime: row.delete_time === null ? undefined : new Date(row.delete_time),
  };
}

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
    return toKey(this.statements.insert.get({ ...key, createTime: key.createTime.getTime() }) as KeyRow);
  }

  get(keyId: string): ServiceAccountKeyRecord | undefined {
    const row = this.statements.get.get(keyId) as KeyRow | undefined;
    return row && toKey(row);
  }

  list(email?: string): ServiceAccountKeyRecord[] {
    const rows = (email === undefined ? this.statements.listAll.all() : this.statements.listByEmail.all(email)) as KeyRow[];
    return rows.map(toKey);
  }

  delete(keyId: string, deleteTime: Date): boolean {
    return this.statements.delete.run(deleteTime.getTime(), keyId).changes === 1;
  }
}
