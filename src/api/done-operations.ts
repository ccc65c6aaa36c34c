import { LRUCache } from 'lru-cache';
import type { Operation } from '../gen/google/longrunning/operations_pb.js';

/**
 * Finished operations never change again (only DeleteOperation and retention remove them), so
 * their messages are kept, least recently used evicted first, and shared between calls:
 * GetOperation on a done operation, the hottest read of LRO clients, then costs neither a store
 * read nor a message build (and the transports encode a shared message once). The messages are
 * frozen: the transports memoize the encoding of frozen messages only. Each is kept until its
 * retention ends, and forgotten when the engine reports it deleted (here or on another node).
 */
export class DoneOperations {
  private readonly entries = new LRUCache<string, { operation: Operation; keptUntil: number }>({ max: 10_000 });

  get(name: string): Operation | undefined {
    const entry = this.entries.get(name);
    if (entry === undefined) return undefined;
    if (entry.keptUntil > Date.now()) return entry.operation;
    this.entries.delete(name);
    return undefined;
  }

  /** Keeps a done operation's message (frozen by its maker) until `keptUntil` (ms since the epoch): when retention may delete it. */
  remember(operation: Readonly<Operation>, keptUntil: number): void {
    if (operation.done && keptUntil > Date.now()) this.entries.set(operation.name, { operation, keptUntil });
  }

  forget(name: string): void {
    this.entries.delete(name);
  }
}
