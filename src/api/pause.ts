import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Waits `ms` unless the context's `signal` aborts first, and then rejects with the abort reason
 * (timers/promises would reject with an AbortError of its own, which the transports would answer
 * as an unexpected INTERNAL error instead of the client's own CANCELLED). 0 returns at once
 * without looking at the signal: no wait, nothing to cancel.
 */
export async function pause(ms: number, context: { readonly signal: AbortSignal }): Promise<void> {
  if (ms <= 0) return;
  const { signal } = context;
  signal.throwIfAborted();
  try {
    await sleep(ms, undefined, { signal });
  } catch (error) {
    throw signal.aborted ? signal.reason : error;
  }
}
