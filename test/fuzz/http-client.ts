import { Agent, request } from 'node:http';
import type { HttpAnswer } from './harness.js';

export interface RawRequest {
  method: string;
  /** The request target exactly as sent: path and query, already percent-encoded. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/**
 * Sends one HTTP/1.1 request as given (fetch would normalize the path and add headers) over a
 * kept-alive connection, and reads the whole answer.
 */
export class RawHttpClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });

  constructor(private readonly port: number) {}

  send(r: RawRequest): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { ...r.headers };
      if (r.body !== undefined) headers['content-length'] = Buffer.byteLength(r.body);
      const req = request({ host: '127.0.0.1', port: this.port, method: r.method, path: r.path, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(r.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
