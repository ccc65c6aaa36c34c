import { performance } from 'node:perf_hooks';
import { callJson, type HttpClient } from './http-client.js';
import { sleep } from './stats.js';

export const PARENT = 'projects/demo/locations/us-central1';
export const CREATE_BODY = JSON.stringify({ githubConfig: { githubApp: 'DEVELOPER_CONNECT' } });
/** How often a client polls a running operation (or a peer's job) for its state, in ms. */
export const POLL_MS = 2;
/** A lifecycle still not done after this long counts as an error (so a lost job cannot hang the bench). */
const LIFECYCLE_LIMIT_MS = 10_000;

export interface LifecycleResult {
  /** Completed create→done lifecycles per second inside the measurement window. */
  opsPerSec: number;
  completed: number;
  /** Lifecycles completed over the whole run, warm-up and drain included (for CPU per lifecycle). */
  total: number;
  /** Mean state polls (GetOperation calls, or a peer's job-state reads) per lifecycle (0 when every create reply is already done). */
  getsPerLifecycle: number;
  errors: number;
  firstError?: string;
}

export interface LifecycleOptions {
  concurrency: number;
  warmupMs: number;
  measureMs: number;
  idPrefix: string;
}

/**
 * One lifecycle, given a unique id (and the index of the worker running it, 0..K-1): start the work,
 * wait for it done; resolves to the number of state polls it took.
 */
export type Lifecycle = (id: string, worker: number) => Promise<number>;

/**
 * Waits `pollMs`, then asks `isDone`, until it answers true; resolves to how many times it asked.
 * Throws after LIFECYCLE_LIMIT_MS.
 */
export async function pollUntilDone(isDone: () => Promise<boolean>, pollMs: number): Promise<number> {
  const started = performance.now();
  let polls = 0;
  for (;;) {
    await sleep(pollMs);
    polls++;
    if (await isDone()) return polls;
    if (performance.now() - started > LIFECYCLE_LIMIT_MS) throw new Error(`not done after ${LIFECYCLE_LIMIT_MS} ms (${polls} polls)`);
  }
}

/**
 * The emulator's lifecycle over REST: POST create connection (unique id), then, unless the reply is
 * already done, GET the operation every `pollMs` until it is done.
 */
export function restLifecycle(client: HttpClient, pollMs = POLL_MS): Lifecycle {
  return async (id) => {
    const op = await callJson(client, 'POST', `/v1/${PARENT}/connections?connectionId=${id}`, CREATE_BODY);
    if (op.error !== undefined) throw new Error(`operation failed: ${JSON.stringify(op.error)}`);
    // As LRO clients do (google-gax's operation.promise()), the reply itself may already be done.
    if (op.done === true) return 0;
    const path = `/v1/${String(op.name)}`;
    return pollUntilDone(async () => {
      const got = await callJson(client, 'GET', path);
      if (got.error !== undefined) throw new Error(`operation failed: ${JSON.stringify(got.error)}`);
      return got.done === true;
    }, pollMs);
  };
}

/** K workers looping `restLifecycle` against `client` (see runLifecycles). */
export function runLifecycle(client: HttpClient, options: LifecycleOptions & { pollMs?: number }): Promise<LifecycleResult> {
  return runLifecycles(restLifecycle(client, options.pollMs), options);
}

/**
 * K workers, each running `lifecycle` in a loop with a fresh id (`idPrefix-<n>`). Lifecycles that end
 * inside [warmup, warmup + measure) are counted; the run ends when every worker has finished its last one.
 */
export async function runLifecycles(lifecycle: Lifecycle, options: LifecycleOptions): Promise<LifecycleResult> {
  let stopped = false;
  let seq = 0;
  let completed = 0;
  let total = 0;
  let gets = 0;
  let errors = 0;
  let firstError: string | undefined;
  let windowStart = Infinity;
  let windowEnd = Infinity;

  const worker = async (index: number): Promise<void> => {
    while (!stopped) {
      const id = `${options.idPrefix}-${(seq++).toString(36)}`;
      try {
        const n = await lifecycle(id, index);
        const t = performance.now();
        total++;
        if (t >= windowStart && t < windowEnd) {
          completed++;
          gets += n;
        }
      } catch (error) {
        errors++;
        firstError ??= (error as Error).message;
        if (errors > 100) stopped = true;
      }
    }
  };

  const workers = Array.from({ length: options.concurrency }, (_, index) => worker(index));
  await sleep(options.warmupMs);
  windowStart = performance.now();
  windowEnd = windowStart + options.measureMs;
  await sleep(options.measureMs);
  while (performance.now() < windowEnd) await sleep(1); // timers may fire a little early
  stopped = true;
  await Promise.all(workers);
  return {
    opsPerSec: completed / (options.measureMs / 1000),
    completed,
    total,
    getsPerLifecycle: completed === 0 ? NaN : gets / completed,
    errors,
    firstError,
  };
}
