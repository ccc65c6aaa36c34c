/**
 * Real server processes (the built CLI, `dist/cli/main.js`), for tests that kill them or run
 * several at once. Every process started here is SIGKILLed when the test file ends, if still running.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What it wrote to stderr so far (its log). */
  stderr(): string;
  /** What it wrote to stdout so far (the start-up lines). */
  stdout(): string;
}

const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
});

/** `npm test` builds dist/ before it runs the test files; a test file run on its own builds it here. */
let built = process.env.DEVCONNECT_TEST_BUILT === '1';
/** Builds dist/ once per test process, so the processes run what the sources say. */
export function buildOnce(): void {
  if (built) return;
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'pipe' });
  built = true;
}

/** Starts `devconnect-emulator serve --host 127.0.0.1 --port 0 ARGS…` and resolves once it prints its URL. */
export function serveProcess(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<ServerProcess> {
  buildOnce();
  const child = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server not ready after 60 s:\n${stdout}\n${stderr}`)), 60_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /serving gRPC and REST on (http:\/\/127\.0\.0\.1:\d+) /.exec(stdout);
      if (match) {
        clearTimeout(timer);
        // The lines printed after the URL line come in the same turn or the next few: give them a moment.
        setTimeout(() => resolve({ child, url: match[1]!, exited, stderr: () => stderr, stdout: () => stdout }), 100);
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before it was ready:\n${stderr}`));
    });
  });
}

/** Sends `signal` and resolves with how the process ended. */
export async function killProcess(server: ServerProcess, signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (server.child.exitCode === null && server.child.signalCode === null) process.kill(server.child.pid!, signal);
  return server.exited;
}
