/**
 * Does a flood of slow sockets starve real clients? (#11, item 3)
 *
 *   node --import tsx bench/slow-sockets.ts [--sockets 500] [--seconds 5] [--rounds 2] [--idle-timeout 5s]
 *
 * The emulator runs from src/ in a child process. A real client calls GetOperation in a loop, one
 * call at a time, over REST on a keep-alive connection, over REST on a new connection per call,
 * and over gRPC; its latencies are taken without and with the flood, rounds interleaved. The flood
 * keeps `--sockets` connections open, each sending a byte or a frame every second and replaced
 * when the server closes it: a third trickle the HTTP/2 preface (never enough to tell the protocol),
 * a third an HTTP/1.1 header block, a third are HTTP/2 connections that only send PINGs.
 * A second child with --max-connections below the flood shows what the limit does: the clients
 * connected before the flood are still served, and new connections are refused at once.
 */
import { connect as connectHttp2, type ClientHttp2Session } from 'node:http2';
import { connect as connectTcp, type Socket } from 'node:net';
import { readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
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
    { ready: /http:\/\/[^\s)]+/ },
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
      const flood = condition === 'no flood' ? undefined : new SlowFlood(emulator.port, SOCKETS);
      if (flood) await sleep(1_500); // every slow socket connected and trickling
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
        closed += flood.closedByServer;
        flood.stop();
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

/** Beyond the limit: the clients connected before the flood, and new connections while it lasts. */
async function beyondTheLimit(): Promise<void> {
  const limit = Math.floor(SOCKETS / 2);
  const emulator = await startEmulator(['--idle-timeout', IDLE, '--max-connections', String(limit)]);
  const operation = await doneOperation(emulator);
  const calls = probes(emulator, operation);
  const keepAliveProbe = calls['REST, keep-alive'] as Probe;
  const grpcProbe = calls.gRPC as Probe;
  await keepAliveProbe(); // connected before the flood
  await grpcProbe();
  const flood = new SlowFlood(emulator.port, SOCKETS);
  await sleep(1_500);
  const results: Row[] = [];
  for (const [name, probe] of [['REST, keep-alive (connected before)', keepAliveProbe], ['gRPC (connected before)', grpcProbe], ['REST, new connection', calls['REST, new connection'] as Probe]] as const) {
    const { latencies, errors, firstError } = await sample(probe, SECONDS);
    results.push({ probe: name, condition: `${SOCKETS} slow sockets, --max-connections ${limit}`, latencies, errors, firstError });
  }
  const refusedAt = performance.now();
  const refused = await new Promise<number>((resolve) => {
    const socket = connectTcp(emulator.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.once('close', () => resolve(performance.now() - refusedAt));
  });
  flood.stop();
  log(`\nWith the connections full (--max-connections ${limit}, ${SOCKETS} slow sockets):`);
  log(table(['probe', 'condition', 'calls', 'median ms', 'p99 ms', 'errors'], rows(results)));
  log(`a new connection was closed by the server ${fmt(refused, 1)} ms after it was opened`);
  await emulator.stop();
}

await underTheLimit();
await beyondTheLimit();
process.exit(0);
