import type { CancelSamples } from './cancel.js';
import type { ClusterFigures } from './cluster.js';
import type { LoadResult } from './get-operation.js';
import type { LifecycleResult } from './lifecycle.js';
import type { DepthRow } from './list-depth.js';
import type { PeerFigures } from './peers.js';
import { fmt, median, percentile, round, table } from './stats.js';

/** CPU cost of one unit (request or lifecycle), measured around a round: server child from /proc, load generator from process.cpuUsage(). */
export interface Metered {
  serverCpuUs: number;
  clientCpuUs: number;
}

const med = (values: number[], digits = 1): number => round(median(values), digits);

export function summarizeLoad(rounds: (LoadResult & Metered)[]) {
  return {
    rps: med(rounds.map((r) => r.rps), 0),
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    serverCpuUsPerRequest: med(rounds.map((r) => r.serverCpuUs)),
    clientCpuUsPerRequest: med(rounds.map((r) => r.clientCpuUs)),
    roundsRps: rounds.map((r) => round(r.rps, 0)),
    roundsP99Ms: rounds.map((r) => r.p99Ms),
    failures: rounds.reduce((n, r) => n + r.non2xx + r.errors, 0),
  };
}

export function summarizeLife(rounds: (LifecycleResult & Metered)[]) {
  return {
    opsPerSec: med(rounds.map((r) => r.opsPerSec), 0),
    serverCpuUsPerLifecycle: med(rounds.map((r) => r.serverCpuUs)),
    clientCpuUsPerLifecycle: med(rounds.map((r) => r.clientCpuUs)),
    roundsOpsPerSec: rounds.map((r) => round(r.opsPerSec, 0)),
    getsPerLifecycle: round(median(rounds.map((r) => r.getsPerLifecycle)), 3),
    errors: rounds.reduce((n, r) => n + r.errors, 0),
    firstError: rounds.find((r) => r.firstError)?.firstError,
  };
}

export function summarizeLatency(rounds: number[][]) {
  const p50 = rounds.map((s) => round(percentile(s, 50), 3));
  const p99 = rounds.map((s) => round(percentile(s, 99), 3));
  return { p50Ms: median(p50), p99Ms: median(p99), roundsP50Ms: p50, roundsP99Ms: p99, samples: rounds.reduce((n, s) => n + s.length, 0) };
}

export interface Figures {
  config: Record<string, unknown> & { getConnections: number; lifeConcurrency: number; bodyBytes: number; loadGenerator: string };
  /** Benchmark 1: GetOperation of a done operation (`emulator`) and of a running one (`running`, another child), against the bare server. */
  getOperation: { emulator: ReturnType<typeof summarizeLoad>; running: ReturnType<typeof summarizeLoad>; baseline: ReturnType<typeof summarizeLoad> };
  lifecycle: { emulator: ReturnType<typeof summarizeLife>; baseline: ReturnType<typeof summarizeLife> };
  cancel: { cancelToDone: ReturnType<typeof summarizeLatency>; cancelReply: ReturnType<typeof summarizeLatency>; getRoundTrip: ReturnType<typeof summarizeLatency> };
  /** Benchmark 4: GetOperation on an `--auth jwt` child (owner's bearer token) and on an `--auth none` child. */
  auth: { jwt: ReturnType<typeof summarizeLoad>; none: ReturnType<typeof summarizeLoad>; bodyBytes: { jwt: number; none: number }; tokenBytes: number };
  /** Benchmark 5: first-page List latency with `shallow` and with `deep` resources (and operations) in the location. */
  listDepth: { shallow: number; deep: number; seedSeconds: number; rows: DepthRow[] };
  /** Benchmark 6: lifecycles/s of the emulator (SQLite, PostgreSQL) against BullMQ and pg-boss; undefined with BENCH_PEERS=0. */
  peers?: PeerFigures;
  /** Benchmark 7: several nodes on one PostgreSQL (throughput by node count, cancel across nodes, re-claim); undefined with BENCH_CLUSTER=0. */
  cluster?: ClusterFigures;
}

