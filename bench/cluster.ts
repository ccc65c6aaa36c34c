/**
 * 7. Cluster: emulator nodes, each a child process (`serve --database-url …`, its own data directory),
 * sharing one database on the embedded PostgreSQL of benchmark 6; every series has a database of its own.
 *
 *   a. Lifecycle throughput with 1, 2 and 3 nodes (`--operation-delay 5ms`): the loop of benchmarks 2
 *      and 6 (runLifecycles, K workers), worker w on node w mod n (it creates and polls there). Rounds
 *      interleaved, the order alternating from round to round; medians over rounds. Goal: on this
 *      machine, 3 nodes not below 1 node.
 *   b. Cancel across nodes: three nodes (`--operation-delay 30s`); create on A, park a gRPC
 *      WaitOperation on C, POST :cancel through B; ms from sending the cancel to C's waiter returning
 *      (runCancel, benchmark 3's loop). Against the same on one node playing the three roles (a
 *      database of its own), rounds interleaved. Goals: p99 ≤ 50 ms across nodes, ≤ 5 ms on one node.
 *   c. Re-claim after SIGKILL: three nodes with `--lease`; one runs M operations (`--operation-delay
 *      60s`), the two others have `--operation-delay 0s`. SIGKILL it, then read every operation through
 *      the others every few ms until all are done; ms from the kill to the last one seen done.
 *      A fresh doomed node each round, the same two survivors. Goal: ≤ lease + 1 s (the worst round).
 *
 * Phases one after another, each with only its own nodes running; every node is stopped by its PID
 * at the end of its phase, and also when the benchmark fails.
 */
import { performance } from 'node:perf_hooks';
import { runCancel, Waiter, type CancelSamples } from './cancel.js';
import { startEmulator, type Child } from './children.js';
import { callJson, HttpClient } from './http-client.js';
import { CREATE_BODY, PARENT, POLL_MS, restLifecycle, type Lifecycle } from './lifecycle.js';
import { measure, type Series } from './peers.js';
import { commitProbe, createDatabases, databaseUrl, type Postgres } from './postgres.js';
import { summarizeLatency, summarizeLife } from './report.js';
import { fmt, log, median, percentile, round, sleep } from './stats.js';

export interface ClusterConfig {
  /** K, the lifecycle workers (spread round-robin over the nodes). */
  concurrency: number;
  rounds: number;
  warmupMs: number;
  measureMs: number;
  /**
   * Load before the first round, per node of the series, ms: each node gets the same warm-up (its JIT
   * sees as many calls), however many share the load. With one fixed time, a node of three got a
   * third of a lone node's calls, and its series' rounds rose from round to round.
   */
  warmupPerNodeMs: number;
  /** The nodes' --operation-delay in the throughput series, ms. */
  workMs: number;
  nodeCounts: number[];
  cancelRounds: number;
  cancelCount: number;
  /** How long the waiter is left to park on its node before the cancel, ms. */
  cancelParkMs: number;
  /** --lease of the re-claim nodes, ms. */
  leaseMs: number;
  reclaimRounds: number;
  /** Operations running on the node that is killed. */
  reclaimOperations: number;
  /** How often the operations are read through the surviving nodes after the kill, ms. */
  reclaimPollMs: number;
  /** How long a node may take to start (several start at once; ~10 s each on this machine when busy), ms. */
  nodeStartMs: number;
}

type Life = ReturnType<typeof summarizeLife>;
type Latency = ReturnType<typeof summarizeLatency>;

export interface ClusterFigures {
  config: ClusterConfig & { pollMs: number };
  /** Lifecycles/s by node count, in the order of config.nodeCounts. */
  scaling: { nodes: number; life: Life }[];
  cancel: {
    /** notDoneAfterWait: GetOperations through A, right after C's waiter had the cancelled operation, that still said not done. */
    acrossNodes: { cancelToDone: Latency; cancelReply: Latency; notDoneAfterWait: number };
    oneNode: { cancelToDone: Latency; cancelReply: Latency };
    /** Baseline: one UPDATE committed on the same PostgreSQL by the bench, after the same pause (commitProbe). */
    bareCommit: Latency;
  };
  reclaim: {
    leaseMs: number;
    /** Kill → last operation seen done, ms, by round. */
    roundsMs: number[];
    medianMs: number;
    maxMs: number;
    /** Operations that ended with an error (the survivors' handlers resume them: none expected). */
    failed: number;
  };
}

/** Starts every node, registers each one that started with `started`, and fails if any did not. */
async function startNodes(flags: { delay: string; serve: string[] }[], started: (child: Child) => Child, timeoutMs: number): Promise<Child[]> {
  const settled = await Promise.allSettled(flags.map((f) => startEmulator(f.delay, [], f.serve, undefined, timeoutMs)));
  const nodes: Child[] = [];
  for (const s of settled) if (s.status === 'fulfilled') nodes.push(started(s.value));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return nodes;
}

/**
 * Runs benchmark 7 on `postgres` (started, and stopped, by the caller) and stops every node and
 * client it started, also when it fails.
 */
