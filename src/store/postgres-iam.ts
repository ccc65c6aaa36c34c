import type pg from 'pg';
import { EtagMismatchError, type IamBinding, type IamPolicyRecord } from './store.js';

interface PolicyRow {
  resource: string;
  version: number;
  bindings: IamBinding[];
  etag: string;
}

/** The iam_policies and iam_groups tables of PostgresStore; writes run inside the store's group transaction. */
export class PostgresIam {
  async getPolicy(db: pg.Pool, resource: string): Promise<IamPolicyRecord | undefined> {
    const { rows } = await db.query<PolicyRow>('SELECT resource, version, bindings, etag FROM iam_policies WHERE resource = $1', [resource]);
    const row = rows[0];
    return row && { resource: row.resource, version: row.version, bindings: row.bindings, etag: row.etag };
  }

  /**
   * Compare-and-set in the statement that writes: an UPDATE of the row with the expected etag, or an
   * INSERT that does nothing over an existing row; a write of another node in between leaves no row
   * to change, and this one throws EtagMismatchError having written nothing.
   */
  async setPolicy(tx: pg.PoolClient, policy: IamPolicyRecord, expectedEtag: string | null | undefined): Promise<void> {
    const values = [policy.resource, policy.version, JSON.stringify(policy.bindings), policy.etag];
    let sql: string;
    if (expectedEtag === undefined) {
      sql = `INSERT INTO iam_policies (resource, version, bindings, etag) VALUES ($1, $2, $3, $4)
             ON CONFLICT (resource) DO UPDATE SET version = excluded.version, bindings = excluded.bindings, etag = excluded.etag`;
    } else if (expectedEtag === null) {
      sql = 'INSERT INTO iam_policies (resource, version, bindings, etag) VALUES ($1, $2, $3, $4) ON CONFLICT (resource) DO NOTHING';
    } else {
      sql = 'UPDATE iam_policies SET version = $2, bindings = $3, etag = $4 WHERE resource = $1 AND etag = $5';
      values.push(expectedEtag);
    }
    const { rowCount } = await tx.query(sql, values);
    if (rowCount !== 1) throw new EtagMismatchError(policy.resource);
  }

  async getGroups(db: pg.Pool): Promise<Record<string, string[]>> {
    const { rows } = await db.query<{ email: string; members: string[] }>('SELECT email, members FROM iam_groups ORDER BY email');
    return Object.fromEntries(rows.map((row) => [row.email, row.members]));
  }

  /** In one transaction, so no reader sees the groups half replaced; the table lock keeps two nodes' replacements apart (readers pass). */
  async setGroups(tx: pg.PoolClient, groups: Record<string, string[]>): Promise<void> {
    await tx.query('LOCK TABLE iam_groups IN SHARE ROW EXCLUSIVE MODE');
    await tx.query('DELETE FROM iam_groups');
    const entries = Object.entries(groups);
    if (entries.length === 0) return;
    await tx.query('INSERT INTO iam_groups (email, members) SELECT * FROM unnest($1::text[], $2::jsonb[])', [
      entries.map(([email]) => email),
      entries.map(([, members]) => JSON.stringify(members)),
    ]);
  }
}