/** The peer ratios (emulator / peer lifecycles/s) and their goals; a ratio is null when its peer was skipped. */
function peerRatios(p: PeerFigures | undefined) {
  const ratio = (ours: number, theirs: number | undefined): number | null => (theirs === undefined ? null : round(ours / theirs, 3));
  const sqliteVsBullmqInstant = p ? ratio(p.sqlite.instant.opsPerSec, p.bullmq?.instant.opsPerSec) : null;
  const sqliteVsBullmqWork = p ? ratio(p.sqlite.work.opsPerSec, p.bullmq?.work.opsPerSec) : null;
  const postgresVsPgBossWork = p ? ratio(p.postgres.work.opsPerSec, p.pgBoss.work.opsPerSec) : null;
  const goal = (value: number | null, min: number) => ({ goal: `>= ${min}`, value, met: value === null ? null : value >= min });
  return {
    ratios: { sqliteVsBullmqInstant, sqliteVsBullmqWork, postgresVsPgBossWork },
    goals: {
      sqliteVsBullmqInstant: goal(sqliteVsBullmqInstant, 1),
      sqliteVsBullmqWork: goal(sqliteVsBullmqWork, 1),
      postgresVsPgBossWork: goal(postgresVsPgBossWork, 3),
    },
  };
}

/** Table 6 and its notes. */
function printPeers(p: PeerFigures | undefined, K: number): void {
  if (!p) {
    console.log('6 peers: skipped (BENCH_PEERS=0)');
    return;
  }
  const { ratios, goals } = peerRatios(p);
  const yes = (met: boolean | null): string => (met === null ? 'skipped' : met ? 'yes' : 'NO');
  const n = (v: number | undefined, digits = 0): string => (v === undefined ? 'skipped' : fmt(v, digits));
  const r = (v: number | null): string => (v === null ? '-' : v.toFixed(3));
  const x = (a: number, b: number | undefined): string => (b === undefined ? '-' : `${(a / b).toFixed(2)}x`);
  const work = `${p.config.workMs} ms`;
  console.log(
    table(
      [`6 lifecycles/s against peers (K=${K}, poll ${p.config.pollMs} ms)`, 'emulator', 'peer', 'ratio', 'goal', 'met'],
      [
        ['instant: SQLite emulator vs BullMQ', fmt(p.sqlite.instant.opsPerSec), n(p.bullmq?.instant.opsPerSec), r(ratios.sqliteVsBullmqInstant), 'ratio >= 1', yes(goals.sqliteVsBullmqInstant.met)],
        [`${work}: SQLite emulator vs BullMQ`, fmt(p.sqlite.work.opsPerSec), n(p.bullmq?.work.opsPerSec), r(ratios.sqliteVsBullmqWork), 'ratio >= 1', yes(goals.sqliteVsBullmqWork.met)],
        [`${work}: PostgreSQL emulator vs pg-boss`, fmt(p.postgres.work.opsPerSec), fmt(p.pgBoss.work.opsPerSec), r(ratios.postgresVsPgBossWork), 'ratio >= 3', yes(goals.postgresVsPgBossWork.met)],
        ['instant: PostgreSQL emulator', fmt(p.postgres.instant.opsPerSec), '', '', '', ''],
        ['server CPU µs / lifecycle, instant, SQLite vs BullMQ', fmt(p.sqlite.instant.serverCpuUsPerLifecycle, 1), n(p.bullmq?.instant.serverCpuUsPerLifecycle, 1), x(p.sqlite.instant.serverCpuUsPerLifecycle, p.bullmq?.instant.serverCpuUsPerLifecycle), '', ''],
        [`server CPU µs / lifecycle, ${work}, SQLite vs BullMQ`, fmt(p.sqlite.work.serverCpuUsPerLifecycle, 1), n(p.bullmq?.work.serverCpuUsPerLifecycle, 1), x(p.sqlite.work.serverCpuUsPerLifecycle, p.bullmq?.work.serverCpuUsPerLifecycle), '', ''],
        [`server CPU µs / lifecycle, ${work}, PostgreSQL vs pg-boss`, fmt(p.postgres.work.serverCpuUsPerLifecycle, 1), fmt(p.pgBoss.work.serverCpuUsPerLifecycle, 1), x(p.postgres.work.serverCpuUsPerLifecycle, p.pgBoss.work.serverCpuUsPerLifecycle), '', ''],
        ['server CPU µs / lifecycle, instant, PostgreSQL emulator', fmt(p.postgres.instant.serverCpuUsPerLifecycle, 1), '', '', '', ''],
      ],
    ),
  );
  const rounds = (life: { roundsOpsPerSec: number[] } | undefined): string => (life ? life.roundsOpsPerSec.join(', ') : 'skipped');
  console.log(
    [
      `  6 = the loop of 2 (K workers: create, then poll every ${p.config.pollMs} ms until done) against each system: the emulator over REST`,
      `      (--operation-delay 0s / ${p.config.workMs}ms; SQLite in --data-dir, or --database-url on a database of its own);`,
      `      BullMQ: Queue.add, then Queue.getJobState until 'completed'; a Worker (concurrency ${p.config.bullmqConcurrency}) in a child process;`,
      `      pg-boss: send, then getJobById until 'completed'; a child process running pg-boss's fetch/complete in ${p.config.pgBossLoops} loops of up to`,
      `      ${p.config.pgBossBatch} jobs (its work() waits >= 500 ms between fetches); client pool ${p.config.pgBossClientPool} connections. Jobs work 0 or ${p.config.workMs} ms (a timer).`,
      `      server CPU: the emulator child, or the peer's worker child plus redis-server; on PostgreSQL plus the postmaster and its backends.`,
      `      ${p.config.postgres}; ${p.config.redis}.`,
      p.bullmqSkipped ? `      BullMQ skipped: ${p.bullmqSkipped}.` : '',
      `      rounds: SQLite instant ${rounds(p.sqlite.instant)}, BullMQ instant ${rounds(p.bullmq?.instant)};`,
      `      SQLite ${work} ${rounds(p.sqlite.work)}, BullMQ ${work} ${rounds(p.bullmq?.work)};`,
      `      PostgreSQL ${work} ${rounds(p.postgres.work)}, pg-boss ${work} ${rounds(p.pgBoss.work)}; PostgreSQL instant ${rounds(p.postgres.instant)}.`,
      `      polls per lifecycle: SQLite ${p.sqlite.instant.getsPerLifecycle}/${p.sqlite.work.getsPerLifecycle}, PostgreSQL ${p.postgres.instant.getsPerLifecycle}/${p.postgres.work.getsPerLifecycle},` +
        ` BullMQ ${p.bullmq?.instant.getsPerLifecycle ?? '-'}/${p.bullmq?.work.getsPerLifecycle ?? '-'}, pg-boss -/${p.pgBoss.work.getsPerLifecycle} (instant/${work}).`,
    ]
      .filter((line) => line !== '')
      .join('\n'),
  );
}