export async function runCluster(config: ClusterConfig, postgres: Postgres): Promise<ClusterFigures> {
  const cleanups: (() => Promise<unknown>)[] = [];
  /** Closes the clients and stops the nodes started so far (all at once: nothing here depends on another). */
  const cleanUp = async (): Promise<void> => {
    const results = await Promise.allSettled(cleanups.splice(0).map((cleanup) => cleanup()));
    for (const r of results) if (r.status === 'rejected') log(`cluster: clean-up: ${(r.reason as Error).message}`);
  };
  const started = (child: Child): Child => {
    cleanups.push(() => child.stop());
    return child;
  };
  const client = (url: string, maxSockets: number): HttpClient => {
    const c = new HttpClient(url, maxSockets);
    cleanups.push(async () => c.close());
    return c;
  };
  const waiterOn = (url: string): Waiter => {
    const w = new Waiter(url);
    cleanups.push(async () => w.close());
    return w;
  };
  const dbs = {
    scaling: (n: number) => `devconnect_cluster_n${n}`,
    cancelAcross: 'devconnect_cluster_cancel3',
    cancelOne: 'devconnect_cluster_cancel1',
    reclaim: 'devconnect_cluster_reclaim',
    commit: 'devconnect_cluster_commit',
  };
  await createDatabases(postgres.url, [...config.nodeCounts.map(dbs.scaling), dbs.cancelAcross, dbs.cancelOne, dbs.reclaim, dbs.commit]);
  const serve = (db: string, extra: string[] = []): string[] => ['--auth', 'none', '--database-url', databaseUrl(postgres.url, db), ...extra];

  const began = performance.now();
  const elapsed = (): string => `${fmt((performance.now() - began) / 1000, 1)} s`;
  try {
    // a. Throughput with 1, 2, 3 nodes.
    const work = `${config.workMs}ms`;
    // Every series' nodes start at once (each series on its own database).
    const all = await startNodes(
      config.nodeCounts.flatMap((n) => Array.from({ length: n }, () => ({ delay: work, serve: serve(dbs.scaling(n)) }))),
      started,
      config.nodeStartMs,
    );
    const series: (Series & { nodes: number })[] = [];
    for (const n of config.nodeCounts) {
      const nodes = all.splice(0, n);
      const lifecycles = nodes.map((node) => restLifecycle(client(node.url, config.concurrency), POLL_MS));
      const lifecycle: Lifecycle = (id, worker) => (lifecycles[worker % lifecycles.length] as Lifecycle)(id, worker);
      series.push({ key: `cluster-${n}`, nodes: n, lifecycle, serverPids: [...nodes.map((node) => node.pid), postgres.pid], rounds: [] });
      log(`cluster: ${n} node(s) on ${dbs.scaling(n)}, pids ${nodes.map((node) => node.pid).join(', ')} (${elapsed()})`);
    }
    const options = { concurrency: config.concurrency, warmupMs: config.warmupMs, measureMs: config.measureMs };
    for (const s of series) await measure(s, { ...options, measureMs: config.warmupPerNodeMs * s.nodes }, `${s.key}-warm`);
    for (let i = 0; i < config.rounds; i++) {
      for (const s of i % 2 === 0 ? series : [...series].reverse()) s.rounds.push(await measure(s, options, `${s.key}-r${i}`));
      const errors = (s: Series): string => (s.rounds[i]?.errors ? ` (${s.rounds[i]?.errors} errors: ${s.rounds[i]?.firstError ?? ''})` : '');
      log(`cluster round ${i + 1} (${elapsed()}): ${series.map((s) => `${s.nodes} node(s) ${fmt(s.rounds[i]?.opsPerSec ?? NaN)}/s${errors(s)}`).join(', ')}`);
    }
    const scaling = series.map((s) => ({ nodes: s.nodes, life: summarizeLife(s.rounds) }));
    await cleanUp();
    log(`cluster: throughput nodes stopped (${elapsed()})`);

    // b. Cancel across three nodes, and on one.
    const [a, b, c, single] = await startNodes(
      [
        ...Array.from({ length: 3 }, () => ({ delay: '30s', serve: serve(dbs.cancelAcross) })),
        { delay: '30s', serve: serve(dbs.cancelOne) },
      ],
      started,
      config.nodeStartMs,
    ) as [Child, Child, Child, Child];
    log(`cluster: cancel across nodes A ${a.pid}, B ${b.pid}, C ${c.pid}; on one node ${single.pid} (${elapsed()})`);
    const sides = {
      across: { client: client(a.url, 2), cancelVia: client(b.url, 2), waiter: waiterOn(c.url) },
      one: { client: client(single.url, 2), cancelVia: undefined, waiter: waiterOn(single.url) },
    };
    type Side = keyof typeof sides;
    const cancelRound = (side: Side, count: number, idPrefix: string): Promise<CancelSamples> =>
      runCancel(sides[side].client, sides[side].waiter, { count, parkMs: config.cancelParkMs, idPrefix, cancelVia: sides[side].cancelVia });
    const probe = await commitProbe(postgres.url, dbs.commit);
    cleanups.push(() => probe.close());
    for (const side of ['across', 'one'] as const) await cancelRound(side, 10, `cancel-${side}-warm`);
    await probe.run(10, config.cancelParkMs);
    const cancelRounds: Record<Side, CancelSamples[]> = { across: [], one: [] };
    const commitRounds: number[][] = [];
    for (let i = 0; i < config.cancelRounds; i++) {
      const order: Side[] = i % 2 === 0 ? ['across', 'one'] : ['one', 'across'];
      for (const side of order) cancelRounds[side].push(await cancelRound(side, config.cancelCount, `cancel-${side}-r${i}`));
      commitRounds.push(await probe.run(config.cancelCount, config.cancelParkMs));
      const p = (side: Side, q: number): string => fmt(percentile(cancelRounds[side][i]?.cancelToDone ?? [], q), 2);
      const c = (q: number): string => fmt(percentile(commitRounds[i] ?? [], q), 2);
      log(`cluster cancel round ${i + 1}: across nodes p50 ${p('across', 50)} ms, p99 ${p('across', 99)} ms; one node p50 ${p('one', 50)} ms, p99 ${p('one', 99)} ms; bare commit p50 ${c(50)} ms, p99 ${c(99)} ms`);
    }
    const cancelSummary = (rounds: CancelSamples[]) => ({
      cancelToDone: summarizeLatency(rounds.map((r) => r.cancelToDone)),
      cancelReply: summarizeLatency(rounds.map((r) => r.cancelReply)),
    });
    const notDoneAfterWait = cancelRounds.across.reduce((n, r) => n + r.notDoneAfterWait, 0);
    const cancel = { acrossNodes: { ...cancelSummary(cancelRounds.across), notDoneAfterWait }, oneNode: cancelSummary(cancelRounds.one), bareCommit: summarizeLatency(commitRounds) };
    await cleanUp();

    // c. Re-claim after SIGKILL.
    log(`cluster: re-claim (${elapsed()})`);
    const reclaim = await reclaimAfterKill(config, serve(dbs.reclaim, ['--lease', `${config.leaseMs}ms`]), started, client);
    log(`cluster: done (${elapsed()})`);
    return { config: { ...config, pollMs: POLL_MS }, scaling, cancel, reclaim };
  } finally {
    await cleanUp();
  }
}

