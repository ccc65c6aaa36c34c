import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { toJson, type DescMessage, type DescMethod, type DescService, type Message } from '@bufbuild/protobuf';
import type { Logger } from 'pino';
import { ApiError, Code } from '../common/errors.js';
import type { MethodTable } from '../api/methods.js';
import type { Authenticator, Principal } from '../auth/principal.js';
import { OperationSchema, type Operation } from '../gen/google/longrunning/operations_pb.js';
import { registry } from '../proto/registry.js';
import { andThen, type MaybePromise } from '../common/maybe-promise.js';
import type { CallObserver } from './call-observer.js';
import { LazyCallContext } from './call-context.js';
import { httpRoutes } from './http-rules.js';
import { operationToJson } from './operation-json.js';
import { RouteTable, type RouteMatch } from './route-table.js';
import { ClientCancelled, errorJson, httpStatusOf, toStatus } from './status.js';

const MAX_BODY_BYTES = 1024 * 1024;

export interface TokenResponse {
  status: number;
  headers: Record<string, string>;
  body: object;
}

/** REST/JSON over HTTP/1.1: routes from the google.api.http rules, errors as AIP-193 JSON. */
export class RestTransport {
  private readonly routes: RouteTable;

  constructor(
    services: readonly DescService[],
    private readonly methods: MethodTable,
    private readonly authenticator: Authenticator,
    private readonly log: Logger,
    /** `POST /token`, the OAuth 2.0 token endpoint; it authenticates its callers itself. */
    private readonly token?: (contentType: string | undefined, body: string) => Promise<TokenResponse>,
    private readonly observer?: CallObserver,
  ) {
    this.routes = new RouteTable(httpRoutes(services));
  }

  /**
   * Answers one request. A call whose every step can answer at once (no body to read, a
   * remembered credential, a cached result: a polled GetOperation) is answered in this turn,
   * with no promise made; the others continue asynchronously.
   */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now();
    // Known once the route is: a request no method serves is reported to no observer.
    let method: DescMethod | undefined;
    try {
      // node:http parses any `HTTP/d.d` request line; this port speaks HTTP/2 only after its preface.
      if (req.httpVersionMajor !== 1) {
        res.shouldKeepAlive = false;
        throw ApiError.invalidArgument(`The request line claims HTTP/${req.httpVersion}, but it came over HTTP/1.x; HTTP/2 starts with its connection preface (RFC 9113 §3.4).`);
      }
      if (req.method === 'POST' && this.token && /^\/token(\?|$)/.test(req.url ?? '')) {
        this.serveToken(req, res, this.token).catch((error: unknown) => this.failSafely(res, error));
        return;
      }
      // The URL is split by hand: `new URL` costs more than the rest of a cached GetOperation.
      const target = req.url ?? '/';
      const q = target.indexOf('?');
      const path = q < 0 ? target : target.slice(0, q);
      const httpMethod = req.method ?? 'GET';
      const found = this.routes.match(httpMethod, path);
      if (!found) throw new ApiError(Code.NOT_FOUND, `No method serves ${httpMethod} ${path}.`, { reason: 'METHOD_NOT_FOUND' });
      method = found.route.method;
      const reply = this.dispatch(req, res, found, q < 0 ? undefined : queryParameters(target.slice(q + 1)));
      if (!(reply instanceof Promise)) {
        sendEncoded(res, 200, reply);
        return this.ended(method, started, Code.OK, undefined);
      }
      const called = method;
      reply
        .then((encoded) => {
          sendEncoded(res, 200, encoded);
          this.ended(called, started, Code.OK, undefined);
        })
        .catch((error: unknown) => this.ended(called, started, this.failSafely(res, error), error));
    } catch (error) {
      this.ended(method, started, this.failSafely(res, error), error);
    }
  };

  private ended(method: DescMethod | undefined, started: number, code: Code, error: unknown): void {
    if (method) this.observer?.callEnded(method, 'rest', code, (performance.now() - started) / 1_000, error);
  }

  /**
   * Answers with the error; if even that fails, logs it and drops the connection rather than the
   * server. Returns the code the call ended with.
   */
  private failSafely(res: ServerResponse, error: unknown): Code {
    try {
      return this.fail(res, error);
    } catch (failure) {
      this.log.error({ err: failure, cause: error }, 'failed to answer a REST request');
      res.destroy();
      return Code.INTERNAL;
    }
  }

  private dispatch(req: IncomingMessage, res: ServerResponse, found: RouteMatch, query: URLSearchParams | undefined): MaybePromise<Encoded> {
    const principal = this.authenticator.authenticate(req.headers.authorization, req.socket);
    const withBody = hasBody(req);
    if (principal instanceof Promise || withBody) {
      return Promise.all([principal, withBody ? readBody(req) : undefined]).then(([who, body]) => this.invoke(found, query, jsonBody(req, body), who, res));
    }
    return this.invoke(found, query, '', principal, res);
  }

  private invoke(found: RouteMatch, query: URLSearchParams | undefined, body: string, principal: Principal, res: ServerResponse): MaybePromise<Encoded> {
    const call = found.binder.bind(found.captures, query, body);
    const output = found.route.method.output;
    const context = new LazyCallContext(principal, (abort) =>
      res.once('close', () => {
        if (!res.writableFinished) abort(new ClientCancelled('The client closed the connection before its answer.'));
      }),
    );
    const response = this.methods.call(found.route.method, call.request, context);
    return andThen(response, (message) => encodeJson(output, message, call.enumAsInteger));
  }

  private async serveToken(req: IncomingMessage, res: ServerResponse, token: NonNullable<RestTransport['token']>): Promise<void> {
    const answer = await token(req.headers['content-type'], (await readBody(req)).toString('utf8'));
    res.writeHead(answer.status, answer.headers).end(JSON.stringify(answer.body));
  }

  private fail(res: ServerResponse, error: unknown): Code {
    const status = toStatus(error, this.log);
    // RFC 6750: a refused credential is answered with a Bearer challenge.
    // RFC 6750 §3.1: no error code when the request carried no credentials at all.
    if (status.code === Code.UNAUTHENTICATED && !res.headersSent) {
      const missing = error instanceof ApiError && error.errorInfo?.reason === 'CREDENTIALS_MISSING';
      res.setHeader('www-authenticate', missing ? 'Bearer realm="devconnect-emulator"' : 'Bearer realm="devconnect-emulator", error="invalid_token"');
    }
    send(res, httpStatusOf(status.code), errorJson(status));
    return status.code;
  }
}

