/** The soak's summary: a table per concern, the goals met or missed, and one `SOAK_JSON {...}` line. */
import { readFileSync } from 'node:fs';
import { fmt, median, percentile, round, table } from '../../bench/stats.js';
import type { SlowSocketFlood } from './flood.js';
import type { Load } from './load.js';
import type { Tally } from './rest.js';
import type { Incarnation, ProcessSample } from './server.js';
import type { Verdict } from './verify.js';

export interface Figures {
  args: Record<string, string | number>;
  tally: Tally;
  load: Load;
  flood: SlowSocketFlood;
  verdict: Verdict;
  incarnations: Incarnation[];
  restartGapsMs: number[];
  /** The last loaded incarnation as the load stopped, and its number. */
  endUnderLoad?: ProcessSample;
  loadedIncarnation: number;
  warmUpS: number;
  /** The same, an idle timeout after the load and the flood stopped; and its descriptors right after it started. */
  afterLoad?: ProcessSample;
  afterLoadBaseline?: ProcessSample;
  /** After the clean restart and the settle period, idle. */
  settled?: ProcessSample;
  /** ms a SIGTERM took to stop the loaded server; undefined if it had to be SIGKILLed. */
  cleanStopMs?: number;
  logPath: string;
  dataDir: string;
}

const RSS_TOLERANCE = 0.1;
/** Descriptors the server may hold above its fresh start once the load is gone (log stream, database, timers). */
const FD_TOLERANCE = 10;

function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

interface ServerLog {
  /** Lines logged at error or fatal (pino levels 50 and 60), and the first few. */
  errors: number;
  firstErrors: string[];
  /** By incarnation: the operations it found unfinished at start, resumed or ended (those whose cancellation was requested). */
  recovered: Map<number, { resumed: number; failed: number }>;
}

function readServerLog(logPath: string): ServerLog {
  const log: ServerLog = { errors: 0, firstErrors: [], recovered: new Map() };
  let incarnation = 0;
  for (const line of readFileSync(logPath, 'utf8').split('\n')) {
    const marker = /^--- incarnation (\d+)/.exec(line);
    if (marker) incarnation = Number(marker[1]);
    if (/"level":(50|60)/.test(line)) {
      log.errors++;
      if (log.firstErrors.length < 5) log.firstErrors.push(line.slice(0, 400));
    }
    if (line.includes('"recovered unfinished operations"')) {
      const { resumed, failed } = JSON.parse(line) as { resumed: number; failed: number };
      log.recovered.set(incarnation, { resumed, failed });
    }
  }
  return log;
}

function mib(s: ProcessSample | undefined): string {
  return s ? fmt(s.rssMiB, 1) : '?';
}

function sample(s: ProcessSample | undefined): string {
  return s ? `${fmt(s.rssMiB, 1)} MiB / ${s.fds} fds` : '-';
}

/**
 * An incarnation's mean RSS (MiB) under load after warm-up: the samples of every 5 s from the
 * warm-up to the end of its load. A mean, because one sample of a young process says more about
 * when V8 last collected than about what the process holds.
 */
function loadedRss(incarnation: Incarnation, warmUpS: number): number {
  const until = incarnation.loadedUntilS ?? Infinity;
  const samples = incarnation.series.filter((s) => s.ageS >= warmUpS && s.ageS <= until).map((s) => s.rssMiB);
  return samples.length === 0 ? NaN : samples.reduce((a, b) => a + b, 0) / samples.length;
}

function change(from: number | undefined, to: number | undefined): number {
  return from !== undefined && to !== undefined ? (to - from) / from : NaN;
}

