import type { Operation } from '../gen/google/longrunning/operations_pb.js';

/**
 * Finished operations never change again (only DeleteOperation removes them), so their messages
 * are kept, most recently used first, and shared between calls: GetOperation on a done operation,
 * the hottest read of LRO clients, then costs neither a store read nor a message build. Entries
 * are dropped when this process deletes the operation. Callers must treat the messages as frozen.
 */
export class DoneOperations {
  private readonly entries = new Map<string, Operation>();

  constructor(private readonly capacity = 10_000) {}

  get(name: string): Operation | undefined {
    const operation = this.entries.get(name);
    if (operation) {
      // Map keeps insertion order: re-inserting marks the entry as most recently used.
      this.entries.delete(name);
      this.entries.set(name, operation);
    }
    return operation;
  }

  remember(operation: Operation): void {
    if (!operation.done) return;
    this.entries.set(operation.name, operation);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  forget(name: string): void {
    this.entries.delete(name);
  }
}
