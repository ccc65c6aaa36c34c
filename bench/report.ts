import type { CancelSamples } from './cancel.js';
import type { LoadResult } from './get-operation.js';
import type { LifecycleResult } from './lifecycle.js';
import type { DepthRow } from './list-depth.js';
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
  getOperation: { emulator: ReturnType<typeof summarizeLoad>; baseline: ReturnType<typeof summarizeLoad> };
  lifecycle: { emulator: ReturnType<typeof summarizeLife>; baseline: ReturnType<typeof summarizeLife> };
  cancel: { cancelToDone: ReturnType<typeof summarizeLatency>; cancelReply: ReturnType<typeof summarizeLatency>; getRoundTrip: ReturnType<typeof summarizeLatency> };
  /** Benchmark 4: GetOperation on an `--auth jwt` child (owner's bearer token) and on an `--auth none` child. */
  auth: { jwt: ReturnType<typeof summarizeLoad>; none: ReturnType<typeof summarizeLoad>; bodyBytes: { jwt: number; none: number }; tokenBytes: number };
  /** Benchmark 5: first-page List latency with `shallow` and with `deep` resources (and operations) in the location. */
  listDepth: { shallow: number; deep: number; seedSeconds: number; rows: DepthRow[] };
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
    getServerCpu: round(get.emulator.serverCpuUsPerRequest / get.baseline.serverCpuUsPerRequest, 2),
    lifecycle: round(life.emulator.opsPerSec / life.baseline.opsPerSec, 3),
    lifecycleServerCpu: round(life.emulator.serverCpuUsPerLifecycle / life.baseline.serverCpuUsPerLifecycle, 2),
    cancelP50VsGet: round(cancel.cancelToDone.p50Ms / cancel.getRoundTrip.p50Ms, 2),
    cancelP99VsGet: round(cancel.cancelToDone.p99Ms / cancel.getRoundTrip.p99Ms, 2),
    authGetRps: round(auth.jwt.rps / auth.none.rps, 3),
    authGetP99: round(auth.jwt.p99Ms / auth.none.p99Ms, 2),
    authServerCpu: round(auth.jwt.serverCpuUsPerRequest / auth.none.serverCpuUsPerRequest, 2),
  };
  const goals = {
    getRpsRatio: { goal: '>= 0.7', value: ratios.getRps, met: ratios.getRps >= 0.7 },
    lifecycleOpsPerSec: { goal: '>= 5000', value: life.emulator.opsPerSec, met: life.emulator.opsPerSec >= 5000 },
    cancelP99Ms: { goal: '<= 10', value: cancel.cancelToDone.p99Ms, met: cancel.cancelToDone.p99Ms <= 10 },
    authGetRpsRatio: { goal: '>= 0.85', value: ratios.authGetRps, met: ratios.authGetRps >= 0.85 },
    listDepthRatio: { goal: '<= 2', value: Math.max(...depth.rows.map((r) => r.ratio)), met: depth.rows.every((r) => r.ratio <= 2) },
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
        ['1 GetOperation REST p99 ms', fmt(get.emulator.p99Ms, 1), fmt(get.baseline.p99Ms, 1), x(ratios.getP99), '', ''],
        ['1 server CPU µs / request', fmt(get.emulator.serverCpuUsPerRequest, 1), fmt(get.baseline.serverCpuUsPerRequest, 1), x(ratios.getServerCpu), '', ''],
        [`2 create→done lifecycles/s (K=${K})`, fmt(life.emulator.opsPerSec), fmt(life.baseline.opsPerSec), ratios.lifecycle.toFixed(3), '>= 5,000', yes(goals.lifecycleOpsPerSec.met)],
        ['2 server CPU µs / lifecycle', fmt(life.emulator.serverCpuUsPerLifecycle, 1), fmt(life.baseline.serverCpuUsPerLifecycle, 1), x(ratios.lifecycleServerCpu), '', ''],
        ['2 load-gen CPU µs / lifecycle', fmt(life.emulator.clientCpuUsPerLifecycle, 1), fmt(life.baseline.clientCpuUsPerLifecycle, 1), '', '', ''],
        ['3 cancel→waiter done p50 ms', fmt(cancel.cancelToDone.p50Ms, 2), fmt(cancel.getRoundTrip.p50Ms, 2), x(ratios.cancelP50VsGet), '', ''],
        ['3 cancel→waiter done p99 ms', fmt(cancel.cancelToDone.p99Ms, 2), fmt(cancel.getRoundTrip.p99Ms, 2), x(ratios.cancelP99VsGet), '<= 10 ms', yes(goals.cancelP99Ms.met)],
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
      `rounds: GetOperation emulator ${get.emulator.roundsRps.join(', ')} req/s, baseline ${get.baseline.roundsRps.join(', ')};`,
      `  lifecycles emulator ${life.emulator.roundsOpsPerSec.join(', ')}/s, baseline ${life.baseline.roundsOpsPerSec.join(', ')}/s; GETs per lifecycle ${life.emulator.getsPerLifecycle};`,
      `  cancel→done p99 ${cancel.cancelToDone.roundsP99Ms.join(', ')} ms (${cancel.cancelToDone.samples} samples); :cancel reply itself p50 ${cancel.cancelReply.p50Ms} ms, p99 ${cancel.cancelReply.p99Ms} ms;`,
      `  auth jwt ${auth.jwt.roundsRps.join(', ')} req/s, none ${auth.none.roundsRps.join(', ')} (bodies ${auth.bodyBytes.jwt}/${auth.bodyBytes.none} bytes).`,
      `  5 = the same Lists on a child with ${fmt(depth.shallow)} connections (and their create operations) in the location, one call at a time, default page size;`,
      `      both children seeded through the store before they start (${depth.seedSeconds} s), rounds alternating.`,
    ].join('\n'),
  );
  const failures = get.emulator.failures + get.baseline.failures + life.emulator.errors + life.baseline.errors + auth.jwt.failures + auth.none.failures;
  if (failures > 0) console.log(`WARNING: ${failures} failed requests; first lifecycle error: ${life.emulator.firstError ?? life.baseline.firstError ?? '-'}`);
  console.log(`BENCH_JSON ${JSON.stringify({ ...f, ratios, goals })}`);
}
