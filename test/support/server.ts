import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server.js';

export interface TestServer extends RunningServer {
  dataDir: string;
  /** Stops the server and removes its data directory. */
  stop(): Promise<void>;
}

/** A real server on a free 127.0.0.1 port with its own SQLite data directory. */
export async function startTestServer(
  options: Partial<Omit<ServerOptions, 'host' | 'port'>> = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'devconnect-test-'));
  const server = await startServer({ ...options, host: '127.0.0.1', port: 0, dataDir, operationDelayMs: options.operationDelayMs ?? 0, auth: options.auth ?? 'none' });
  return {
    ...server,
    dataDir,
    stop: async () => {
      await server.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface JsonResponse {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** One REST call with plain fetch: what a user with curl sees. */
export async function rest(base: string, method: string, path: string, body?: unknown): Promise<JsonResponse> {
  const response = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), headers: response.headers };
}

export const PARENT = 'projects/demo/locations/us-central1';

/**
 * Follows nextPageToken through every page of a REST List call (`path` may carry a query) and
 * returns the names of the `field` items in order, with the number of pages.
 */
export async function listAllPages(base: string, path: string, field: string): Promise<{ names: string[]; pages: number }> {
  const names: string[] = [];
  let token = '';
  let pages = 0;
  do {
    const res = await rest(base, 'GET', `${path}${path.includes('?') ? '&' : '?'}pageToken=${encodeURIComponent(token)}`);
    if (res.status !== 200) throw new Error(`list failed: ${res.status} ${JSON.stringify(res.body)}`);
    names.push(...((res.body[field] as { name: string }[] | undefined) ?? []).map((item) => item.name));
    token = (res.body.nextPageToken as string | undefined) ?? '';
    pages++;
  } while (token !== '');
  return { names, pages };
}

/** Starts CreateConnection over REST and returns the operation. */
export async function createConnection(base: string, id: string, parent = PARENT): Promise<Record<string, unknown>> {
  const res = await rest(base, 'POST', `/v1/${parent}/connections?connectionId=${id}`, {
    githubConfig: { githubApp: 'DEVELOPER_CONNECT' },
  });
  if (res.status !== 200) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Polls GetOperation until done (tests only; the server itself never polls). */
export async function untilDone(base: string, name: string, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const res = await rest(base, 'GET', `/v1/${name}`);
    if (res.body.done === true) return res.body;
    if (Date.now() > end) throw new Error(`operation ${name} not done after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Sets the policy of a project as the given principal (e.g. the bootstrap owner) and fails the test unless it is stored. */
export async function grantRoles(
  server: TestServer,
  token: string,
  project: string,
  bindings: { role: string; members: string[] }[],
): Promise<void> {
  const response = await fetch(`${server.url}/v1/projects/${project}:setIamPolicy`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ policy: { bindings } }),
  });
  if (response.status !== 200) throw new Error(`setIamPolicy failed: ${response.status} ${await response.text()}`);
}
