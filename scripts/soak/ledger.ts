/**
 * What the server acknowledged to the soak's clients, and what they saw of it since: the truth the
 * end of the soak holds the server to. Only a 200 answer enters it; a call without an answer did
 * nothing as far as the ledger knows.
 */
import type { Json } from './rest.js';

/** How a done operation ended: `succeeded`, `cancelled`, or `error N` (another google.rpc.Code). */
export type Outcome = string;

/** A create the server answered with 200 and an operation name. */
export interface Acknowledged {
  operation: string;
  connection: string;
  connectionId: string;
  requestId: string;
  ackedAt: number;
  /** The outcome of the first done answer seen for it (a done answer must never change). */
  seen?: Outcome;
  /** When (performance.now()) that done answer arrived. */
  seenAt?: number;
  /** A CancelOperation for it was answered 200. */
  cancelAcked: boolean;
  /** A DeleteOperation for it was sent (answered or not): from then on it may be gone. */
  deleteSent: boolean;
  /** That DeleteOperation was answered 200: it must stay gone. */
  deleted: boolean;
  /** A later create for the same connection (a replay after the delete) owns the connection's fate. */
  connectionReused?: boolean;
}

export function outcomeOf(operation: Json): Outcome | undefined {
  if (operation.done !== true) return undefined;
  const error = operation.error as Json | undefined;
  if (error === undefined) return 'succeeded';
  const code = Number(error.code ?? 2);
  return code === 1 ? 'cancelled' : `error ${code}`;
}

/** A small seeded generator (mulberry32): the same seed gives the same choices, run after run. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  uuid(): string {
    const hex = Array.from({ length: 32 }, () => this.below(16).toString(16));
    hex[12] = '4';
    hex[16] = (8 + this.below(4)).toString(16);
    const s = hex.join('');
    return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
  }
}

/** Evidence of a broken promise seen during the load, by kind, with the first few examples. */
export class Findings {
  readonly counts = new Map<string, number>();
  readonly examples: string[] = [];

  add(kind: string, example: string): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    if (this.examples.length < 20) this.examples.push(`${kind}: ${example}`);
  }

  count(kind: string): number {
    return this.counts.get(kind) ?? 0;
  }
}

export class Ledger {
  readonly creates: Acknowledged[] = [];
  private readonly byOperation = new Map<string, Acknowledged>();
  private nextId = 0;

  newConnectionId(): string {
    return `soak-${++this.nextId}`;
  }

  add(entry: Acknowledged): void {
    this.creates.push(entry);
    this.byOperation.set(entry.operation, entry);
  }

  get(operation: string): Acknowledged | undefined {
    return this.byOperation.get(operation);
  }

  /** Any acknowledged create, the recent ones more often (they are the ones still changing). */
  pick(random: Random): Acknowledged | undefined {
    const n = this.creates.length;
    if (n === 0) return undefined;
    return this.creates[random.next() < 0.5 ? n - 1 - random.below(Math.min(n, 50)) : random.below(n)];
  }

  /** A recent create not yet seen done: one that may still be running. */
  pickRunning(random: Random): Acknowledged | undefined {
    const recent = this.creates.slice(-30).filter((entry) => entry.seen === undefined && !entry.deleteSent);
    return recent[random.below(recent.length)];
  }

  /** A create seen done and not yet deleted. */
  pickDone(random: Random): Acknowledged | undefined {
    for (let tries = 0; tries < 10; tries++) {
      const entry = this.pick(random);
      if (entry?.seen !== undefined && !entry.deleteSent) return entry;
    }
    return undefined;
  }
}
