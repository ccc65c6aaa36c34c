import { CLOUD_PLATFORM_SCOPE } from '../../src/auth/principal.js';
import { TokenSigningKey } from '../../src/auth/signing-key.js';
import { PARENT, type TestServer } from '../support/server.js';

export const OWNER = 'user:admin@localhost';

/** Tokens the server accepts, signed with its own key (as `devconnect-emulator token` does). */
export async function tokenMinter(server: TestServer): Promise<(member: string) => Promise<string>> {
  const key = await TokenSigningKey.load(server.store);
  return async (member) => (await key.sign({ member, scopes: [CLOUD_PLATFORM_SCOPE], ttlSeconds: 3600 })).token;
}

/** Starts CreateConnection as the token's principal and returns the operation's name. */
export async function startCreate(server: TestServer, token: string, id: string, parent = PARENT): Promise<string> {
  const response = await fetch(`${server.url}/v1/${parent}/connections?connectionId=${id}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ githubConfig: { githubApp: 'DEVELOPER_CONNECT' } }),
  });
  const body = (await response.json()) as { name?: string };
  if (response.status !== 200 || !body.name) throw new Error(`create failed: ${response.status} ${JSON.stringify(body)}`);
  return body.name;
}

export interface OperationJson {
  name: string;
  done?: boolean;
  error?: { code?: number; message?: string };
  metadata?: { requestedCancellation?: boolean };
}

export async function getOperation(server: TestServer, token: string, name: string): Promise<OperationJson> {
  const response = await fetch(`${server.url}/v1/${name}`, { headers: { authorization: `Bearer ${token}` } });
  if (response.status !== 200) throw new Error(`get failed: ${response.status} ${await response.text()}`);
  return (await response.json()) as OperationJson;
}

/** Polls GetOperation until `done` (tests only). */
export async function untilDone(server: TestServer, token: string, name: string, timeoutMs = 10_000): Promise<OperationJson> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const op = await getOperation(server, token, name);
    if (op.done) return op;
    if (Date.now() > end) throw new Error(`${name} not done after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** An open server-sent events stream, read as it arrives. */
export interface EventStream {
  status: number;
  body: string;
  /** Resolves with the first `data:` of an event named `event` that satisfies `match`. */
  next(event: string, match: (data: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Every event received so far. */
  received(): { event: string; data: Record<string, unknown> }[];
  close(): void;
}

export async function openEvents(server: TestServer, parent: string, headers: Record<string, string>): Promise<EventStream> {
  const abort = new AbortController();
  const response = await fetch(`${server.url}/console/api/events?parent=${encodeURIComponent(parent)}`, { headers, signal: abort.signal });
  if (response.status !== 200 || !response.body) {
    return { status: response.status, body: await response.text(), next: () => Promise.reject(new Error('no stream')), received: () => [], close: () => undefined };
  }
  const events: { event: string; data: Record<string, unknown> }[] = [];
  const waiters = new Set<() => void>();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) as Record<string, unknown> });
          for (const wake of waiters) wake();
        }
      }
    } catch {
      // Aborted by close().
    }
  })();
  return {
    status: response.status,
    body: '',
    received: () => [...events],
    next: (event, match, timeoutMs = 5_000) =>
      new Promise((resolve, reject) => {
        const look = () => {
          const found = events.find((e) => e.event === event && match(e.data));
          if (!found) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found.data);
          return true;
        };
        const check = () => void look();
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no '${event}' event matched within ${timeoutMs} ms; got ${JSON.stringify(events)}`));
        }, timeoutMs);
        if (!look()) waiters.add(check);
      }),
    close: () => abort.abort(),
  };
}
