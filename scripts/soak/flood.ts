/**
 * A flood of slow sockets, kept at `size` for the whole soak: each is replaced a second after it
 * closes. A quarter each: silent; an HTTP/1.1 header block, one byte every `dripMs`; the HTTP/2
 * preface, one byte every `dripMs`; an HTTP/2 connection that sends only PINGs. The server must close
 * every one of them by its idle timeout; one still open after `overdueMs` is counted and dropped.
 */
import { connect as connectHttp2, type ClientHttp2Session } from 'node:http2';
import { connect as connectTcp, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

const KINDS = ['silent', 'HTTP/1.1 headers', 'HTTP/2 preface', 'HTTP/2 PINGs'] as const;
const HEADERS = `GET /v1/projects/demo/locations/us-central1/operations HTTP/1.1\r\nHost: localhost\r\nx-slow: ${'s'.repeat(200)}\r\n\r\n`;
const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

interface Slow {
  connection: Socket | ClientHttp2Session;
  openedAt: number;
  /** The incarnation it connected to; 0 before it connected (or while none was serving). */
  incarnation: number;
  overdue: boolean;
}

export interface FloodOptions {
  port: number;
  size: number;
  dripMs: number;
  overdueMs: number;
  /** The number of the server incarnation now serving: a socket closed by a restart is not closed by the idle timeout. */
  incarnation: () => number;
}

export class SlowSocketFlood {
  opened = 0;
  /** Closed by the server within one incarnation: the idle timeout at work. */
  closedByServer = 0;
  closedByRestart = 0;
  /** Refused or reset before they connected (the server was down). */
  notConnected = 0;
  /** Still open `overdueMs` after they opened: the server let a slow socket stay. */
  overdue = 0;
  /** Lifetimes (ms) of those the server closed, by kind. */
  readonly lifetimes = new Map<string, number[]>();
  readonly overdueMs: number;
  private stopped = false;
  private readonly live = new Set<Slow>();
  private readonly watch: NodeJS.Timeout;

  constructor(private readonly options: FloodOptions) {
    this.overdueMs = options.overdueMs;
    for (let i = 0; i < options.size; i++) this.open(i % KINDS.length);
    this.watch = setInterval(() => this.dropOverdue(), 1_000);
  }

  private open(kind: number): void {
    if (this.stopped) return;
    const { port, dripMs } = this.options;
    this.opened++;
    const connection = KINDS[kind] === 'HTTP/2 PINGs' ? connectHttp2(`http://127.0.0.1:${port}`) : connectTcp(port, '127.0.0.1');
    const slow: Slow = { connection, openedAt: performance.now(), incarnation: 0, overdue: false };
    this.live.add(slow);
    connection.on('error', () => {});
    // Read (and drop) what the server sends, such as a 408, so that its FIN is seen when it comes.
    if (!('ping' in connection)) connection.resume();
    connection.once('connect', () => {
      slow.openedAt = performance.now();
      slow.incarnation = this.options.incarnation();
    });
    const text = KINDS[kind] === 'HTTP/1.1 headers' ? HEADERS : KINDS[kind] === 'HTTP/2 preface' ? PREFACE : '';
    let sent = 0;
    const drip = setInterval(() => {
      if (connection.destroyed) return;
      if ('ping' in connection) connection.ping(() => {});
      else if (sent < text.length - 1) connection.write(text[sent++] as string);
    }, dripMs);
    connection.once('close', () => {
      clearInterval(drip);
      this.live.delete(slow);
      if (this.stopped) return;
      if (slow.incarnation === 0) {
        this.notConnected++;
      } else if (!slow.overdue) {
        if (slow.incarnation === this.options.incarnation()) {
          this.closedByServer++;
          const lifetimes = this.lifetimes.get(KINDS[kind] as string) ?? [];
          lifetimes.push(performance.now() - slow.openedAt);
          this.lifetimes.set(KINDS[kind] as string, lifetimes);
        } else {
          this.closedByRestart++;
        }
      }
      setTimeout(() => this.open(kind), 1_000);
    });
  }

  private dropOverdue(): void {
    const now = performance.now();
    for (const slow of this.live) {
      if (slow.overdue || slow.incarnation === 0 || now - slow.openedAt < this.overdueMs) continue;
      // Only the server's idle timeout may close it; a restart in its lifetime would have.
      if (slow.incarnation !== this.options.incarnation()) continue;
      slow.overdue = true;
      this.overdue++;
      slow.connection.destroy();
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.watch);
    for (const slow of this.live) slow.connection.destroy();
    this.live.clear();
  }
}
