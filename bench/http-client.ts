import { Agent, request } from 'node:http';

export interface Reply {
  status: number;
  body: string;
}

/**
 * A small keep-alive JSON client on node:http. It was measured against fetch (undici) as the
 * lifecycle load generator: http.request on a keep-alive Agent costs the load generator less CPU per call.
 */
export class HttpClient {
  readonly agent: Agent;
  private readonly host: string;
  private readonly port: number;

  /** `headers` are sent with every call (e.g. `authorization`). */
  constructor(
    baseUrl: string,
    maxSockets: number,
    private readonly headers: Record<string, string> = {},
  ) {
    const url = new URL(baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port);
    this.agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'fifo' });
  }

  call(method: string, path: string, body?: string): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      const headers: Record<string, string | number> = { ...this.headers };
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const req = request({ host: this.host, port: this.port, method, path, headers, agent: this.agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** One call that must answer 200 with a JSON object. */
export async function callJson(client: HttpClient, method: string, path: string, body?: string): Promise<Record<string, unknown>> {
  const reply = await client.call(method, path, body);
  if (reply.status !== 200) throw new Error(`${method} ${path}: HTTP ${reply.status} ${reply.body.slice(0, 300)}`);
  return JSON.parse(reply.body) as Record<string, unknown>;
}