/** Prints the summary; true if every goal is met. */
export function report(f: Figures): boolean {
  const { tally, load, flood, verdict } = f;
  const first = f.incarnations[0];
  // Start: the first incarnation after warm-up; end: the last loaded one as the load stopped.
  const start = first?.warm;
  const rssChange = change(start?.rssMiB, f.endUnderLoad?.rssMiB);
  // With a SIGKILL every minute no process lives long: the memory that must stay flat is that of a
  // process under the same load, after the same warm-up, in the first minute and in the last.
  const loaded = f.incarnations.find((i) => i.number === f.loadedIncarnation);
  const restarted = first !== undefined && loaded !== undefined && loaded !== first;
  const firstMean = first && loadedRss(first, f.warmUpS);
  const lastMean = loaded && loadedRss(loaded, f.warmUpS);
  const flatChange = change(firstMean, lastMean);
  const fdsBack = f.afterLoad && f.afterLoadBaseline ? f.afterLoad.fds - f.afterLoadBaseline.fds : NaN;
  const contradictions = [...load.findings.counts.values()].reduce((a, b) => a + b, 0);
  const inconsistent = Object.values(verdict.inconsistent).reduce((a, b) => a + b, 0);
  const logged = readServerLog(f.logPath);
  const lifetimes = [...flood.lifetimes.values()].flat();

  // met: null for a figure that is reported, not judged.
  const goals: [string, string, boolean | null][] = [
    ['acknowledged writes lost', `${verdict.lostTotal}`, verdict.lostTotal === 0],
    ['answers contradicting earlier ones, during the load', `${contradictions}`, contradictions === 0],
    [`operations stuck (not done ${f.args.settle} after the clean restart)`, `${verdict.stuck}`, verdict.stuck === 0],
    ['operations ending in an outcome a create cannot have', `${inconsistent}`, inconsistent === 0],
    ['5xx answers', `${tally.fiveHundreds} of ${tally.answered}`, tally.fiveHundreds === 0],
    [`RSS, start (incarnation 1 after warm-up) → end (as the load stopped)`, `${mib(start)} → ${mib(f.endUnderLoad)} MiB (${fmt(rssChange * 100, 1)}%)`, restarted ? null : Math.abs(rssChange) <= RSS_TOLERANCE],
    ...(restarted
      ? [[`RSS under load after warm-up (mean), incarnation 1 → ${f.loadedIncarnation}`, `${fmt(firstMean ?? NaN, 1)} → ${fmt(lastMean ?? NaN, 1)} MiB (${fmt(flatChange * 100, 1)}%)`, Math.abs(flatChange) <= RSS_TOLERANCE] as [string, string, boolean | null]]
      : []),
    ['fds, start → end (with the flood)', `${start?.fds ?? '?'} → ${f.endUnderLoad?.fds ?? '?'}`, null],
    [`fds an idle timeout after the load, above the incarnation's fresh start`, `${f.afterLoad?.fds ?? '?'} - ${f.afterLoadBaseline?.fds ?? '?'} = ${fdsBack}`, fdsBack <= FD_TOLERANCE],
    [`slow sockets still open ${fmt(flood.overdueMs / 1000, 0)} s after they connected`, `${flood.overdue} of ${flood.opened}`, flood.overdue === 0],
  ];

  out('');
  out(`Soak run: ${JSON.stringify(f.args)}`);
  out(table(['goal', 'figure', 'met'], goals.map(([name, figure, met]) => [name, figure, met === null ? '-' : met ? 'yes' : 'NO'])));
  out('');
  out(`acknowledged creates ${verdict.acknowledgedCreates} (${load.acknowledgedOnRetry} only on a retry with the same requestId); outcomes ${JSON.stringify(verdict.outcomes)}`);
  out(`cancels acknowledged ${load.cancelsAcknowledged}, deletes acknowledged ${load.deletesAcknowledged}, requestId replays that followed the soak's own delete (a new operation) ${load.replaysAfterDelete}; calls answered ${tally.answered}, without answer ${tally.noAnswer} (the server was down or slow)`);
  if (verdict.lostTotal > 0) out(`lost: ${JSON.stringify(verdict.lost)}`);
  if (inconsistent > 0) out(`inconsistent: ${JSON.stringify(verdict.inconsistent)}`);
  if (contradictions > 0) out(`contradictions: ${JSON.stringify(Object.fromEntries(load.findings.counts))}`);
  for (const example of [...verdict.examples, ...load.findings.examples].slice(0, 20)) out(`  ${example}`);
  for (const error of tally.serverErrors) out(`  5xx: ${error}`);
  out('');
  const latencies = [...tally.latencies.entries()].filter(([kind]) => kind !== 'verify');
  out(table(['call', 'answered', 'median ms', 'p99 ms', 'max ms'], latencies.map(([kind, ms]) => [kind, ms.length, fmt(median(ms), 1), fmt(percentile(ms, 99), 1), fmt(Math.max(...ms), 1)])));
  out('');
  out(`answers by call and status: ${[...tally.counts.entries()].sort().map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  out(`slow sockets: ${flood.opened} opened, ${flood.closedByServer} closed by the server, ${flood.closedByRestart} by a restart, ${flood.notConnected} refused while it was down, ${flood.overdue} overdue; lifetime until the server closed them:`);
  for (const [kind, ms] of flood.lifetimes) out(`  ${kind}: ${ms.length} closed, median ${fmt(median(ms) / 1000, 1)} s, p99 ${fmt(percentile(ms, 99) / 1000, 1)} s, max ${fmt(Math.max(...ms) / 1000, 1)} s`);
  out(`after the clean restart, ${verdict.stuck === 0 ? 'every operation was done within' : 'operations still running after'} ${fmt(verdict.settleMs / 1000, 1)} s`);
  const gaps = f.restartGapsMs.length === 0 ? '' : `, SIGKILL → serving median ${fmt(median(f.restartGapsMs), 0)} ms, max ${fmt(Math.max(...f.restartGapsMs), 0)} ms`;
  out(`restarts: ${f.restartGapsMs.length}${gaps}; clean stop (SIGTERM) ${f.cleanStopMs === undefined ? 'did not exit: SIGKILLed' : `${fmt(f.cleanStopMs, 0)} ms`}`);
  out(`settled server (idle, after the clean restart): ${sample(f.settled)}; server log lines at error or fatal: ${logged.errors}`);
  for (const line of logged.firstErrors) out(`  ${line}`);
  out('');
  out(
    table(
      ['incarnation', 'pid', 'start ms', 'resumed, ended at start', 'fresh', 'after warm-up', 'last', 'mean RSS after warm-up', 'ended'],
      f.incarnations.map((i) => {
        const recovered = logged.recovered.get(i.number) ?? { resumed: 0, failed: 0 };
        const mean = i.loadedUntilS === 0 ? '-' : `${fmt(loadedRss(i, f.warmUpS), 1)} MiB`;
        return [i.number, i.pid, fmt(i.startMs, 0), `${recovered.resumed}, ${recovered.failed}`, sample(i.fresh), sample(i.warm), sample(i.last), mean, i.ended ?? '-'];
      }),
    ),
  );
  for (const i of f.incarnations) if (i.series.length > 0) out(`incarnation ${i.number}, RSS MiB every 5 s: ${i.series.map((s) => Math.round(s.rssMiB)).join(' ')}`);
  const met = goals.every(([, , ok]) => ok !== false);
  out('');
  out(met ? 'Every goal met.' : `Goals missed: ${goals.filter(([, , ok]) => ok === false).map(([name]) => name).join('; ')}. Data directory and server log kept: ${f.dataDir}, ${f.logPath}`);
  out(
    `SOAK_JSON ${JSON.stringify({
      args: f.args,
      met,
      acknowledgedCreates: verdict.acknowledgedCreates,
      lost: verdict.lostTotal,
      lostByKind: verdict.lost,
      contradictions: Object.fromEntries(load.findings.counts),
      stuck: verdict.stuck,
      inconsistent: verdict.inconsistent,
      outcomes: verdict.outcomes,
      fiveHundreds: tally.fiveHundreds,
      answered: tally.answered,
      noAnswer: tally.noAnswer,
      rssMiB: {
        start: start && round(start.rssMiB, 1),
        end: f.endUnderLoad && round(f.endUnderLoad.rssMiB, 1),
        changePct: round(rssChange * 100, 1),
        meanFirst: round(firstMean ?? NaN, 1),
        meanLast: round(lastMean ?? NaN, 1),
        meanChangePct: round(flatChange * 100, 1),
        settled: f.settled && round(f.settled.rssMiB, 1),
      },
      fds: { start: start?.fds, end: f.endUnderLoad?.fds, afterLoad: f.afterLoad?.fds, freshBaseline: f.afterLoadBaseline?.fds, settled: f.settled?.fds },
      slowSockets: { opened: flood.opened, closedByServer: flood.closedByServer, overdue: flood.overdue, maxLifetimeS: round(Math.max(...lifetimes) / 1000, 1) },
      restarts: f.restartGapsMs.length,
      replaysAfterDelete: load.replaysAfterDelete,
      operationsRecoveredAtStart: [...logged.recovered.values()].reduce((sum, r) => sum + r.resumed + r.failed, 0),
      serverErrorsLogged: logged.errors,
    })}`,
  );
  return met;
}
