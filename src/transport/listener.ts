import { createServer as createHttpServer, type Server as HttpServer, type RequestListener } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';

// Every HTTP/2 connection (gRPC) opens with this preface; no HTTP/1.1 request line starts with it.
const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0');

/**
 * One TCP port for both protocols, as Google's emulators do: each connection's first bytes are
 * read and put back, then HTTP/2 goes to grpc-js and the rest to node:http.
 */
export class DualProtocolListener {
  private readonly net: NetServer;
  private readonly http: HttpServer;
  private readonly injector: ReturnType<grpc.Server['createConnectionInjector']>;
  private readonly sockets = new Set<Socket>();

  constructor(grpcServer: grpc.Server, rest: RequestListener) {
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
      if (isHttp2) this.injector.injectConnection(socket);
      else this.http.emit('connection', socket);
    };
    socket.on('readable', onReadable);
  }
}
