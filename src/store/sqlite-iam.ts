import type Database from 'better-sqlite3';
import { EtagMismatchError, type IamBinding, type IamPolicyRecord } from './store.js';

interface PolicyRow {
  resource: string;
  version: number;
  bindings: string;
  etag: string;
}

interface GroupRow {
  email: string;
  members: string;
}

function toPolicy(row: PolicyRow): IamPolicyRecord {
  return { resource: row.resource, version: row.version, bindings: JSON.parse(row.bindings) as IamBinding[], etag: row.etag };
}

/** The iam_policies and iam_groups tables of SqliteStore: synchronous statements, which the store wraps in its writes. */
export class SqliteIam {
  private readonly statements;

  constructor(db: Database.Database) {
    this.statements = {
      getPolicy: db.prepare('SELECT * FROM iam_policies WHERE resource = ?'),
      putPolicy: db.prepare(
        `INSERT INTO iam_policies (resource, version, bindings, etag) VALUES (@resource, @version, @bindings, @etag)
         ON CONFLICT (resource) DO UPDATE SET version = excluded.version, bindings = excluded.bindings, etag = excluded.etag`,
      ),
      listGroups: db.prepare('SELECT * FROM iam_groups ORDER BY email'),
      deleteGroups: db.prepare('DELETE FROM iam_groups'),
      insertGroup: db.prepare('INSERT INTO iam_groups (email, members) VALUES (?, ?)'),
    };
  }

  getPolicy(resource: string): IamPolicyRecord | undefined {
    const row = this.statements.getPolicy.get(resource) as PolicyRow | undefined;
    return row && toPolicy(row);
  }

  /** Compare-and-set, run inside the store's write transaction; a mismatch throws before anything is written. */
  setPolicy(policy: IamPolicyRecord, expectedEtag: string | null | undefined): void {
    if (expectedEtag !== undefined) {
      const current = this.statements.getPolicy.get(policy.resource) as PolicyRow | undefined;
      if ((current?.etag ?? null) !== expectedEtag) throw new EtagMismatchError(policy.resource);
    }
    this.statements.putPolicy.run({ ...policy, bindings: JSON.stringify(policy.bindings) });
  }

  getGroups(): Record<string, string[]> {
    const rows = this.statements.listGroups.all() as GroupRow[];
    return Object.fromEntries(rows.map((row) => [row.email, JSON.parse(row.members) as string[]]));
  }

  /** Must run inside a transaction, so no reader sees the groups half replaced. */
  setGroups(groups: Record<string, string[]>): void {
    this.statements.deleteGroups.run();
    for (const [email, members] of Object.entries(groups)) this.statements.insertGroup.run(email, JSON.stringify(members));
  }
}
