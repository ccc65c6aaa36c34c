/**
 * The real Google Cloud CLI as a process, with a private configuration folder (CLOUDSDK_CONFIG), so
 * tests never read or change the user's ~/.config/gcloud.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The gcloud these tests run: google-cloud-cli 528 from Debian's package, unless DEVCONNECT_TEST_GCLOUD names another. */
export const GCLOUD = process.env.DEVCONNECT_TEST_GCLOUD ?? '/usr/bin/gcloud';

/** Why gcloud tests cannot run here, or false when they can. */
export function gcloudMissing(): string | false {
  return existsSync(GCLOUD) ? false : `gcloud is not installed at ${GCLOUD}: install google-cloud-cli (or set DEVCONNECT_TEST_GCLOUD) to run the gcloud tests`;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A process's outcome, printed in assertion messages. */
export const show = (run: Run): string => `exit ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;

function exec(file: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env, cwd, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const ended = error?.signal ? `\n[${file} ${args.join(' ')} was ended by ${error.signal}${error.killed ? ' after 300 s' : ''}]` : '';
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr: stderr + ended });
    });
  });
}

/**
 * A private gcloud home: every process started through it has CLOUDSDK_CONFIG set to a new temporary
 * folder, no update checks or metadata-server probes, and none of the caller's CLOUDSDK_* settings or
 * Google credentials.
 */
export class GcloudHome {
  readonly dir = mkdtempSync(join(tmpdir(), 'devconnect-gcloud-'));
  readonly env: NodeJS.ProcessEnv;

  constructor(extraEnv: Record<string, string> = {}) {
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('CLOUDSDK_') && name !== 'GOOGLE_APPLICATION_CREDENTIALS'),
    );
    this.env = {
      ...inherited,
      PATH: `${dirname(GCLOUD)}:${process.env.PATH ?? ''}`,
      CLOUDSDK_CONFIG: this.dir,
      CLOUDSDK_CORE_CHECK_GCE_METADATA: 'false',
      CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: 'true',
      CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: 'true',
      CLOUDSDK_SURVEY_DISABLE_PROMPTS: 'true',
      CLOUDSDK_CORE_DISABLE_FILE_LOGGING: 'true',
      ...extraEnv,
    };
  }

  /** `gcloud ARGS --quiet` (never prompts; delete commands go ahead), with `env` added to this home's environment. */
  gcloud(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
    return exec(GCLOUD, [...args, '--quiet'], { ...this.env, ...env });
  }

  /**
   * Starts `gcloud ARGS --quiet`; `onStderr` sees its standard error as it comes, so a test can act
   * while the command runs (e.g. once `operations wait` says it is waiting).
   */
  gcloudWhile(args: readonly string[], env: Record<string, string>, onStderr: (soFar: string) => void): Promise<Run> {
    const child = spawn(GCLOUD, [...args, '--quiet'], { env: { ...this.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      onStderr(stderr);
    });
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
  }

  /** `devconnect-emulator ARGS` from source, with this home's environment (its gcloud finds this CLOUDSDK_CONFIG). */
  cli(args: readonly string[]): Promise<Run> {
    return exec(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], this.env, ROOT);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The name of the operation in a JSON Operation that gcloud printed (`--async --format json`). */
export function operationName(run: Run): string {
  const name = (JSON.parse(run.stdout) as { name?: unknown }).name;
  if (typeof name !== 'string') throw new Error(`no operation name in gcloud's output:\n${show(run)}`);
  return name;
}

/**
 * Two Google APIs that `gcloud developer-connect insights-configs create` and `update` call before
 * they call Developer Connect, and that the emulator does not serve: App Hub's ListWorkloads (here an
 * application without workloads, so gcloud discovers nothing) and Service Usage's
 * GenerateServiceIdentity (here Developer Connect's service agent, as a done operation). Every
 * request is recorded, so a test can show gcloud made them.
 */
export interface OtherGoogleApis {
  url: string;
  requests: string[];
  close(): Promise<void>;
}

export async function startOtherGoogleApis(): Promise<OtherGoogleApis> {
  const requests: string[] = [];
  const server: Server = createServer((request, response) => {
    const line = `${request.method} ${request.url}`;
    requests.push(line);
    request.resume();
    response.setHeader('content-type', 'application/json');
    if (request.method === 'GET' && /^\/v1\/projects\/[^/]+\/locations\/[^/]+\/applications\/[^/]+\/workloads\?/.test(request.url ?? '')) {
      response.end(JSON.stringify({ workloads: [] }));
    } else if (request.method === 'POST' && /^\/v1beta1\/projects\/[^/]+\/services\/[^/:]+:generateServiceIdentity/.test(request.url ?? '')) {
      const identity = { '@type': 'type.googleapis.com/google.api.serviceusage.v1beta1.ServiceIdentity', email: 'service-1@gcp-sa-devconnect.iam.gserviceaccount.com', uniqueId: '1' };
      response.end(JSON.stringify({ name: 'operations/generate-service-identity', done: true, response: identity }));
    } else {
      response.statusCode = 404;
      response.end(JSON.stringify({ error: { code: 404, status: 'NOT_FOUND', message: `not served here: ${line}` } }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