// Decodes a body strictly: by default TextDecoder (and Buffer) put U+FFFD where the bytes are not
// UTF-8, which would store a value the client never sent.
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A REST request body as text. RFC 8259 §8.1 JSON is UTF-8; a body must say it is JSON
 * (`application/json`, with no parameter but `charset=utf-8`), as Google's front end requires,
 * and be valid UTF-8. An empty body needs no media type.
 */
function jsonBody(req: IncomingMessage, raw: Buffer | undefined): string {
  if (raw === undefined || raw.length === 0) return '';
  let text: string;
  try {
    text = UTF8.decode(raw);
  } catch {
    throw ApiError.invalidArgument('The request body is not valid UTF-8; a JSON body must be encoded in UTF-8 (RFC 8259 §8.1).');
  }
  if (text.trim() === '') return text;
  const problem = mediaTypeProblem(req.headers['content-type']);
  if (problem) throw ApiError.invalidArgument(`${problem} A request body must be JSON: send it with Content-Type: application/json.`, 'content-type');
  return text;
}

/** What is wrong with a body's Content-Type for JSON, or undefined when it is right. */
function mediaTypeProblem(contentType: string | undefined): string | undefined {
  if (contentType === undefined || contentType.trim() === '') return 'The request has a body but no Content-Type.';
  const [type = '', ...parameters] = contentType.split(';').map((part) => part.trim());
  if (type.toLowerCase() !== 'application/json') return `Content-Type '${contentType.slice(0, 100)}' is not application/json.`;
  for (const parameter of parameters) {
    if (parameter === '') continue;
    const eq = parameter.indexOf('=');
    const name = parameter.slice(0, eq < 0 ? parameter.length : eq).trim().toLowerCase();
    const value = eq < 0 ? '' : parameter.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
    if (name !== 'charset') return `Content-Type parameter '${parameter.slice(0, 100)}' is not accepted; only charset=utf-8 is.`;
    if (value !== 'utf-8' && value !== 'utf8') return `Content-Type charset '${value.slice(0, 40)}' is not accepted: JSON is UTF-8 (RFC 8259 §8.1).`;
  }
  return undefined;
}

/**
 * The query string's parameters. URLSearchParams alone would read a percent-encoding that is not
 * UTF-8 (`%FF`) as U+FFFD, a value the client never sent: such a query is refused instead.
 */
function queryParameters(query: string): URLSearchParams {
  for (const pair of query.split('&')) {
    try {
      decodeURIComponent(pair.replaceAll('+', ' '));
    } catch {
      throw ApiError.invalidArgument(`The query string has an invalid percent-encoding (not UTF-8): '${pair.slice(0, 100)}'.`);
    }
  }
  return new URLSearchParams(query);
}

/** Whether the request announces a body (RFC 9112 §6.3); without one there is nothing to read. */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** A JSON response body, and the headers that announce it. */
interface Encoded {
  body: string | Buffer;
  headers: OutgoingHttpHeaders;
}

// Frozen responses are shared (cached done operations, see DoneOperations): they are encoded once
// per encoding, to the bytes and headers written for every call that answers them. Others are
// answered once, so a memo would only cost (a WeakMap entry per response).
const encoded = [new WeakMap<Message, Encoded>(), new WeakMap<Message, Encoded>()];

function encodeJson(schema: DescMessage, message: Message, enumAsInteger: boolean): Encoded {
  if (!Object.isFrozen(message)) return encodedText(jsonText(schema, message, enumAsInteger));
  const memo = encoded[enumAsInteger ? 1 : 0] as WeakMap<Message, Encoded>;
  let result = memo.get(message);
  if (result === undefined) {
    const bytes = Buffer.from(jsonText(schema, message, enumAsInteger));
    result = { body: bytes, headers: jsonHeaders(bytes.length) };
    memo.set(message, result);
  }
  return result;
}

function jsonText(schema: DescMessage, message: Message, enumAsInteger: boolean): string {
  const json = schema.typeName === OperationSchema.typeName ? operationToJson(message as Operation, { enumAsInteger }) : toJson(schema, message, { registry, enumAsInteger });
  return JSON.stringify(json);
}

function encodedText(text: string): Encoded {
  return { body: text, headers: jsonHeaders(Buffer.byteLength(text)) };
}

function jsonHeaders(bytes: number): OutgoingHttpHeaders {
  return { 'content-type': 'application/json; charset=utf-8', 'content-length': String(bytes) };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
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
    req.on('end', () => resolve(Buffer.concat(chunks)));
    // The request stream fails only when its connection does: the client went away mid-body.
    req.on('error', (error) => reject(new ClientCancelled('The client closed the connection before sending the whole request body.', error)));
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  sendEncoded(res, status, encodedText(JSON.stringify(body)));
}

function sendEncoded(res: ServerResponse, status: number, body: Encoded): void {
  if (res.headersSent || res.destroyed) return;
  // node:http only reads the headers object, so a memoized one is shared.
  res.writeHead(status, body.headers);
  res.end(body.body);
}
