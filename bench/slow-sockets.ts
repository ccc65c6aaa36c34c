/**
 * Does a flood of slow sockets starve real clients? (#11, item 3)
 *
 *   node --import tsx bench/slow-sockets.ts [--sockets 500] [--seconds 5] [--rounds 2] [--idle-timeout 5s]
 *
 * The emulator runs from src/ in a child process, the flood in another (so that its sockets do not
 * compete with the measuring client for this process's CPU). A real client calls GetOperation in a
 * loop, one call at a time, over REST on a keep-alive connection, over REST on a new connection per
 * call, and over gRPC; its latencies are taken without and with the flood, rounds interleaved. The
 * flood keeps `--sockets` connections open, each sending a byte or a frame every second and
 * replaced a second after the server closes it: a third trickle the HTTP/2 preface (never enough to
 * tell the protocol), a third an HTTP/1.1 header block, a third are HTTP/2 connections that only
 * send PINGs. A second emulator, with --max-connections half the flood, shows what the limit does:
 * the clients connected before the flood are still served, and new connections compete with the
 * flood's for the slots the idle timeout frees; those that find none are closed at once.
 */
import { connect as connectHttp2, type ClientHttp2Session } from 'node:http2';
import { connect as connectTcp, type Socket } from 'node:net';
import { readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { GetOperationRequestSchema, OperationSchema } from '../src/gen/google/longrunning/operations_pb.js';
import { spawnChild, tempDir, type Spawned } from './children.js';
import { callJson, HttpClient } from './http-client.js';
import { CREATE_BODY, PARENT } from './lifecycle.js';
import { fmt, log, median, percentile, sleep, table } from './stats.js';

const { values: args } = parseArgs({
  options: {
    flood: { type: 'string' },
    sockets: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    'idle-timeout': { type: 'string', default: '5s' },
  },
});
const SOCKETS = Number(args.sockets);
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const IDLE = args['idle-timeout'];

interface Emulator extends Spawned {
  url: string;
  port: number;
}

async function startEmulator(extraFlags: string[]): Promise<Emulator> {
  const child = await spawnChild(
    `emulator ${extraFlags.join(' ')}`,
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', '--data-dir', tempDir('devconnect-slow-'), '--auth', 'none', '--log-level', 'warn', ...extraFlags],
    { ready: /http:\/\/[^\s)]+/, timeoutMs: 90_000 }, // tsx compiles src/ first
  );
  return { ...child, url: child.ready, port: Number(new URL(child.ready).port) };
}

function descriptorsOf(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** The server's descriptors once it has seen the flood's connections close (or after 5 s). */
async function settledDescriptors(pid: number, baseline: number): Promise<number> {
  for (let i = 0; i < 50 && descriptorsOf(pid) > baseline; i++) await sleep(100);
  return descriptorsOf(pid);
}

/** Keeps `size` slow connections open until stopped, replacing each one the server closes. */
class SlowFlood {
  closedByServer = 0;
  private stopped = false;
  private readonly live = new Set<Socket | ClientHttp2Session>();

  constructor(
    private readonly port: number,
    size: number,
  ) {
    for (let i = 0; i < size; i++) this.open(i % 3);
  }

  private open(kind: number): void {
    if (this.stopped) return;
    const replace = (): void => {
      if (this.stopped) return;
      this.closedByServer++;
      setTimeout(() => this.open(kind), 1_000);
    };
    if (kind === 2) {
      const session = connectHttp2(`http://127.0.0.1:${this.port}`);
      this.live.add(session);
      session.on('error', () => {});
      const ping = setInterval(() => !session.destroyed && session.ping(() => {}), 1_000);
      session.once('close', () => {
        clearInterval(ping);
        this.live.delete(session);
        replace();
      });
      return;
    }
    const text = kind === 0 ? 'PRI * HTTP/2.0' : `GET /v1/${PARENT}/operations HTTP/1.1\r\nHost: localhost\r\nx-slow: ${'s'.repeat(200)}\r\n\r\n`;
    const socket = connectTcp(this.port, '127.0.0.1');
    this.live.add(socket);
    socket.on('error', () => {});
    let sent = 0;
    const drip = setInterval(() => {
      if (socket.writable && sent < text.length - 1) socket.write(text[sent++] as string);
    }, 1_000);
    socket.once('close', () => {
      clearInterval(drip);
      this.live.delete(socket);
      replace();
    });
  }

  stop(): void {
    this.stopped = true;
    for (const connection of this.live) connection.destroy();
  }
}

/** The flood in a process of its own: told to stop on its stdin, it prints how many of its sockets the server closed. */
async function startFlood(port: number): Promise<{ stop(): Promise<number> }> {
  const child = await spawnChild('flood', process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--flood', String(port), '--sockets', String(SOCKETS)], {
    ready: /flood ready/,
    timeoutMs: 60_000,
    stdin: true,
  });
  let out = '';
  child.process.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await sleep(1_500); // every slow socket connected and trickling
  return {
    stop: async () => {
      const exited = new Promise((resolve) => child.process.once('exit', resolve));
      child.process.stdin?.end('stop\n');
      await exited;
      return Number(/closed (\d+)/.exec(out)?.[1] ?? NaN);
    },
  };
}