/** Benchmark 7's ratios and goals; null when it was skipped. */
function clusterRatios(c: ClusterFigures | undefined) {
  const ops = (n: number): number | undefined => c?.scaling.find((s) => s.nodes === n)?.life.opsPerSec;
  const [one, three] = [ops(1), ops(3)];
  const clusterThreeVsOne = one !== undefined && three !== undefined ? round(three / one, 3) : null;
  const across = c ? c.cancel.acrossNodes.cancelToDone.p99Ms : null;
  const single = c ? c.cancel.oneNode.cancelToDone.p99Ms : null;
  const reclaim = c ? c.reclaim.maxMs : null;
  const reclaimLimit = c ? c.reclaim.leaseMs + 1000 : NaN;
  return {
    ratios: {
      clusterThreeVsOne,
      clusterCancelAcrossVsOneP99: across !== null && single !== null ? round(across / single, 2) : null,
      clusterCancelOneNodeVsBareCommitP99: c ? round(c.cancel.oneNode.cancelToDone.p99Ms / c.cancel.bareCommit.p99Ms, 2) : null,
      clusterReclaimVsLease: c ? round(c.reclaim.maxMs / c.reclaim.leaseMs, 2) : null,
    },
    goals: {
      clusterThreeVsOne: { goal: '>= 1', value: clusterThreeVsOne, met: clusterThreeVsOne === null ? null : clusterThreeVsOne >= 1 },
      clusterCancelAcrossP99Ms: { goal: '<= 50', value: across, met: across === null ? null : across <= 50 },
      clusterCancelOneNodeP99Ms: { goal: '<= 5', value: single, met: single === null ? null : single <= 5 },
      clusterReclaimMs: { goal: `<= lease + 1000 (${reclaimLimit})`, value: reclaim, met: reclaim === null ? null : reclaim <= reclaimLimit },
    },
  };
}

