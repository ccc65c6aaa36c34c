import type { IncomingMessage, ServerResponse } from 'node:http';
import { toJson, type DescMessage, type DescService, type JsonObject, type Message } from '@bufbuild/protobuf';
import type { Logger } from 'pino';
import { ApiError, Code } from '../api/errors.js';
import type { MethodTable } from '../api/methods.js';
import type { CallContext } from '../api/context.js';
import type { Authenticator, Principal } from '../auth/principal.js';
import { StatusSchema } from '../gen/google/rpc/status_pb.js';
import { registry } from '../proto/registry.js';
import { httpRoutes, type HttpRoute } from './http-rules.js';
import { httpStatusOf, toStatus } from './status.js';
import { transcode } from './transcode.js';

const MAX_BODY_BYTES = 1024 * 1024;

export interface TokenResponse {
  status: number;
  headers: Record<string, string>;
  body: object;
}

/** REST/JSON over HTTP/1.1: routes from the google.api.http rules, errors as AIP-193 JSON. */
export class RestTransport {
  private readonly routes: Map<string, HttpRoute[]>;

  constructor(
    services: readonly DescService[],
    private readonly methods: MethodTable,
    private readonly authenticator: Authenticator,
    private readonly log: Logger,
    /** `POST /token`, the OAuth 2.0 token endpoint; it authenticates its callers itself. */
    private readonly token?: (contentType: string | undefined, body: string) => Promise<TokenResponse>,
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
    let enumAsInteger = false;
    try {
      // The URL is split by hand: `new URL` costs more than the rest of a cached GetOperation.
      const target = req.url ?? '/';
      const q = target.indexOf('?');
      const path = q < 0 ? target : target.slice(0, q);
      const query = new URLSearchParams(q < 0 ? '' : target.slice(q + 1));
      if (path === '/token' && req.method === 'POST' && this.token) {
        const answer = await this.token(req.headers['content-type'], await readBody(req));
        res.writeHead(answer.status, answer.headers).end(JSON.stringify(answer.body));
        return;
      }
      const found = this.match(req.method ?? 'GET', path);
      const principal = await this.authenticator.authenticate(req.headers.authorization, req.socket);
      const body = hasBody(req) ? await readBody(req) : '';
      const call = transcode(found.route, found.captures, query, body);
      enumAsInteger = call.enumAsInteger;
      const response = await this.methods.call(found.route.method, call.request, callContext(res, principal));
      sendText(res, 200, encodeJson(found.route.method.output, response, enumAsInteger));
    } catch (error) {
      const status = toStatus(error, this.log);
      const json = toJson(StatusSchema, status, { registry, enumAsInteger }) as JsonObject;
      // RFC 6750: a refused credential is answered with a Bearer challenge.
      // RFC 6750 §3.1: no error code when the request carried no credentials at all.
      if (status.code === Code.UNAUTHENTICATED) {
        const missing = error instanceof ApiError && error.errorInfo?.reason === 'CREDENTIALS_MISSING';
        res.setHeader('www-authenticate', missing ? 'Bearer realm="devconnect-emulator"' : 'Bearer realm="devconnect-emulator", error="invalid_token"');
      }
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

/** Whether the request announces a body (RFC 9112 §6.3); without one there is nothing to read. */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * The call context of a REST request. Its signal aborts when the client goes away before the
 * answer is written; it is made only when a method reads it, as most never do.
 */
function callContext(res: ServerResponse, principal: Principal): CallContext {
  let controller: AbortController | undefined;
  return {
    principal,
    get signal(): AbortSignal {
      if (!controller) {
        const c = new AbortController();
        controller = c;
        res.once('close', () => {
          if (!res.writableFinished) c.abort(new Error('client went away'));
        });
      }
      return controller.signal;
    },
  };
}

// Responses that are shared and frozen (cached done operations) are encoded once per encoding.
const encoded = [new WeakMap<Message, string>(), new WeakMap<Message, string>()];

function encodeJson(schema: DescMessage, message: Message, enumAsInteger: boolean): string {
  const memo = encoded[enumAsInteger ? 1 : 0] as WeakMap<Message, string>;
  let text = memo.get(message);
  if (text === undefined) {
    text = JSON.stringify(toJson(schema, message, { registry, enumAsInteger }));
    memo.set(message, text);
  }
  return text;
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
  sendText(res, status, JSON.stringify(body));
}

function sendText(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
