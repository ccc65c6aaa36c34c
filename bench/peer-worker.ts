/**
 * The worker side of a peer job queue, in its own process (as the emulator is), so that its CPU and
 * the load generator's do not mix. Started by bench/peers.ts:
 *
 *   node --import tsx bench/peer-worker.ts bullmq <redis-port> <queue> <work-ms> <concurrency>
 *   node --import tsx bench/peer-worker.ts pg-boss <database-url> <queue> <work-ms> <loops> <batch-size>
 *
 * Each job "works" for <work-ms> (a timer, like the emulator's --operation-delay; 0: returns at once).
 * It prints `peer worker ready` once it can take jobs. On stdin it takes `run` and `pause` (one per
 * line) and answers `running` / `paused` on stdout once done; SIGTERM closes it.
 */
import { createInterface } from 'node:readline';
import { Worker } from 'bullmq';
import PgBoss from 'pg-boss';
import { sleep } from './stats.js';

interface Consumer {
  run(): void;
  pause(): Promise<void>;
  close(): Promise<void>;
}

const work = (ms: number): Promise<void> => (ms > 0 ? sleep(ms) : Promise.resolve());

/**
 * BullMQ's own Worker with `concurrency` slots, as BullMQ documents it. It runs from the start:
 * an idle Worker waits in a blocking BZPOPMIN on Redis and uses no CPU, so `run`/`pause` do nothing.
 */
async function bullmq(port: number, queue: string, workMs: number, concurrency: number): Promise<Consumer> {
  const worker = new Worker(queue, () => work(workMs), {
    connection: { host: '127.0.0.1', port, maxRetriesPerRequest: null },
    concurrency,
  });
  worker.on('error', (error) => process.stderr.write(`bullmq worker: ${error.message}\n`));
  await worker.waitUntilReady();
  return { run: () => {}, pause: async () => {}, close: () => worker.close() };
}

/**
 * pg-boss's fetch() and complete() (the queries its work() runs) in `loops` loops, each taking up to
 * `batchSize` jobs at a time, working them concurrently, completing them in one call, and asking
 * again at once; on an empty queue it asks again after 2 ms (the clients' poll interval).
 * pg-boss's own work() waits at least 500 ms (its minimum pollingIntervalSeconds) between fetches
 * that find jobs in less time, which would cap it far below what its queries can do. The loops
 * run only between `run` and `pause`, so that they do not poll PostgreSQL during the other benchmarks.
 */
async function pgBoss(url: string, queue: string, workMs: number, loops: number, batchSize: number): Promise<Consumer> {
  const boss = new PgBoss({ connectionString: url, schedule: false, supervise: false, max: loops + 2 });
  boss.on('error', (error) => process.stderr.write(`pg-boss worker: ${error.message}\n`));
  await boss.start();
  let running = false;
  let active: Promise<void>[] = [];
  const loop = async (): Promise<void> => {
    while (running) {
      try {
        const jobs = await boss.fetch(queue, { batchSize });
        if (jobs.length === 0) {
          await sleep(2);
          continue;
        }
        await Promise.all(jobs.map(() => work(workMs)));
        await boss.complete(
          queue,
          jobs.map((job) => job.id),
        );
      } catch (error) {
        process.stderr.write(`pg-boss worker: ${(error as Error).message}\n`);
        await sleep(100);
      }
    }
  };
  return {
    run: () => {
      if (running) return;
      running = true;
      active = Array.from({ length: loops }, () => loop());
    },
    pause: async () => {
      running = false;
      await Promise.all(active);
      active = [];
    },
    close: async () => {
      running = false;
      await Promise.all(active);
      await boss.stop({ graceful: false, wait: true });
    },
  };
}

async function main(): Promise<void> {
  const [kind, where, queue, workMs, ...rest] = process.argv.slice(2);
  if (!kind || !where || !queue || workMs === undefined) throw new Error('usage: peer-worker.ts bullmq|pg-boss <where> <queue> <work-ms> ...');
  const consumer =
    kind === 'bullmq'
      ? await bullmq(Number(where), queue, Number(workMs), Number(rest[0] ?? 64))
      : kind === 'pg-boss'
        ? await pgBoss(where, queue, Number(workMs), Number(rest[0] ?? 8), Number(rest[1] ?? 8))
        : undefined;
  if (!consumer) throw new Error(`unknown peer ${kind}`);
  let quitting = false;
  const quit = (): void => {
    if (quitting) return;
    quitting = true;
    void consumer.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', quit);
  const commands = createInterface({ input: process.stdin });
  commands.once('close', quit); // the bench is gone
  commands.on('line', (line) => {
    if (line === 'run') {
      consumer.run();
      process.stdout.write('running\n');
    } else if (line === 'pause') {
      void consumer.pause().then(() => process.stdout.write('paused\n'));
    }
  });
  process.stdout.write('peer worker ready\n');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
