import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Waits `ms` unless the context's `signal` aborts first: then it rejects, with the abort reason when
 * the signal had aborted already, else with timers/promises' AbortError (the reason as its cause).
 * 0 returns at once without looking at the signal: no wait, nothing to cancel.
 */
export async function pause(ms: number, context: { readonly signal: AbortSignal }): Promise<void> {
  if (ms <= 0) return;
  const { signal } = context;
  signal.throwIfAborted();
  await sleep(ms, undefined, { signal });
}
