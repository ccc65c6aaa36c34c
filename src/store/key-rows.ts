import type { ServiceAccountKeyRecord } from './store.js';

/** A service_account_keys row as both backends store it (times in epoch milliseconds). */
export interface KeyRow {
  key_id: string;
  project: string;
  email: string;
  public_key_pem: string;
  create_time: number;
  delete_time: number | null;
}

export function toServiceAccountKey(row: KeyRow): ServiceAccountKeyRecord {
  return {
    keyId: row.key_id,
    project: row.project,
    email: row.email,
    publicKeyPem: row.public_key_pem,
    createTime: new Date(row.create_time),
    deleteTime: row.delete_time === null ? undefined : new Date(row.delete_time),
  };
}
