/**
 * The emulator under soak: one child process at a time on a fixed port and data directory, started,
 * SIGKILLed and started again. It runs from a snapshot of dist/ taken at the start, so a rebuild in
 * the working tree during the run does not change the server between two incarnations.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const SAMPLE_EVERY_MS = 5_000;
const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** Every process this soak started, by PID: killed by PID if the soak exits first (failure, Ctrl-C). */
const alive = new Map<number, ChildProcess>();
const tempDirs = new Set<string>();
/** Set when a goal is missed, so the data directory and the server's log are kept for a look. */
let keepTempDirs = false;

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
  if (!keepTempDirs) for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    keepTempDirs = true;
    killAll();
    process.exit(130);
  });
}

export function keepWorkDirOnExit(): void {
  keepTempDirs = true;
}

export function workDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** dist/, migrations/ and package.json copied into `dir`, with node_modules linked: a build that cannot change under us. */
function snapshotBuild(dir: string): string {
  const root = join(dir, 'build');
  mkdirSync(root);
  cpSync(join(ROOT, 'dist'), join(root, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'migrations'), join(root, 'migrations'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(root, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
  return join(root, 'dist', 'cli', 'main.js');
}

/** Resident memory (VmRSS) in MiB and open descriptors of a live process, from /proc (Linux). */
export interface ProcessSample {
  rssMiB: number;
  fds: number;
}

export function sampleProcess(pid: number): ProcessSample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
  return { rssMiB: kib / 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
}

/** One run of the server process, from start to SIGKILL or SIGTERM. */
export interface Incarnation {
  number: number;
  pid: number;
  /** ms from spawn to the "serving" line. */
  startMs: number;
  /** performance.now() at the "serving" line. */
  servedAt: number;
  /** Right after start, before the load reaches it. */
  fresh: ProcessSample;
  /** After warm-up, under load. */
  warm?: ProcessSample;
  /** At the end of its life under load, just before it was stopped (or as the load stopped). */
  last?: ProcessSample;
  /** Every SAMPLE_EVERY_MS of its life: seconds since it served, and the sample. */
  series: (ProcessSample & { ageS: number })[];
  /** Its age (s) when the load stopped, if it did before the process ended (0: it never had load). */
  loadedUntilS?: number;
  /** How it ended: 'SIGKILL', or the ms a SIGTERM took to end it. */
  ended?: string;
}

export interface ServerOptions {
  port: number;
  idleTimeout: string;
  operationDelay: string;
}

export class SoakServer {
  readonly dataDir: string;
  readonly logPath: string;
  readonly incarnations: Incarnation[] = [];
  private readonly main: string;
  private readonly log: WriteStream;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(private readonly options: ServerOptions) {
    const dir = workDir('devconnect-soak-');
    this.main = snapshotBuild(dir);
    this.dataDir = join(dir, 'data');
    this.logPath = join(dir, 'server.log');
    this.log = createWriteStream(this.logPath, { flags: 'a' });
  }

  get url(): string {
    return `http://127.0.0.1:${this.options.port}`;
  }

  get current(): Incarnation | undefined {
    return this.incarnations.at(-1);
  }

  /** Starts an incarnation and resolves once it serves; a port still held by the last one is retried. */
  async start(): Promise<Incarnation> {
    let lastError: Error | undefined;
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        return await this.spawnOnce();
      } catch (error) {
        lastError = error as Error;
        if (!/EADDRINUSE/.test(lastError.message)) break;
        await new Promise((done) => setTimeout(done, 500));
      }
    }
    throw lastError ?? new Error('the server did not start');
  }

  private spawnOnce(): Promise<Incarnation> {
    const { port, idleTimeout, operationDelay } = this.options;
    const args = [this.main, 'serve', '--host', '127.0.0.1', '--port', String(port), '--data-dir', this.dataDir, '--auth', 'none'];
    args.push('--operation-delay', operationDelay, '--idle-timeout', idleTimeout, '--log-level', 'info');
    const started = performance.now();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid === undefined) return Promise.reject(new Error('spawn failed'));
    const pid = child.pid;
    alive.set(pid, child);
    this.child = child;
    this.exited = new Promise<void>((done) => child.once('exit', () => done()));
    void this.exited.then(() => alive.delete(pid));
    const number = this.incarnations.length + 1;
    this.log.write(`--- incarnation ${number}, pid ${pid}\n`);
    let stderrTail = '';
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      this.log.write(text);
      stderrTail = (stderrTail + text).slice(-4_000);
    });
    return new Promise<Incarnation>((done, fail) => {
      let stdout = '';
      const timer = setTimeout(() => fail(new Error(`the server did not serve within 60 s: ${stderrTail}`)), 60_000);
      const exitedAtStart = (code: number | null, signal: NodeJS.Signals | null): void => {
        clearTimeout(timer);
        fail(new Error(`the server exited at start (${signal ?? code}): ${stderrTail}`));
      };
      child.once('exit', exitedAtStart);
      child.stdout?.setEncoding('utf8').on('data', (text: string) => {
        stdout += text;
        if (!/serving gRPC and REST/.test(stdout)) return;
        clearTimeout(timer);
        child.off('exit', exitedAtStart);
        child.stdout?.removeAllListeners('data').resume();
        const servedAt = performance.now();
        const incarnation: Incarnation = { number, pid, startMs: servedAt - started, servedAt, fresh: sampleProcess(pid), series: [] };
        this.incarnations.push(incarnation);
        const every = setInterval(() => {
          try {
            const now = sampleProcess(pid);
            if (Number.isFinite(now.rssMiB)) incarnation.series.push({ ageS: (performance.now() - servedAt) / 1000, ...now });
          } catch {
            // it has just died (SIGKILL)
          }
        }, SAMPLE_EVERY_MS);
        void this.exited.then(() => clearInterval(every));
        done(incarnation);
      });
    });
  }

  /** The live incarnation's memory and descriptors now. */
  sampleNow(): ProcessSample | undefined {
    const incarnation = this.current;
    if (!incarnation || !this.child || this.child.exitCode !== null || this.child.signalCode !== null) return undefined;
    return sampleProcess(incarnation.pid);
  }

  /** Samples the live incarnation into `field`. */
  sample(field: 'warm' | 'last'): ProcessSample | undefined {
    const now = this.sampleNow();
    if (now && this.current) this.current[field] = now;
    return now;
  }

  /** SIGKILL, by PID, and wait until it is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    this.sample('last');
    process.kill(child.pid, 'SIGKILL');
    await this.exited;
    if (this.current) this.current.ended = 'SIGKILL';
  }

  /** SIGTERM, as an operator stops it; SIGKILL after `graceMs`. Resolves with the ms it took to exit, or undefined if it had to be killed. */
  async stop(graceMs = 20_000): Promise<number | undefined> {
    const child = this.child;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return 0;
    // A sample taken as the load stopped stays its last one under load.
    if (this.current?.last === undefined) this.sample('last');
    const pid = child.pid;
    const started = performance.now();
    process.kill(pid, 'SIGTERM');
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      process.kill(pid, 'SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
    const took = performance.now() - started;
    if (this.current) this.current.ended = killed ? `SIGTERM ignored for ${graceMs / 1000} s: SIGKILL` : `SIGTERM, exit in ${Math.round(took)} ms`;
    return killed ? undefined : took;
  }

  closeLog(): Promise<void> {
    return new Promise((done) => this.log.end(done));
  }
}
