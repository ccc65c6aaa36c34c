import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import type { CommitHook } from './commit-hook.js';
import { settle, writeAll, type Write, type WriteResult } from './postgres-write.js';

/** A write: statements run on the group's connection, inside its transaction. */
export type Work<T> = (tx: pg.PoolClient) => Promise<T>;

interface PendingWrite {
  /** Statements of its own, or a write of postgres-write.ts, which runs with the others next to it in one call. */
  job: { work: Work<unknown> } | { write: Write };
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
    return this.enqueue({ work }) as Promise<T>;
  }

  /** A write the database runs by itself (devconnect_write): the writes of a group next to each other cost one round trip together. */
  write(write: Write): Promise<WriteResult> {
    return this.enqueue({ write }) as Promise<WriteResult>;
  }

  private enqueue(job: PendingWrite['job']): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      this.pending.push({ job, resolve, reject });
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
    // A group of writes that are all the database's own is one statement: its own transaction, one round trip.
    const oneStatement = batch.every((item) => 'write' in item.job);
    try {
      if (!oneStatement) await tx.query('BEGIN');
      const settled: Settled[] = [];
      for (let i = 0; i < batch.length; ) {
        const job = batch[i]!.job;
        if ('work' in job) {
          settled.push(await this.refusable(() => job.work(tx)));
          i++;
          continue;
        }
        const run: Write[] = [];
        for (let j = i; j < batch.length; j++) {
          const next = batch[j]!.job;
          if (!('write' in next)) break;
          run.push(next.write);
        }
        const answers = await writeAll(tx, run);
        for (const [k, write] of run.entries()) settled.push(await this.refusable(async () => settle(write, answers[k]!)));
        i += run.length;
      }
      if (!oneStatement) await tx.query('COMMIT');
      this.onCommit?.((performance.now() - started) / 1_000);
      tx.release();
      return settled;
    } catch (error) {
      // A connection that cannot even roll back is closed rather than handed to the next caller;
      // a failed statement of its own (no transaction to roll back) is rare enough to close it too.
      if (oneStatement) {
        tx.release(error instanceof Error ? error : true);
        throw error;
      }
      await tx.query('ROLLBACK').then(
        () => tx.release(),
        (broken: unknown) => tx.release(broken instanceof Error ? broken : true),
      );
      throw error;
    }
  }

  /** Runs a write; a refusal is its own answer (settled, not thrown), anything else fails the group. */
  private async refusable(write: () => Promise<unknown>): Promise<Settled> {
    try {
      return { ok: true, value: await write() };
    } catch (error) {
      if (!this.isRefusal(error)) throw error;
      return { ok: false, error };
    }
  }
}
