import { join } from 'node:path';
import Database from 'better-sqlite3';

// Written by the server on its own schedule (retention runs), not by calls: left out of a snapshot.
const SCHEDULED_TABLES = new Set(['cluster_tasks']);

/**
 * Every row of every table of a test server's SQLite store, as one string: two snapshots are
 * equal exactly when nothing in the store changed between them. Read through a connection of its
 * own, which WAL mode lets read beside the server's.
 */
export function storeSnapshot(dataDir: string): string {
  const db = new Database(join(dataDir, 'devconnect.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .all() as { name: string }[];
    const dump: Record<string, unknown[]> = {};
    for (const { name } of tables) {
      if (SCHEDULED_TABLES.has(name)) continue;
      // Ordered by every column, so the dump does not depend on the order rows are stored in.
      const columns = (db.pragma(`table_info("${name}")`) as unknown[]).map((_, i) => i + 1);
      dump[name] = db.prepare(`SELECT * FROM "${name}" ORDER BY ${columns.join(', ')}`).all();
    }
    return JSON.stringify(dump, (_key, value: unknown) => (value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value));
  } finally {
    db.close();
  }
}