type Probe = () => Promise<void>;

/** Calls `probe` one at a time for `seconds`; the latency of each call in ms, and how many failed. */
async function sample(probe: Probe, seconds: number): Promise<{ latencies: number[]; errors: number; firstError?: string }> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const end = performance.now() + seconds * 1_000;
  while (performance.now() < end) {
    const start = performance.now();
    try {
      await probe();
      latencies.push(performance.now() - start);
    } catch (error) {
      errors++;
      firstError ??= (error as Error).message;
    }
  }
  return { latencies, errors, firstError };
}

function probes(emulator: Emulator, operation: string): Record<string, Probe> {
  const keepAlive = new HttpClient(emulator.url, 1);
  const path = `/v1/${operation}`;
  const grpcClient = new grpc.Client(`127.0.0.1:${emulator.port}`, grpc.credentials.createInsecure());
  const request = create(GetOperationRequestSchema, { name: operation });
  return {
    'REST, keep-alive': async () => void (await callJson(keepAlive, 'GET', path)),
    'REST, new connection': async () => {
      const fresh = new HttpClient(emulator.url, 1);
      try {
        await callJson(fresh, 'GET', path, undefined);
      } finally {
        fresh.close();
      }
    },
    gRPC: () =>
      new Promise<void>((resolve, reject) =>
        grpcClient.makeUnaryRequest(
          '/google.longrunning.Operations/GetOperation',
          (m: typeof request) => Buffer.from(toBinary(GetOperationRequestSchema, m)),
          (b: Buffer) => fromBinary(OperationSchema, b),
          request,
          { deadline: Date.now() + 5_000 },
          (error) => (error ? reject(error) : resolve()),
        ),
      ),
  };
}

async function doneOperation(emulator: Emulator): Promise<string> {
  const client = new HttpClient(emulator.url, 1);
  try {
    const created = await callJson(client, 'POST', `/v1/${PARENT}/connections?connectionId=slow-bench`, CREATE_BODY);
    return String(created.name);
  } finally {
    client.close();
  }
}

interface Row {
  probe: string;
  condition: string;
  latencies: number[];
  errors: number;
  firstError?: string;
}

function rows(results: Row[]): (string | number)[][] {
  return results.map((r) => [
    r.probe,
    r.condition,
    r.latencies.length,
    fmt(median(r.latencies), 2),
    fmt(percentile(r.latencies, 99), 2),
    r.errors === 0 ? '0' : `${r.errors} (${r.firstError ?? ''})`,
  ]);
}

