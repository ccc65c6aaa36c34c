/**
 * Engines of several nodes on one PostgreSQL: what one node does reaches the others through the
 * store's events (a cancel stops the work where it runs, a finish wakes waiters and live views),
 * and an operation whose holder went away is taken over.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { Engine, type OperationChange } from '../../src/engine/engine.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { freshDatabaseUrl } from '../support/postgres.js';
import { GatedHandler, startRequest, untilDone, within } from './helpers.js';

const log = pino({ level: 'silent' });
const opened: { engine: Engine; store: PostgresStore; handler: GatedHandler }[] = [];
after(async () => {
  for (const { engine, store, handler } of opened) {
    handler.abandon();
    await engine.stop();
    await store.close();
  }
});

async function node(url: string, leaseMs = 10_000, afterRestart: 'resume' | 'fail' = 'resume'): Promise<{ engine: Engine; store: PostgresStore; handler: GatedHandler }> {
  const store = await PostgresStore.open(url);
  const engine = new Engine(store, log, { leaseMs });
  const handler = new GatedHandler('test.gated', { afterRestart });
  engine.register(handler);
  await engine.recover();
  const made = { engine, store, handler };
  opened.push(made);
  return made;
}

/** Resolves with the first change `engine` reports for `name` that `matches`. */
function nextChange(engine: Engine, matches: (c: OperationChange) => boolean): Promise<OperationChange> {
  return new Promise((resolve) => {
    const stop = engine.watch((change) => {
      if (!matches(change)) return;
      stop();
      resolve(change);
    });
  });
}

describe('engines of several nodes on one PostgreSQL', () => {
  it('a cancel through node B stops the work on node A at once; a waiter and a watcher on node C see the outcome', async () => {
    const url = await freshDatabaseUrl();
    // A lease of a minute: its heartbeat (every 20 s) cannot be what tells A of the cancel within the 10 s below.
    const [a, b, c] = [await node(url, 60_000), await node(url, 60_000), await node(url, 60_000)];
    const created = nextChange(c.engine, (ch) => ch.kind === 'created');
    const record = await a.engine.start(startRequest('test.gated', 'across'));
    assert.deepEqual(await within(created, 5_000, 'the creation reaches C'), { name: record.name, kind: 'created' });

    const waited = untilDone(c.engine, record.name);
    const updated = nextChange(c.engine, (ch) => ch.name === record.name && ch.kind === 'updated');
    assert.equal(await b.engine.cancel(record.name), 'requested');
    const run = a.handler.runOf(record.name);
    // The notification may reach A before B's own commit answer reaches B: the abort may have happened already.
    const aborted = run.signal.aborted ? Promise.resolve() : new Promise((resolve) => run.signal.addEventListener('abort', resolve, { once: true }));
    await within(aborted, 10_000, 'the work on A is asked to stop, by notification');
    const done = await within(waited, 5_000, 'the waiter on C');
    assert.equal(done.error?.code, 1);
    assert.equal(done.requestedCancellation, true);
    await within(updated, 5_000, 'the change reaches the watcher on C');
  });

  it('a cancel on the node that runs the work commits the outcome of a handler that stops at once with the flag: done CANCELLED when cancel resolves', async () => {
    const url = await freshDatabaseUrl();
    const [a, b] = [await node(url, 60_000), await node(url, 60_000)];
    const record = await a.engine.start(startRequest('test.gated', 'one-commit'));
    const waited = untilDone(b.engine, record.name);
    assert.equal(await a.engine.cancel(record.name), 'requested');
    // Read from the database, not the engine's cache: both writes were in the statement cancel waited for.
    const stored = await b.store.getOperation(record.name);
    assert.deepEqual([stored?.done, stored?.error?.code, stored?.requestedCancellation], [true, 1, true]);
    assert.equal((await waited).error?.code, 1, "the waiter on B hears of it");
  });

  it('an operation whose holder stopped without finishing it is taken over and resumed by another node once the lease ends', async () => {
    const url = await freshDatabaseUrl();
    const a = await node(url, 300);
    const record = await a.engine.start(startRequest('test.gated', 'orphan'));
    a.handler.runOf(record.name);
    // Node A goes away without an outcome: its work stops, its lease is no longer renewed.
    await a.engine.stop();
    const b = await node(url, 300);
    const resumed = await within(
      (async () => {
        for (;;) {
          const run = b.handler.runs.find((r) => r.context.name === record.name);
          if (run) return run;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })(),
      3_000,
      'node B claims the operation once its lease ends',
    );
    assert.equal(resumed.context.resumed, true);
    resumed.release();
    const done = await untilDone(b.engine, record.name);
    assert.equal(done.error, undefined);
  });
});