/** Table 7 and its notes. */
function printCluster(c: ClusterFigures | undefined): void {
  if (!c) {
    console.log('7 cluster: skipped (BENCH_CLUSTER=0)');
    return;
  }
  const { ratios, goals } = clusterRatios(c);
  const yes = (met: boolean | null): string => (met === null ? '-' : met ? 'yes' : 'NO');
  const across = c.cancel.acrossNodes.cancelToDone;
  const single = c.cancel.oneNode.cancelToDone;
  const cfg = c.config;
  console.log(
    table(
      [`7 several nodes on one PostgreSQL (K=${cfg.concurrency}, poll ${cfg.pollMs} ms)`, 'value', 'goal', 'met'],
      [
        ...c.scaling.map((s) => [`lifecycles/s, ${s.nodes} node${s.nodes === 1 ? '' : 's'} (${cfg.workMs} ms work)`, fmt(s.life.opsPerSec), '', '']),
        ['lifecycles/s, 3 nodes / 1 node', ratios.clusterThreeVsOne === null ? '-' : ratios.clusterThreeVsOne.toFixed(3), '>= 1', yes(goals.clusterThreeVsOne.met)],
        ...c.scaling.map((s) => [`server CPU µs / lifecycle, ${s.nodes} node${s.nodes === 1 ? '' : 's'} (+ PostgreSQL)`, fmt(s.life.serverCpuUsPerLifecycle, 1), '', '']),
        ['cancel→waiter p50 ms, across nodes (create A, wait C, cancel B)', fmt(across.p50Ms, 2), '', ''],
        ['cancel→waiter p99 ms, across nodes', fmt(across.p99Ms, 2), '<= 50 ms', yes(goals.clusterCancelAcrossP99Ms.met)],
        ['cancel→waiter p50 ms, one node (PostgreSQL)', fmt(single.p50Ms, 2), '', ''],
        ['cancel→waiter p99 ms, one node (PostgreSQL)', fmt(single.p99Ms, 2), '<= 5 ms', yes(goals.clusterCancelOneNodeP99Ms.met)],
        ['baseline: a bare UPDATE committed on that PostgreSQL, p50 ms', fmt(c.cancel.bareCommit.p50Ms, 2), '', ''],
        ['baseline: the same, p99 ms', fmt(c.cancel.bareCommit.p99Ms, 2), '', ''],
        ['one-node cancel p99 / bare commit p99', ratios.clusterCancelOneNodeVsBareCommitP99 === null ? '-' : `${ratios.clusterCancelOneNodeVsBareCommitP99.toFixed(2)}x`, '', ''],
        [`re-claim after SIGKILL, ms (worst of ${c.reclaim.roundsMs.length} rounds)`, fmt(c.reclaim.maxMs), `<= ${fmt(c.reclaim.leaseMs + 1000)} ms`, yes(goals.clusterReclaimMs.met)],
        ['re-claim / lease', ratios.clusterReclaimVsLease === null ? '-' : `${ratios.clusterReclaimVsLease.toFixed(2)}x`, '', ''],
      ],
    ),
  );
  console.log(
    [
      `  7 = nodes are emulator children (serve --database-url, a database of each series' own) on the PostgreSQL of 6.`,
      `      throughput: the loop of 2 with --operation-delay ${cfg.workMs}ms, worker w creating and polling on node w mod n;`,
      `        after ${fmt(cfg.warmupPerNodeMs / 1000, 0)} s of warm-up per node of the series, rounds interleaved:`,
      ...c.scaling.map((s) => `        ${s.nodes} node(s) ${s.life.roundsOpsPerSec.join(', ')}/s (polls per lifecycle ${s.life.getsPerLifecycle}, errors ${s.life.errors})`),
      `      cancel: --operation-delay 30s; waiter parked ${cfg.cancelParkMs} ms before the cancel; ${across.samples} + ${single.samples} samples;`,
      `        p99 by round: across ${across.roundsP99Ms.join(', ')} ms, one node ${single.roundsP99Ms.join(', ')} ms;`,
      `        the :cancel reply itself p99: across ${c.cancel.acrossNodes.cancelReply.p99Ms} ms, one node ${c.cancel.oneNode.cancelReply.p99Ms} ms;`,
      `        baseline: the bench's own UPDATE of one row, committed alone (fsync on), after the same pause, on a database of its own;`,
      `          p99 by round ${c.cancel.bareCommit.roundsP99Ms.join(', ')} ms (${c.cancel.bareCommit.samples} samples): the floor under the one-node figure, which adds an HTTP round trip and the gRPC answer;`,
      `        a GetOperation through A right after C's waiter returned still said not done ${c.cancel.acrossNodes.notDoneAfterWait} time(s) of ${across.samples}.`,
      `      re-claim: --lease ${cfg.leaseMs}ms; ${cfg.reclaimOperations} operations (--operation-delay 60s) on the killed node, 0s on the two others,`,
      `        read through them every ${cfg.reclaimPollMs} ms; rounds ${c.reclaim.roundsMs.join(', ')} ms (median ${c.reclaim.medianMs}); ${c.reclaim.failed} ended with an error.`,
    ].join('\n'),
  );
}

