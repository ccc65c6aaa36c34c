import type pg from 'pg';
import { PreconditionFailedError, type Precondition } from '../common/preconditions.js';
import { PostgresResourceIndex } from './postgres-resource-index.js';
import type { ResourceChange } from './store.js';

/** What a write reads of resources and what it writes, by name: the locks it takes first. */
interface Locks {
  exclusive: Set<string>;
  shared: Set<string>;
}

/** The names above `name` (`projects/p`, `projects/p/locations/l`, ...): a put holds them against a cascade delete. */
function ancestors(name: string): string[] {
  const parts = name.split('/');
  return parts.slice(1, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

/**
 * Resource changes inside a group's transaction (postgres-group-commit.ts): locks, then
 * preconditions, then writes, so that no write of another node can come between a precondition's
 * check and the commit it guards.
 *
 * Locks are transaction-scoped advisory locks on the hash of a resource name, taken before
 * anything is read: a row lock (SELECT ... FOR UPDATE) cannot guard a name that has no row yet,
 * which `absent` and `no-children` are about. A write takes its own name and the names it deletes
 * below exclusively, and shares the names it only reads or sits below: two creates of one name,
 * a child's create and its parent's delete (with or without `force`), two updates over one etag
 * each wait for the other's commit, and then read what it committed (READ COMMITTED reads what was
 * committed before each statement). A hash collision only makes two writes wait for each other.
 */
export class PostgresChanges {
  readonly index = new PostgresResourceIndex();

  /** Takes the locks of preconditions `require` and of `change`; must come before check and apply. */
  async lock(tx: pg.PoolClient, require: readonly Precondition[], change?: ResourceChange): Promise<void> {
    const locks: Locks = { exclusive: new Set(), shared: new Set() };
    for (const p of [...require, ...(change?.require ?? [])]) (p.kind === 'no-children' ? locks.exclusive : locks.shared).add(p.name);
    if (change?.put) {
      locks.exclusive.add(change.put.name);
      for (const name of ancestors(change.put.name)) locks.shared.add(name);
    }
    if (change?.delete) locks.exclusive.add(change.delete.name);
    if (change?.deleteChildrenOf !== undefined) locks.exclusive.add(change.deleteChildrenOf);
    for (const name of locks.exclusive) locks.shared.delete(name);
    if (locks.exclusive.size > 0) await tx.query('SELECT pg_advisory_xact_lock(hashtextextended(n, 0)) FROM unnest($1::text[]) AS n', [[...locks.exclusive].sort()]);
    if (locks.shared.size > 0) await tx.query('SELECT pg_advisory_xact_lock_shared(hashtextextended(n, 0)) FROM unnest($1::text[]) AS n', [[...locks.shared].sort()]);
  }

  /** Every precondition holds, or PreconditionFailedError for the first that does not; reads only. */
  async check(tx: pg.PoolClient, preconditions: readonly Precondition[]): Promise<void> {
    if (preconditions.length === 0) return;
    const named = preconditions.filter((p) => p.kind !== 'no-children').map((p) => p.name);
    const parents = preconditions.filter((p) => p.kind === 'no-children').map((p) => p.name);
    const etags = new Map<string, string>();
    if (named.length > 0) {
      const { rows } = await tx.query<{ name: string; etag: string | null }>('SELECT name, etag FROM resources WHERE name = ANY($1::text[])', [named]);
      for (const row of rows) etags.set(row.name, row.etag ?? '');
    }
    const withChildren = new Set<string>();
    if (parents.length > 0) {
      const { rows } = await tx.query<{ parent: string }>(
        'SELECT p AS parent FROM unnest($1::text[]) AS p WHERE EXISTS (SELECT 1 FROM resources WHERE parent = p)',
        [parents],
      );
      for (const row of rows) withChildren.add(row.parent);
    }
    for (const p of preconditions) {
      const etag = etags.get(p.name);
      const holds =
        p.kind === 'no-children' ? !withChildren.has(p.name) : p.kind === 'absent' ? etag === undefined : p.kind === 'etag' ? etag === p.etag : etag !== undefined;
      if (!holds) throw new PreconditionFailedError(p);
    }
  }

  /** Writes `change`, whose locks are taken and preconditions checked. */
  async apply(tx: pg.PoolClient, change: ResourceChange): Promise<void> {
    if (change.delete) {
      await tx.query('DELETE FROM resources WHERE name = $1', [change.delete.name]);
      if (change.delete.cascade) await this.deleteDescendants(tx, change.delete.name);
    }
    if (change.deleteChildrenOf !== undefined) await this.deleteDescendants(tx, change.deleteChildrenOf);
    if (change.put) {
      const { name, parent, collection, etag, data, index } = change.put;
      // An update keeps the row (and its seq), so a listing keeps its order.
      const { rows } = await tx.query<{ seq: number }>(
        `INSERT INTO resources (name, parent, collection, etag, data, indexed) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (name) DO UPDATE SET parent = excluded.parent, collection = excluded.collection, etag = excluded.etag,
           data = excluded.data, indexed = excluded.indexed
         RETURNING seq`,
        [name, parent, collection, etag, Buffer.from(data.buffer, data.byteOffset, data.byteLength), index !== undefined],
      );
      await this.index.write(tx, rows[0]!.seq, parent, collection, index);
    }
  }

  /** The names below `name/`: from 'name/' up to, not including, 'name0' ('0' follows '/'; the column compares bytes). */
  private async deleteDescendants(tx: pg.PoolClient, name: string): Promise<void> {
    await tx.query("DELETE FROM resources WHERE name >= $1::text || '/' AND name < $1::text || '0'", [name]);
  }
}
