/**
 * The server-sent events of one location's operations (GET /console/api/events). Events say only
 * which operation changed; pages re-read through the REST API. When the stream (re)opens, listeners
 * are told to re-read everything, since events may have been missed while it was down.
 */
export interface OperationEvent {
  name: string;
  kind: 'created' | 'updated' | 'deleted';
}

export interface LiveListener {
  change(event: OperationEvent): void;
  /** The stream is (re)connected: re-read, events may have been missed. */
  resync(): void;
  state(connected: boolean): void;
}

/** A stream the server refused (e.g. no permission) is tried again this much later, not at once. */
const RETRY_CLOSED_MS = 10_000;

export class LiveOperations {
  private source: EventSource | undefined;
  private parent: string | undefined;
  private retry: number | undefined;
  private readonly listeners = new Set<LiveListener>();
  connected = false;

  /** Listens to `parent`'s operations; the stream is shared by every listener of the same location. */
  subscribe(parent: string, listener: LiveListener): () => void {
    if (this.parent !== parent) this.open(parent);
    this.listeners.add(listener);
    listener.state(this.connected);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.close();
    };
  }

  private open(parent: string): void {
    this.close();
    this.parent = parent;
    const source = new EventSource(`/console/api/events?parent=${encodeURIComponent(parent)}`);
    this.source = source;
    source.addEventListener('open', () => {
      this.setState(true);
      for (const l of this.listeners) l.resync();
    });
    source.addEventListener('operation', (event) => {
      const data = parseEvent((event as MessageEvent<string>).data);
      if (data) for (const l of this.listeners) l.change(data);
    });
    source.addEventListener('error', () => {
      this.setState(false);
      // A network drop leaves it CONNECTING (the browser retries); a refusal closes it for good.
      if (source.readyState === EventSource.CLOSED && this.source === source) {
        this.retry = window.setTimeout(() => {
          if (this.source === source) this.open(parent);
        }, RETRY_CLOSED_MS);
      }
    });
  }

  private close(): void {
    this.source?.close();
    this.source = undefined;
    this.parent = undefined;
    window.clearTimeout(this.retry);
    this.setState(false);
  }

  private setState(connected: boolean): void {
    if (this.connected === connected) return;
    this.connected = connected;
    for (const l of this.listeners) l.state(connected);
  }
}

function parseEvent(text: string): OperationEvent | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) return undefined;
    const { name, kind } = value as Record<string, unknown>;
    if (typeof name !== 'string' || (kind !== 'created' && kind !== 'updated' && kind !== 'deleted')) return undefined;
    return { name, kind };
  } catch {
    return undefined;
  }
}
