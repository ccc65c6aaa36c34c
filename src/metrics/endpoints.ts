import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';
import type { Readiness } from './readiness.js';

export const METRICS_PATH = '/metrics';
export const HEALTHZ_PATH = '/healthz';
export const READYZ_PATH = '/readyz';

/**
 * `GET /metrics` (Prometheus text format), `GET /healthz` (liveness: answered while the process
 * serves) and `GET /readyz` (readiness: 503 while the store is unreachable or the server shuts
 * down), as Prometheus and Kubernetes expect them: plain text, no credentials.
 */
export class ObservabilityEndpoints {
  constructor(
    private readonly metrics: Metrics,
    private readonly readiness: Readiness,
    private readonly log: Logger,
  ) {}

  /** The path of a request, when it is one of these endpoints. */
  static pathOf(url: string): string | undefined {
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    return path === METRICS_PATH || path === HEALTHZ_PATH || path === READYZ_PATH ? path : undefined;
  }

  /** Answers a request to one of the endpoints; `metrics: false` refuses /metrics (served on --metrics-port instead). */
  handle(req: IncomingMessage, res: ServerResponse, path: string, serve: { metrics: boolean }): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, `${path} answers GET only.\n`, { allow: 'GET, HEAD' });
    if (path === HEALTHZ_PATH) return text(res, 200, 'ok\n');
    if (path === READYZ_PATH) {
      this.readiness.check().then(
        (verdict) => (verdict.ready ? text(res, 200, 'ok\n') : text(res, 503, `not ready: ${verdict.reason}\n`)),
        (error: unknown) => this.failed(res, error),
      );
      return;
    }
    if (!serve.metrics) return text(res, 404, 'Under --auth jwt, /metrics is served on --metrics-port only.\n');
    this.metrics.text().then(
      (body) => text(res, 200, body, { 'content-type': this.metrics.contentType }),
      (error: unknown) => this.failed(res, error),
    );
  }

  private failed(res: ServerResponse, error: unknown): void {
    this.log.error({ err: error }, 'could not answer a metrics or health request');
    text(res, 500, 'internal error\n');
  }
}

function text(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/**
 * The `--metrics-port` listener: the endpoints alone, on a port of their own, so that under
 * `--auth jwt` Prometheus scrapes without a token while the API port keeps /metrics closed.
 */
export async function listenForMetrics(endpoints: ObservabilityEndpoints, host: string, port: number): Promise<{ address: AddressInfo; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = ObservabilityEndpoints.pathOf(req.url ?? '/');
    if (path) endpoints.handle(req, res, path, { metrics: true });
    else text(res, 404, `Not found: this port serves ${METRICS_PATH}, ${HEALTHZ_PATH} and ${READYZ_PATH}.\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
