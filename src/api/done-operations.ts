import { LRUCache } from 'lru-cache';
import type { Operation } from '../gen/google/longrunning/operations_pb.js';

/**
 * Finished operations never change again (only DeleteOperation removes them), so their messages
 * are kept, least recently used evicted first, and shared between calls: GetOperation on a done
 * operation, the hottest read of LRO clients, then costs neither a store read nor a message build
 * (and the transports encode a shared message once). The messages are frozen: the transports
 * memoize the encoding of frozen messages only.
 */
export class DoneOperations {
  private readonly entries = new LRUCache<string, Operation>({ max: 10_000 });

  get(name: string): Operation | undefined {
    return this.entries.get(name);
  }

  remember(operation: Operation): void {
    if (operation.done) this.entries.set(operation.name, Object.freeze(operation));
  }

  forget(name: string): void {
    this.entries.delete(name);
  }
}
