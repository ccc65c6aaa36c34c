/**
 * The soak's REST client: one keep-alive connection per client, and a tally of every answer. A call
 * that gets no answer (connection refused or reset while the server is down, or no answer within
 * the timeout) is not an answer: it is counted apart from 5xx, and nothing it asked for counts as done.
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

export type Json = Record<string, unknown>;

export interface Answer {
  status: number;
  json: Json;
}

/** What every client saw, by call kind. */
export class Tally {
  /** `kind status` → count, e.g. `create 200`, `get 404`, `cancel no answer: ECONNREFUSED`. */
  readonly counts = new Map<string, number>();
  /** The first few 5xx answers, as seen, to report them. */
  readonly serverErrors: string[] = [];
  /** ms of every answered call, by kind. */
  readonly latencies = new Map<string, number[]>();
  fiveHundreds = 0;
  noAnswer = 0;
  answered = 0;

  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
}

const TIMEOUT_MS = 30_000;

export class RestClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private readonly port: number;

  constructor(
    baseUrl: string,
    private readonly tally: Tally,
  ) {
    this.port = Number(new URL(baseUrl).port);
  }

  /** The answer, or undefined when there was none. */
  async call(kind: string, method: string, path: string, body?: Json): Promise<Answer | undefined> {
    const started = performance.now();
    try {
      const answer = await this.send(method, path, body);
      const took = performance.now() - started;
      const latencies = this.tally.latencies.get(kind) ?? [];
      latencies.push(took);
      this.tally.latencies.set(kind, latencies);
      this.tally.answered++;
      this.tally.add(`${kind} ${answer.status}`);
      if (answer.status >= 500) {
        this.tally.fiveHundreds++;
        if (this.tally.serverErrors.length < 10) this.tally.serverErrors.push(`${method} ${path} → ${answer.status} ${JSON.stringify(answer.json).slice(0, 300)}`);
      }
      return answer;
    } catch (error) {
      this.tally.noAnswer++;
      this.tally.add(`${kind} no answer: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      return undefined;
    }
  }

  private send(method: string, path: string, body?: Json): Promise<Answer> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<Answer>((done, fail) => {
      const headers: Record<string, string | number> = {};
      if (payload !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(payload);
      }
      const req = request({ host: '127.0.0.1', port: this.port, method, path, headers, agent: this.agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('error', fail);
        res.on('end', () => {
          let json: Json;
          try {
            const parsed: unknown = text === '' ? {} : JSON.parse(text);
            json = typeof parsed === 'object' && parsed !== null ? (parsed as Json) : { value: parsed };
          } catch {
            json = { unparsed: text.slice(0, 300) };
          }
          done({ status: res.statusCode ?? 0, json });
        });
      });
      req.setTimeout(TIMEOUT_MS, () => req.destroy(Object.assign(new Error('no answer in 30 s'), { code: 'TIMEOUT' })));
      req.on('error', fail);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
