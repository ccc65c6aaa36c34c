import { setTimeout as sleep } from 'node:timers/promises';

/** Waits `ms` unless `signal` aborts first (then rejects with the abort reason); 0 only checks the signal. */
export async function pause(ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  if (ms > 0) await sleep(ms, undefined, { signal });
}
