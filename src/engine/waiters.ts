/**
 * In-memory wake-ups for WaitOperation: callers park on an operation name and are woken when it
 * changes (done or deleted). Holds no state of its own worth keeping: after a restart, waiters re-read the store.
 */
export class Waiters {
  private readonly parked = new Map<string, Set<() => void>>();

  /** Resolves when `name` is notified, the timeout passes or `signal` aborts, whichever comes first. */
  wait(name: string, timeoutMs: number, signal?: AbortSignal): { ready: Promise<void>; cancel: () => void } {
    let wake: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => {
      wake = resolve;
    });
    const set = this.parked.get(name) ?? new Set();
    this.parked.set(name, set);
    const timer = setTimeout(() => finish(), timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', finish);
      set.delete(finish);
      if (set.size === 0 && this.parked.get(name) === set) this.parked.delete(name);
      wake();
    };
    set.add(finish);
    signal?.addEventListener('abort', finish, { once: true });
    if (signal?.aborted) finish();
    return { ready, cancel: finish };
  }

  /** Wakes every waiter (to look again: something may have been missed). */
  notifyAll(): void {
    for (const name of [...this.parked.keys()]) this.notify(name);
  }

  notify(name: string): void {
    const set = this.parked.get(name);
    if (!set) return;
    for (const finish of [...set]) finish();
  }
}