/** Lifecycle errors of benchmark 6, and the first message. */
function peerErrors(p: PeerFigures | undefined): { errors: number; firstError?: string } {
  const lives = p ? [p.sqlite.instant, p.sqlite.work, p.postgres.instant, p.postgres.work, p.pgBoss.work, ...(p.bullmq ? [p.bullmq.instant, p.bullmq.work] : [])] : [];
  return { errors: lives.reduce((n, l) => n + l.errors, 0), firstError: lives.find((l) => l.firstError)?.firstError };
}

export function summarizeCancel(rounds: CancelSamples[]): Figures['cancel'] {
  return {
    cancelToDone: summarizeLatency(rounds.map((r) => r.cancelToDone)),
    cancelReply: summarizeLatency(rounds.map((r) => r.cancelReply)),
    getRoundTrip: summarizeLatency(rounds.map((r) => r.getRoundTrip)),
  };
}

/** Prints the table and the notes, then the BENCH_JSON line. */
export function report(f: Figures): void {
  const { getOperation: get, lifecycle: life, cancel, auth, listDepth: depth } = f;
  const ratios = {
    getRps: round(get.emulator.rps / get.baseline.rps, 3),
    getP99: round(get.emulator.p99Ms / get.baseline.p99Ms, 2),
    getRunningRps: round(get.running.rps / get.baseline.rps, 3),
    getRunningServerCpu: round(get.running.serverCpuUsPerRequest / get.baseline.serverCpuUsPerRequest, 2),
    getServerCpu: round(get.emulator.serverCpuUsPerRequest / get.baseline.serverCpuUsPerRequest, 2),
    lifecycle: round(life.emulator.opsPerSec / life.baseline.opsPerSec, 3),
    lifecycleServerCpu: round(life.emulator.serverCpuUsPerLifecycle / life.baseline.serverCpuUsPerLifecycle, 2),
    cancelP50VsGet: round(cancel.cancelToDone.p50Ms / cancel.getRoundTrip.p50Ms, 2),
    cancelP99VsGet: round(cancel.cancelToDone.p99Ms / cancel.getRoundTrip.p99Ms, 2),
    authGetRps: round(auth.jwt.rps / auth.none.rps, 3),
    authGetP99: round(auth.jwt.p99Ms / auth.none.p99Ms, 2),
    authServerCpu: round(auth.jwt.serverCpuUsPerRequest / auth.none.serverCpuUsPerRequest, 2),
    ...peerRatios(f.peers).ratios,
    ...clusterRatios(f.cluster).ratios,
  };
  const goals = {
    getRpsRatio: { goal: '>= 0.7', value: ratios.getRps, met: ratios.getRps >= 0.7 },
    // #8 raises the one-node goals of #7 that were met: GetOperation >= 0.9 of bare node:http, cancel p99 <= 5 ms.
    getRpsRatioRaised: { goal: '>= 0.9', value: ratios.getRps, met: ratios.getRps >= 0.9 },
    lifecycleOpsPerSec: { goal: '>= 5000', value: life.emulator.opsPerSec, met: life.emulator.opsPerSec >= 5000 },
    cancelP99Ms: { goal: '<= 10', value: cancel.cancelToDone.p99Ms, met: cancel.cancelToDone.p99Ms <= 10 },
    cancelP99MsRaised: { goal: '<= 5', value: cancel.cancelToDone.p99Ms, met: cancel.cancelToDone.p99Ms <= 5 },
    authGetRpsRatio: { goal: '>= 0.85', value: ratios.authGetRps, met: ratios.authGetRps >= 0.85 },
    listDepthRatio: { goal: '<= 2', value: Math.max(...depth.rows.map((r) => r.ratio)), met: depth.rows.every((r) => r.ratio <= 2) },
    ...peerRatios(f.peers).goals,
    ...clusterRatios(f.cluster).goals,
  };
  const yes = (met: boolean): string => (met ? 'yes' : 'NO');
  const x = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}x` : '-');
  const K = f.config.lifeConcurrency;
  console.log(`\ndevconnect-emulator bench (medians of rounds; ${String(f.config.cpus)} CPUs, node ${String(f.config.node)})`);
  console.log(
    table(
      ['figure', 'emulator', 'baseline', 'ratio', 'goal', 'met'],
      [
        [`1 GetOperation REST req/s (${f.config.getConnections} conns)`, fmt(get.emulator.rps), fmt(get.baseline.rps), ratios.getRps.toFixed(3), 'ratio >= 0.7', yes(goals.getRpsRatio.met)],
        ['1 the same, against #8\'s raised goal', '', '', ratios.getRps.toFixed(3), 'ratio >= 0.9', yes(goals.getRpsRatioRaised.met)],
        ['1 GetOperation REST p99 ms', fmt(get.emulator.p99Ms, 1), fmt(get.baseline.p99Ms, 1), x(ratios.getP99), '', ''],
        ['1 server CPU µs / request', fmt(get.emulator.serverCpuUsPerRequest, 1), fmt(get.baseline.serverCpuUsPerRequest, 1), x(ratios.getServerCpu), '', ''],
        ['1b GetOperation of a running operation req/s', fmt(get.running.rps), fmt(get.baseline.rps), ratios.getRunningRps.toFixed(3), '', ''],
        ['1b server CPU µs / request', fmt(get.running.serverCpuUsPerRequest, 1), fmt(get.baseline.serverCpuUsPerRequest, 1), x(ratios.getRunningServerCpu), '', ''],
        [`2 create→done lifecycles/s (K=${K})`, fmt(life.emulator.opsPerSec), fmt(life.baseline.opsPerSec), ratios.lifecycle.toFixed(3), '>= 5,000', yes(goals.lifecycleOpsPerSec.met)],
        ['2 server CPU µs / lifecycle', fmt(life.emulator.serverCpuUsPerLifecycle, 1), fmt(life.baseline.serverCpuUsPerLifecycle, 1), x(ratios.lifecycleServerCpu), '', ''],
        ['2 load-gen CPU µs / lifecycle', fmt(life.emulator.clientCpuUsPerLifecycle, 1), fmt(life.baseline.clientCpuUsPerLifecycle, 1), '', '', ''],
        ['3 cancel→waiter done p50 ms', fmt(cancel.cancelToDone.p50Ms, 2), fmt(cancel.getRoundTrip.p50Ms, 2), x(ratios.cancelP50VsGet), '', ''],
        ['3 cancel→waiter done p99 ms', fmt(cancel.cancelToDone.p99Ms, 2), fmt(cancel.getRoundTrip.p99Ms, 2), x(ratios.cancelP99VsGet), '<= 10 ms', yes(goals.cancelP99Ms.met)],
        ['3 the same, against #8\'s raised goal', fmt(cancel.cancelToDone.p99Ms, 2), '', '', '<= 5 ms', yes(goals.cancelP99MsRaised.met)],
        ['4 GetOperation req/s, auth jwt vs none', fmt(auth.jwt.rps), fmt(auth.none.rps), ratios.authGetRps.toFixed(3), 'ratio >= 0.85', yes(goals.authGetRpsRatio.met)],
        ['4 GetOperation p99 ms, jwt vs none', fmt(auth.jwt.p99Ms, 1), fmt(auth.none.p99Ms, 1), x(ratios.authGetP99), '', ''],
        ['4 server CPU µs / request, jwt vs none', fmt(auth.jwt.serverCpuUsPerRequest, 1), fmt(auth.none.serverCpuUsPerRequest, 1), x(ratios.authServerCpu), '', ''],
      ],
    ),
  );
  console.log(
    table(
      ['5 List first page, p50 ms', `at ${fmt(depth.deep)}`, `at ${fmt(depth.shallow)}`, 'ratio', 'goal', 'met'],
      depth.rows.map((r) => [r.label, fmt(r.deepMs, 2), fmt(r.shallowMs, 2), x(r.ratio), '<= 2x', yes(r.ratio <= 2)]),
    ),
  );
  console.log(
    [
      `baselines: 1 = bare node:http child answering a fixed ${f.config.bodyBytes}-byte JSON body (autocannon, keep-alive; percentiles in whole ms);`,
      `  2 = the same loop against that server, whose POST reply says done (a ceiling of this machine's HTTP round trips with this load generator);`,
      `      with --operation-delay 0s the emulator commits a create done in the transaction that creates it, so its reply is done too (GETs per lifecycle below);`,
      `  3 = one plain REST GetOperation round trip on the same emulator, measured the same way in the same run;`,
      `  4 = emulator column: a fresh --auth jwt child, every request with the owner's Bearer token (${auth.tokenBytes} bytes; verified once, then cached)`,
      `      and its IAM check; baseline column: a fresh --auth none child, no header; settings of 1, order alternating by round.`,
      `load generator for 2-3: ${f.config.loadGenerator}.`,
      `  1b = a running operation's GetOperation (what LRO clients poll), on a child whose work outlasts the bench, against the same baseline;`,
      `rounds: GetOperation emulator ${get.emulator.roundsRps.join(', ')} req/s, running ${get.running.roundsRps.join(', ')}, baseline ${get.baseline.roundsRps.join(', ')};`,
      `  lifecycles emulator ${life.emulator.roundsOpsPerSec.join(', ')}/s, baseline ${life.baseline.roundsOpsPerSec.join(', ')}/s; GETs per lifecycle ${life.emulator.getsPerLifecycle};`,
      `  cancel→done p99 ${cancel.cancelToDone.roundsP99Ms.join(', ')} ms (${cancel.cancelToDone.samples} samples); :cancel reply itself p50 ${cancel.cancelReply.p50Ms} ms, p99 ${cancel.cancelReply.p99Ms} ms;`,
      `  auth jwt ${auth.jwt.roundsRps.join(', ')} req/s, none ${auth.none.roundsRps.join(', ')} (bodies ${auth.bodyBytes.jwt}/${auth.bodyBytes.none} bytes).`,
      `  5 = the same Lists on a child with ${fmt(depth.shallow)} connections (and their create operations) in the location, one call at a time, default page size;`,
      `      both children seeded through the store before they start (${depth.seedSeconds} s), rounds alternating.`,
    ].join('\n'),
  );
  printPeers(f.peers, K);
  printCluster(f.cluster);
  const peers = peerErrors(f.peers);
  const clusterLives = f.cluster?.scaling.map((s) => s.life) ?? [];
  const cluster = { errors: clusterLives.reduce((n, l) => n + l.errors, 0), firstError: clusterLives.find((l) => l.firstError)?.firstError };
  const failures =
    get.emulator.failures + get.running.failures + get.baseline.failures + life.emulator.errors + life.baseline.errors + auth.jwt.failures + auth.none.failures + peers.errors + cluster.errors;
  if (failures > 0) {
    console.log(`WARNING: ${failures} failed requests; first lifecycle error: ${life.emulator.firstError ?? life.baseline.firstError ?? peers.firstError ?? cluster.firstError ?? '-'}`);
  }
  console.log(`BENCH_JSON ${JSON.stringify({ ...f, ratios, goals })}`);
}
