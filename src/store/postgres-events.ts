import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { OperationEvent, OperationEvents } from './store.js';

/** The channel every node listens on. */
export const CHANNEL = 'devconnect_operations';

type Listener = Parameters<OperationEvents['subscribe']>[0];

const KINDS = new Set<string>(['created', 'status', 'cancel', 'done', 'deleted']);

/**
 * Operation events between the nodes of one database, by LISTEN/NOTIFY: a write's notification is
 * sent when its transaction commits (`notifyClause`), and each node's listener, on a connection of
 * its own, hands it to the engine. A node does not hear its own writes (its engine already knows).
 * When the connection breaks it is opened again, with back-off, and listeners are told that
 * events may have been missed; the engine's lease heartbeat and a re-read cover those.
 */
export class PostgresEvents implements OperationEvents {
  /** Put in every payload this node sends, so that its listener skips them. */
  readonly origin = randomUUID().slice(0, 8);
  private readonly listeners: Listener[] = [];
  private client: pg.Client | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly config: pg.ClientConfig) {}

  subscribe(listener: Listener): void {
    this.listeners.push(listener);
  }

  /** Connects and listens; resolves once listening (rejects if the first connection fails). */
  async start(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on('notification', (message) => this.deliver(message.payload));
    // An open connection that fails or ends: listen again on a new one.
    const lost = (): void => {
      if (this.client !== client) return;
      this.client = undefined;
      void client.end().catch(() => undefined);
      void this.listenAgain();
    };
    client.on('error', lost);
    client.on('end', lost);
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
  }

  /** The payload a write's notification carries: `kind origin name`. */
  payload(kind: OperationEvent['kind']): string {
    return `${kind} ${this.origin} `;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private deliver(payload: string | undefined): void {
    const [kind, origin, name] = (payload ?? '').split(' ', 3);
    if (origin === this.origin || name === undefined || kind === undefined || !KINDS.has(kind)) return;
    for (const listener of this.listeners) listener.event({ kind: kind as OperationEvent['kind'], name });
  }

  /** Opens a new listening connection, with back-off, then tells listeners that events may have been missed meanwhile. */
  private async listenAgain(): Promise<void> {
    for (let delay = 100; !this.closed; delay = Math.min(delay * 2, 2_000)) {
      await new Promise<void>((resolve) => {
        this.retry = setTimeout(resolve, delay);
        this.retry.unref();
      });
      if (this.closed) return;
      try {
        await this.start();
      } catch {
        continue;
      }
      for (const listener of this.listeners) listener.gap();
      return;
    }
  }
}
