import type { IncomingMessage, ServerResponse } from 'node:http';
import { toJson, type DescService, type JsonObject } from '@bufbuild/protobuf';
import type { Logger } from 'pino';
import { ApiError, Code } from '../api/errors.js';
import type { MethodTable } from '../api/methods.js';
import type { Authenticator } from '../auth/principal.js';
import { StatusSchema } from '../gen/google/rpc/status_pb.js';
import { registry } from '../proto/registry.js';
import { httpRoutes, type HttpRoute } from './http-rules.js';
import { httpStatusOf, toStatus } from './status.js';
import { transcode } from './transcode.js';

const MAX_BODY_BYTES = 1024 * 1024;

/** REST/JSON over HTTP/1.1: routes from the google.api.http rules, errors as AIP-193 JSON. */
export class RestTransport {
  private readonly routes: Map<string, HttpRoute[]>;

  constructor(
    services: readonly DescService[],
    private readonly methods: MethodTable,
    private readonly authenticator: Authenticator,
    private readonly log: Logger,
  ) {
    this.routes = new Map();
    for (const route of httpRoutes(services)) {
      const list = this.routes.get(route.httpMethod) ?? [];
      list.push(route);
      this.routes.set(route.httpMethod, list);
    }
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.serve(req, res).catch((error: unknown) => this.log.error({ err: error }, 'failed to answer a REST request'));
  };

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort(new Error('client went away'));
    });
    let enumAsInteger = false;
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const found = this.match(req.method ?? 'GET', url.pathname);
      const principal = await this.authenticator.authenticate(req.headers.authorization);
      const body = await readBody(req);
      const call = transcode(found.route, found.captures, url.searchParams, body);
      enumAsInteger = call.enumAsInteger;
      const response = await this.methods.call(found.route.method, call.request, { signal: controller.signal, principal });
      send(res, 200, toJson(found.route.method.output, response, { registry, enumAsInteger }));
    } catch (error) {
      const status = toStatus(error, this.log);
      const json = toJson(StatusSchema, status, { registry, enumAsInteger }) as JsonObject;
      // RFC 6750: a refused credential is answered with a Bearer challenge.
      if (status.code === Code.UNAUTHENTICATED) res.setHeader('www-authenticate', 'Bearer realm="devconnect-emulator", error="invalid_token"');
      send(res, httpStatusOf(status.code), {
        error: { code: httpStatusOf(status.code), message: status.message, status: Code[status.code], details: json.details ?? [] },
      });
    }
  }

  private match(httpMethod: string, path: string): { route: HttpRoute; captures: string[] } {
    for (const route of this.routes.get(httpMethod) ?? []) {
      const m = route.pattern.exec(path);
      if (m) return { route, captures: m.slice(1) };
    }
    throw new ApiError(Code.NOT_FOUND, `No method serves ${httpMethod} ${path}.`, { reason: 'METHOD_NOT_FOUND' });
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the limit the rest is drained and dropped, so the error can still be answered.
      if (size > MAX_BODY_BYTES) {
        chunks.length = 0;
        reject(ApiError.invalidArgument(`The request body is larger than ${MAX_BODY_BYTES} bytes.`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
