/**
 * The soak run (#11, "Make it stay fixed"): the built server under mixed load for a bounded time, on
 * loopback only, SIGKILLed and restarted every minute, with a flood of slow sockets; then a clean
 * restart, a settle period, and the server held to every write it acknowledged.
 *
 *   npm run soak -- --duration 10m [--seed 1] [--clients 8] [--sockets 300]
 *
 * Prints a table and a `SOAK_JSON {...}` line; exits 1 if a goal is missed (and keeps the data
 * directory and the server's log for a look), 2 if the soak itself failed.
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDuration } from '../../src/cli/duration.js';
import { SlowSocketFlood } from './flood.js';
import { Load } from './load.js';
import { report, type Figures } from './report.js';
import { RestClient, Tally } from './rest.js';
import { freePort } from '../../bench/ports.js';
import { keepWorkDirOnExit, SoakServer } from './server.js';
import { verify } from './verify.js';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10m' },
    seed: { type: 'string', default: '1' },
    clients: { type: 'string', default: '8' },
    sockets: { type: 'string', default: '300' },
    'restart-every': { type: 'string', default: '1m' },
    'warm-up': { type: 'string', default: '20s' },
    settle: { type: 'string', default: '30s' },
    'idle-timeout': { type: 'string', default: '5s' },
    'operation-delay': { type: 'string', default: '200ms' },
    think: { type: 'string', default: '20ms' },
  },
});

const DURATION_MS = parseDuration(args.duration);
const SEED = Number(args.seed);
const RESTART_MS = parseDuration(args['restart-every']);
const WARM_UP_MS = parseDuration(args['warm-up']);
const SETTLE_MS = parseDuration(args.settle);
const IDLE_MS = parseDuration(args['idle-timeout']);

function progress(started: number, message: string): void {
  const s = Math.round((performance.now() - started) / 1000);
  process.stderr.write(`[soak ${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}] ${message}\n`);
}

async function soak(): Promise<Figures> {
  const port = await freePort();
  const server = new SoakServer({ port, idleTimeout: args['idle-timeout'], operationDelay: args['operation-delay'] });
  const tally = new Tally();
  let serving = 0;
  let started = performance.now();
  const warmUp = (): void => {
    const number = serving;
    setTimeout(() => void (serving === number && server.sample('warm')), WARM_UP_MS).unref();
  };
  serving = (await server.start()).number;
  progress(started, `server up in ${Math.round(performance.now() - started)} ms`);
  // The duration and the restarts count from here, when the load starts.
  started = performance.now();
  warmUp();
  progress(started, `server ${server.url} (pid ${server.current?.pid}, data ${server.dataDir}); load for ${args.duration}, ${RESTART_MS > 0 ? `SIGKILL and restart every ${args['restart-every']}` : 'no restarts'}`);

  const load = new Load({ url: server.url, clients: Number(args.clients), seed: SEED, thinkMs: parseDuration(args.think) }, tally);
  const flood = new SlowSocketFlood({ port, size: Number(args.sockets), dripMs: Math.max(500, Math.round(IDLE_MS * 0.6)), overdueMs: 3 * IDLE_MS + 5_000, incarnation: () => serving });
  load.start();

  const restartGapsMs: number[] = [];
  // --restart-every 0: one incarnation for the whole run (to watch one process's memory over a long run).
  for (let next = RESTART_MS; RESTART_MS > 0 && next < DURATION_MS; next += RESTART_MS) {
    await sleep(Math.max(0, started + next - performance.now()));
    serving = 0;
    const killedAt = performance.now();
    await server.kill();
    serving = (await server.start()).number;
    restartGapsMs.push(performance.now() - killedAt);
    warmUp();
    progress(started, `SIGKILL and restart: incarnation ${serving} serving after ${Math.round(performance.now() - killedAt)} ms; ${load.ledger.creates.length} creates acknowledged, ${tally.fiveHundreds} 5xx, ${tally.noAnswer} calls without answer`);
  }
  await sleep(Math.max(0, started + DURATION_MS - performance.now()));

  progress(started, 'stopping the load and the flood');
  await load.stop();
  flood.stop();
  const endUnderLoad = server.sample('last');
  const loadedIncarnation = server.current;
  if (loadedIncarnation) loadedIncarnation.loadedUntilS = (performance.now() - loadedIncarnation.servedAt) / 1000;
  // The flood's sockets are gone and the clients' keep-alive connections closed: the server's descriptors go back down.
  await sleep(IDLE_MS + 2_000);
  const afterLoad = server.sampleNow();

  progress(started, 'clean restart (SIGTERM), then settle and verify');
  const cleanStopMs = await server.stop();
  (await server.start()).loadedUntilS = 0;
  const checker = new RestClient(server.url, tally);
  const verdict = await verify(checker, load.ledger, SETTLE_MS);
  const settled = server.sample('warm');
  checker.close();
  await server.stop();
  await server.closeLog();

  return {
    args: { duration: args.duration, seed: SEED, clients: Number(args.clients), sockets: Number(args.sockets), restartEvery: args['restart-every'], settle: args.settle, idleTimeout: args['idle-timeout'], operationDelay: args['operation-delay'] },
    tally,
    load,
    flood,
    verdict,
    incarnations: server.incarnations,
    restartGapsMs,
    endUnderLoad,
    warmUpS: WARM_UP_MS / 1000,
    loadedIncarnation: loadedIncarnation?.number ?? 0,
    afterLoad,
    afterLoadBaseline: loadedIncarnation?.fresh,
    settled,
    cleanStopMs,
    logPath: server.logPath,
    dataDir: server.dataDir,
  };
}

// Bounded: whatever hangs, the soak ends (and its processes with it) this long after its duration.
const BOUND_MS = DURATION_MS + SETTLE_MS + 5 * 60_000;
setTimeout(() => {
  keepWorkDirOnExit();
  process.stderr.write(`soak failed: still running ${Math.round(BOUND_MS / 1000)} s after it started\n`);
  process.exit(2);
}, BOUND_MS).unref();

try {
  const figures = await soak();
  const met = report(figures);
  if (!met) keepWorkDirOnExit();
  process.exit(met ? 0 : 1);
} catch (error) {
  keepWorkDirOnExit();
  process.stderr.write(`soak failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(2);
}
