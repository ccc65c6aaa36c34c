import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import type { CommitHook } from './commit-hook.js';

/** A write: statements run on the group's connection, inside its transaction. */
export type Work<T> = (tx: pg.PoolClient) => Promise<T>;

interface PendingWrite {
  work: Work<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Deadlock detected; serialization failure: another node's transaction won, and the group may simply run again. */
const RETRYABLE = new Set(['40P01', '40001']);
const ATTEMPTS = 5;

/**
 * Group commit, as SqliteStore does it: writes issued while a group commits wait for the next
 * group, and each group is one transaction on one connection, its writes run in the order they
 * were issued. So writes of one node apply in issue order (of two writes over the same etag issued
 * together, the first wins) and each costs a share of one COMMIT. Between nodes, the row and
 * advisory locks the writes take decide.
 *
 * A write that throws a refusal (`isRefusal`: a failed precondition, checked before the write
 * changes anything) fails alone; any other error rolls back the group and fails every write in
 * it, except a deadlock with another node, after which the whole group runs again.
 */
export class GroupCommit {
  private pending: PendingWrite[] = [];
  private draining: Promise<void> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly isRefusal: (error: unknown) => boolean,
    private readonly onCommit?: CommitHook,
  ) {}

  run<T>(work: Work<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ work, resolve: resolve as (value: unknown) => void, reject });
      // The next turn, so that every write issued in this one joins the group.
      this.draining ??= new Promise<void>((done) => setImmediate(() => void this.drain().finally(done)));
    });
  }

  /** Resolves once every write issued so far has been answered. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      await this.commit(batch);
    }
    this.draining = undefined;
  }

  private async commit(batch: PendingWrite[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let settled: Settled[];
      try {
        settled = await this.transaction(batch);
      } catch (error) {
        if (attempt < ATTEMPTS && RETRYABLE.has((error as { code?: string }).code ?? '')) continue;
        for (const item of batch) item.reject(error);
        return;
      }
      settled.forEach((result, i) => {
        const item = batch[i]!;
        if (result.ok) item.resolve(result.value);
        else item.reject(result.error);
      });
      return;
    }
  }

  private async transaction(batch: PendingWrite[]): Promise<Settled[]> {
    const tx = await this.pool.connect();
    // Timed from BEGIN: the wait for a connection is the pool's, not the commit's.
    const started = performance.now();
    try {
      await tx.query('BEGIN');
      const settled: Settled[] = [];
      for (const item of batch) {
        try {
          settled.push({ ok: true, value: await item.work(tx) });
        } catch (error) {
          if (!this.isRefusal(error)) throw error;
          settled.push({ ok: false, error });
        }
      }
      await tx.query('COMMIT');
      this.onCommit?.((performance.now() - started) / 1_000);
      tx.release();
      return settled;
    } catch (error) {
      // A connection that cannot even roll back is closed rather than handed to the next caller.
      await tx.query('ROLLBACK').then(
        () => tx.release(),
        (broken: unknown) => tx.release(broken instanceof Error ? broken : true),
      );
      throw error;
    }
  }
}
