import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Waits `ms` unless the context's `signal` aborts first (then rejects with the abort reason). 0 returns at once
 * without looking at the signal, whose creation is the dearest part of an instant operation: no
 * cancel can reach work that never waits (the engine commits it before it answers anyone).
 */
export async function pause(ms: number, context: { readonly signal: AbortSignal }): Promise<void> {
  if (ms <= 0) return;
  const { signal } = context;
  signal.throwIfAborted();
  await sleep(ms, undefined, { signal });
}