/** Within the limit: latency without and with the flood, rounds interleaved. */
async function underTheLimit(): Promise<void> {
  const emulator = await startEmulator(['--idle-timeout', IDLE]);
  const operation = await doneOperation(emulator);
  const calls = probes(emulator, operation);
  for (const probe of Object.values(calls)) await probe(); // the clients' own connections are open from here on
  const results = new Map<string, Row>();
  await sleep(200);
  const fds: Record<string, number> = { start: descriptorsOf(emulator.pid) };
  let closed = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const condition of ['no flood', `${SOCKETS} slow sockets`]) {
      const flood = condition === 'no flood' ? undefined : await startFlood(emulator.port);
      for (const [name, probe] of Object.entries(calls)) {
        const { latencies, errors, firstError } = await sample(probe, SECONDS);
        const row = results.get(`${name}|${condition}`) ?? { probe: name, condition, latencies: [], errors: 0 };
        row.latencies.push(...latencies);
        row.errors += errors;
        row.firstError ??= firstError;
        results.set(`${name}|${condition}`, row);
      }
      if (flood) {
        fds[`with the flood, round ${round + 1}`] = descriptorsOf(emulator.pid);
        closed += await flood.stop();
      }
    }
  }
  fds['the flood gone'] = await settledDescriptors(emulator.pid, fds.start as number);
  log(`\nGetOperation, one call at a time, ${ROUNDS} rounds of ${SECONDS} s per probe and condition (--idle-timeout ${IDLE}):`);
  log(table(['probe', 'condition', 'calls', 'median ms', 'p99 ms', 'errors'], rows([...results.values()].sort((a, b) => a.probe.localeCompare(b.probe)))));
  log(`slow sockets closed by the server during the measurements: ${closed}`);
  log(`server descriptors: ${Object.entries(fds).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  await emulator.stop();
}

/** A new connection while the slots are full: answered, or closed by the server without a byte (and how soon). */
function tryNewConnection(port: number): Promise<{ answered: boolean; ms: number }> {
  const start = performance.now();
  return new Promise((resolve) => {
    const socket = connectTcp(port, '127.0.0.1', () => socket.write(`GET /v1/${PARENT}/operations HTTP/1.1\r\nHost: localhost\r\n\r\n`));
    socket.on('error', () => {});
    socket.once('data', () => {
      resolve({ answered: true, ms: performance.now() - start });
      socket.destroy();
    });
    socket.once('close', () => resolve({ answered: false, ms: performance.now() - start }));
  });
}

/** Beyond the limit: the clients connected before the flood, and new connections while it lasts. */
async function beyondTheLimit(): Promise<void> {
  const limit = Math.floor(SOCKETS / 2);
  const emulator = await startEmulator(['--idle-timeout', IDLE, '--max-connections', String(limit)]);
  const operation = await doneOperation(emulator);
  const calls = probes(emulator, operation);
  const keepAliveProbe = calls['REST, keep-alive'] as Probe;
  const grpcProbe = calls.gRPC as Probe;
  // Connected before the flood, and kept busy while it starts: an idle one would be closed, and
  // could not come back while the flood holds every slot.
  const busy = setInterval(() => void Promise.allSettled([keepAliveProbe(), grpcProbe()]), 1_000);
  await Promise.all([keepAliveProbe(), grpcProbe()]);
  const flood = await startFlood(emulator.port).finally(() => clearInterval(busy));
  const condition = `${SOCKETS} slow sockets, --max-connections ${limit}`;
  const results: Row[] = [];
  // Side by side, so that neither connection sits idle while the other is measured; meanwhile a
  // new connection is tried every 100 ms.
  const probed = [['REST, keep-alive (connected before)', keepAliveProbe], ['gRPC (connected before)', grpcProbe]] as const;
  const attempts: Promise<{ answered: boolean; ms: number }>[] = [];
  const trying = setInterval(() => attempts.push(tryNewConnection(emulator.port)), 100);
  const samples = await Promise.all(probed.map(([, probe]) => sample(probe, SECONDS)));
  clearInterval(trying);
  probed.forEach(([name], i) => results.push({ probe: name, condition, ...(samples[i] as Awaited<ReturnType<typeof sample>>) }));
  const tried = await Promise.all(attempts);
  await flood.stop();
  const refused = tried.filter((a) => !a.answered).map((a) => a.ms);
  log(`\nWith the connections full (--max-connections ${limit}, ${SOCKETS} slow sockets):`);
  log(table(['probe', 'condition', 'calls', 'median ms', 'p99 ms', 'errors'], rows(results)));
  log(`new connections, one every 100 ms meanwhile: ${tried.length - refused.length} of ${tried.length} answered`);
  if (refused.length > 0) {
    log(`the ${refused.length} others were closed by the server without a byte, ${fmt(median(refused), 1)} ms after they opened (median), ${fmt(Math.max(...refused), 1)} ms at most`);
  }
  await emulator.stop();
}

/** The flood process: keeps the sockets until its stdin ends, then says how many the server closed. */
function runFlood(port: number): void {
  const flood = new SlowFlood(port, SOCKETS);
  process.stdout.write('flood ready\n');
  process.stdin.resume().once('end', () => {
    flood.stop();
    process.stdout.write(`closed ${flood.closedByServer}\n`, () => process.exit(0));
  });
}

if (args.flood !== undefined) {
  runFlood(Number(args.flood));
} else {
  await underTheLimit();
  await beyondTheLimit();
  process.exit(0);
}