/** Benchmark 7c: its nodes and clients are registered with `started` / `client`, and stopped by the caller. */
async function reclaimAfterKill(
  config: ClusterConfig,
  serve: string[],
  started: (child: Child) => Child,
  client: (url: string, maxSockets: number) => HttpClient,
): Promise<ClusterFigures['reclaim']> {
  const survivors = (await startNodes([{ delay: '0s', serve }, { delay: '0s', serve }], started, config.nodeStartMs)).map((node) => client(node.url, config.reclaimOperations));
  const roundsMs: number[] = [];
  let failed = 0;
  for (let i = 0; i < config.reclaimRounds; i++) {
    const [doomed] = (await startNodes([{ delay: '60s', serve }], started, config.nodeStartMs)) as [Child];
    const doomedClient = client(doomed.url, config.reclaimOperations);
    const ids = Array.from({ length: config.reclaimOperations }, (_, j) => `reclaim-r${i}-${j}`);
    const names = await Promise.all(
      ids.map(async (id) => {
        const op = await callJson(doomedClient, 'POST', `/v1/${PARENT}/connections?connectionId=${id}`, CREATE_BODY);
        if (op.done === true) throw new Error(`operation ${String(op.name)} is already done: is --operation-delay long enough?`);
        return String(op.name);
      }),
    );
    doomedClient.close();
    const via = (j: number): HttpClient => survivors[j % survivors.length] as HttpClient;
    for (const [j, name] of names.entries()) {
      if ((await callJson(via(j), 'GET', `/v1/${name}`)).done === true) throw new Error(`operation ${name} is done before the kill`);
    }

    process.kill(doomed.pid, 'SIGKILL');
    const killedAt = performance.now();
    let pending = names.map((name, j) => ({ name, j }));
    let lastDoneAt = killedAt;
    while (pending.length > 0) {
      if (performance.now() - killedAt > 60_000) throw new Error(`${pending.length} operations of the killed node not done 60 s after the kill`);
      await sleep(config.reclaimPollMs);
      const reads = await Promise.all(pending.map(async (p) => ({ p, op: await callJson(via(p.j), 'GET', `/v1/${p.name}`) })));
      const now = performance.now();
      for (const { op } of reads) {
        if (op.done !== true) continue;
        lastDoneAt = now;
        if (op.error !== undefined) failed++;
      }
      pending = reads.filter((r) => r.op.done !== true).map((r) => r.p);
    }
    await doomed.stop(); // reaps the killed process
    roundsMs.push(round(lastDoneAt - killedAt, 0));
    log(`cluster re-claim round ${i + 1}: ${config.reclaimOperations} operations of killed node ${doomed.pid} done ${fmt(lastDoneAt - killedAt)} ms after SIGKILL (lease ${fmt(config.leaseMs)} ms)`);
  }
  return { leaseMs: config.leaseMs, roundsMs, medianMs: median(roundsMs), maxMs: Math.max(...roundsMs), failed };
}
