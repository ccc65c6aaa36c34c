import {
  createServer as createHttpServer,
  maxHeaderSize,
  STATUS_CODES,
  type IncomingMessage,
  type Server as HttpServer,
  type RequestListener,
  type ServerResponse,
} from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { ApiError, Code } from '../common/errors.js';
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from './connection-limits.js';
import { errorJson, statusOf } from './status.js';

/** PEM certificate chain and private key for TLS on the same port. */
export interface TlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
}

// A TLS connection opens with a handshake record, whose first byte is 22.
const TLS_HANDSHAKE = 0x16;

// Every HTTP/2 connection (gRPC) opens with this preface; no HTTP/1.1 request line starts with it.
const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0');

// How long a connection refused for a malformed request is kept reading (and discarding) after the
// answer, so that the client's unread bytes do not make the kernel reset it before the answer is read.
const LINGER_MS = 2_000;

/** node:http's parser errors (llhttp's `HPE_*` codes) and its request timeout, as answers. */
const PARSER_ERRORS: Record<string, { httpStatus: number; code: Code; what: string }> = {
  HPE_HEADER_OVERFLOW: { httpStatus: 431, code: Code.INVALID_ARGUMENT, what: `The request's header block is larger than ${maxHeaderSize} bytes` },
  HPE_INVALID_CONTENT_LENGTH: { httpStatus: 400, code: Code.INVALID_ARGUMENT, what: 'Content-Length must be one decimal number of bytes' },
  HPE_UNEXPECTED_CONTENT_LENGTH: { httpStatus: 400, code: Code.INVALID_ARGUMENT, what: 'Content-Length must be one decimal number of bytes' },
  HPE_INVALID_TRANSFER_ENCODING: { httpStatus: 400, code: Code.INVALID_ARGUMENT, what: 'Transfer-Encoding is not valid' },
  HPE_INVALID_CHUNK_SIZE: { httpStatus: 400, code: Code.INVALID_ARGUMENT, what: 'The chunked request body is malformed' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { httpStatus: 413, code: Code.INVALID_ARGUMENT, what: 'The chunked request body is malformed' },
  ERR_HTTP_REQUEST_TIMEOUT: { httpStatus: 408, code: Code.DEADLINE_EXCEEDED, what: 'The request did not arrive in time' },
};

/**
 * One TCP port for both protocols, as Google's emulators do: each connection's first bytes are
 * read and put back, then HTTP/2 goes to grpc-js and the rest to node:http. With TLS configured,
 * a connection that opens with a TLS handshake is decrypted here and routed by ALPN: `h2` to
 * grpc-js (gRPC clients need TLS to send credentials), anything else to node:http (REST over HTTP/1.1).
 */
export class DualProtocolListener {
  private readonly net: NetServer;
  private readonly http: HttpServer;
  private readonly injector: ReturnType<grpc.Server['createConnectionInjector']>;
  private readonly sockets = new Set<Socket>();
  private readonly tls?: TlsServer;
  /** Each HTTP/1.1 connection's latest response, so a parser error's answer never cuts into it. */
  private readonly responding = new WeakMap<Duplex, ServerResponse>();
  /** HTTP/1.1 connections refused for a malformed request: answered once, then only drained. */
  private readonly refused = new WeakSet<Duplex>();

  constructor(
    grpcServer: grpc.Server,
    rest: RequestListener,
    tls?: TlsOptions,
    private readonly limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS,
  ) {
    const idleMs = limits.idleTimeoutMs;
    // A tls.Server that never listens: it is handed sockets, like the other two. (A server-side
    // TLSSocket made by hand never leaves `secureConnecting`, and http2 then waits forever.)
    if (tls) {
      this.tls = createTlsServer(
        { cert: tls.cert, key: tls.key, ALPNProtocols: ['h2', 'http/1.1'], handshakeTimeout: idleMs },
        (secure) => this.routeSecure(secure),
      );
      this.tls.on('tlsClientError', (_error, socket) => socket.destroy());
    }
    // requireHostHeader: node:http would answer a request without Host with an empty 400 itself.
    // A header block must arrive whole within the idle time, and a request within requestTimeoutMs,
    // however slowly they trickle in (408); node:http checks them every connectionsCheckingInterval.
    this.http = createHttpServer(
      {
        requireHostHeader: false,
        keepAliveTimeout: idleMs,
        headersTimeout: idleMs,
        requestTimeout: limits.requestTimeoutMs,
        connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(idleMs / 4))),
      },
      (req, res) => this.serveHttp(req, res, rest),
    );
    // Until a request's headers are whole, headersTimeout watches the connection. After that, the
    // inactivity timer is armed per request, only where a stall can happen (see serveHttp), not as
    // node:http's server-wide timeout: that one is made anew at every request and refreshed at every
    // read and write, ~0.5 µs of a cached GetOperation's ~13 (#8).
    this.http.on('timeout', (socket: Socket) => this.closeIfIdle(socket));
    this.http.on('clientError', (error: Error, socket: Duplex) => this.refuseMalformed(error, socket));
    // node:http tracks connections (closeIdleConnections, headers/request timeouts) from its own
    // 'listening' event, which a server that is handed sockets never emits: without this, close()
    // waits the whole grace period for every idle keep-alive client.
    this.http.emit('listening');
    this.injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    this.net = createNetServer({ noDelay: true }, (socket) => this.route(socket));
    // Beyond it, node:net closes each new socket as it is accepted: a flood is refused at once
    // rather than queued, and the connections already open keep being served.
    this.net.maxConnections = limits.maxConnections;
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.net.once('error', reject);
      this.net.listen(port, host, () => {
        this.net.off('error', reject);
        resolve(this.net.address() as AddressInfo);
      });
    });
  }

  /** Stops accepting, lets calls in flight finish for up to `graceMs`, then closes what is left. */
  async close(graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.net.close(() => resolve()));
    this.injector.drain(graceMs);
    this.http.closeIdleConnections();
    const deadline = setTimeout(() => {
      for (const socket of this.sockets) socket.destroy();
      this.injector.destroy();
    }, graceMs);
    this.http.close();
    await closed;
    clearTimeout(deadline);
    this.injector.destroy();
  }

  private serveHttp(req: IncomingMessage, res: ServerResponse, rest: RequestListener): void {
    this.responding.set(req.socket, res);
    // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request that lacks a Host header.
    if (req.httpVersion === '1.1' && req.headers.host === undefined) {
      const body = JSON.stringify(errorJson(statusOf(ApiError.invalidArgument('An HTTP/1.1 request must have a Host header (RFC 9112 §3.2).', 'host'))));
      res.writeHead(400, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' }).end(body);
      return;
    }
    rest(req, res);
    // An answer handed whole to the kernel cannot stall: node:http arms its keep-alive timer when
    // it finishes. Anything else (a body still to read, an answer still worked on, or one the
    // client is slow to take) is watched for silence from here until then.
    if (!res.writableEnded || req.socket.writableLength > 0) req.socket.setTimeout(this.limits.idleTimeoutMs);
  }

  /**
   * node:http hands a request it cannot parse (a bad Content-Length, an oversized header block, a
   * bad chunk) here instead of to the REST transport: it is answered with an AIP-193 error, where
   * the connection can still carry one, and the connection is closed.
   */
  private refuseMalformed(error: Error, socket: Duplex): void {
    if (this.refused.has(socket)) return; // the parser reports each later byte again
    const code = 'code' in error && typeof error.code === 'string' ? error.code : '';
    const known = PARSER_ERRORS[code];
    const answering = this.responding.get(socket);
    // Not a malformed request (the connection failed), or an answer is half written: nothing can be said.
    if ((!known && !code.startsWith('HPE_')) || !socket.writable || (answering?.headersSent && !answering.writableFinished)) {
      socket.destroy();
      return;
    }
    this.refused.add(socket);
    const { httpStatus, code: status, what } = known ?? { httpStatus: 400, code: Code.INVALID_ARGUMENT, what: 'The request is not valid HTTP/1.1' };
    const reason = 'reason' in error && typeof error.reason === 'string' ? error.reason : error.message;
    const body = JSON.stringify(errorJson(statusOf(new ApiError(status, `${what} (${reason}).`)), httpStatus));
    socket.end(
      `HTTP/1.1 ${httpStatus} ${STATUS_CODES[httpStatus] ?? ''}\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
    const linger = setTimeout(() => socket.destroy(), LINGER_MS).unref();
    socket.once('close', () => clearTimeout(linger));
  }

  /**
   * The inactivity timer serveHttp arms (the idle time without a byte either way) and node:http's
   * keep-alive timeout both end here. A connection whose request is in and whose answer is still
   * being worked on (a slow upstream behind the git proxy) is not idle, nor one whose body the
   * server itself stopped reading; anything else is closed: silence between requests, a request
   * stalled mid-body, or an answer the client does not read.
   */
  private closeIfIdle(socket: Socket): void {
    const res = this.responding.get(socket);
    const working = res !== undefined && !res.writableFinished && socket.writableLength === 0 && (res.req.complete || socket.isPaused());
    if (!working) socket.destroy();
  }

  private route(socket: Socket): void {
    this.sockets.add(socket);
    // Until enough bytes arrive to tell the protocols apart, however slowly they come.
    const undecided = setTimeout(() => socket.destroy(), this.limits.idleTimeoutMs).unref();
    socket.once('close', () => {
      clearTimeout(undecided);
      this.sockets.delete(socket);
    });
    socket.on('error', () => socket.destroy());
    let head = Buffer.alloc(0);
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, HTTP2_PREFACE.length);
      const isHttp2 = head.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n));
      if (isHttp2 && n < HTTP2_PREFACE.length) return; // too few bytes to tell yet
      clearTimeout(undecided);
      socket.off('readable', onReadable);
      socket.unshift(head);
      if (this.tls && head[0] === TLS_HANDSHAKE) this.tls.emit('connection', socket);
      else if (isHttp2) this.injector.injectConnection(socket);
      else this.http.emit('connection', socket);
    };
    socket.on('readable', onReadable);
  }

  private routeSecure(secure: TLSSocket): void {
    if (secure.alpnProtocol === 'h2') this.injector.injectConnection(secure);
    else this.http.emit('connection', secure);
  }
}
