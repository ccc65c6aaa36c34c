import { createServer as createHttpServer, type Server as HttpServer, type RequestListener } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';

/** PEM certificate chain and private key for TLS on the same port. */
export interface TlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
}

// A TLS connection opens with a handshake record, whose first byte is 22.
const TLS_HANDSHAKE = 0x16;

// Every HTTP/2 connection (gRPC) opens with this preface; no HTTP/1.1 request line starts with it.
const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0');

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

  constructor(grpcServer: grpc.Server, rest: RequestListener, tls?: TlsOptions) {
    // A tls.Server that never listens: it is handed sockets, like the other two. (A server-side
    // TLSSocket made by hand never leaves `secureConnecting`, and http2 then waits forever.)
    if (tls) {
      this.tls = createTlsServer({ cert: tls.cert, key: tls.key, ALPNProtocols: ['h2', 'http/1.1'] }, (secure) => this.routeSecure(secure));
      this.tls.on('tlsClientError', (_error, socket) => socket.destroy());
    }
    this.http = createHttpServer({ keepAliveTimeout: 65_000 }, rest);
    // node:http tracks connections (closeIdleConnections, headers/request timeouts) from its own
    // 'listening' event, which a server that is handed sockets never emits: without this, close()
    // waits the whole grace period for every idle keep-alive client.
    this.http.emit('listening');
    this.injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    this.net = createNetServer({ noDelay: true }, (socket) => this.route(socket));
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

  private route(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let head = Buffer.alloc(0);
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, HTTP2_PREFACE.length);
      const isHttp2 = head.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n));
      if (isHttp2 && n < HTTP2_PREFACE.length) return; // too few bytes to tell yet
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
