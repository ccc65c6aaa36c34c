import { performance } from 'node:perf_hooks';
import { callJson, type HttpClient } from './http-client.js';
import { sleep } from './stats.js';

export const PARENT = 'projects/demo/locations/us-central1';
export const CREATE_BODY = JSON.stringify({ githubConfig: { githubApp: 'DEVELOPER_CONNECT' } });

export interface LifecycleResult {
  /** Completed create→done lifecycles per second inside the measurement window. */
  opsPerSec: number;
  completed: number;
  /** Lifecycles completed over the whole run, warm-up and drain included (for CPU per lifecycle). */
  total: number;
  /** Mean GetOperation calls per lifecycle (1 when every operation is done on the first GET). */
  getsPerLifecycle: number;
  errors: number;
  firstError?: string;
}

/**
 * K workers, each looping: POST create connection (unique id), then, unless the reply is already
 * done, GET the operation until it is done. Lifecycles that end inside [warmup, warmup + measure) are counted.
 */
export async function runLifecycle(
  client: HttpClient,
  options: { concurrency: number; warmupMs: number; measureMs: number; idPrefix: string },
): Promise<LifecycleResult> {
  let stopped = false;
  let seq = 0;
  let completed = 0;
  let total = 0;
  let gets = 0;
  let errors = 0;
  let firstError: string | undefined;
  let windowStart = Infinity;
  let windowEnd = Infinity;

  const worker = async (): Promise<void> => {
    while (!stopped) {
      const id = `${options.idPrefix}-${(seq++).toString(36)}`;
      try {
        const op = await callJson(client, 'POST', `/v1/${PARENT}/connections?connectionId=${id}`, CREATE_BODY);
        const path = `/v1/${String(op.name)}`;
        let n = 0;
        // As LRO clients do (google-gax's operation.promise()), the reply itself may already be done.
        let done = op.done === true;
        if (op.error !== undefined) throw new Error(`operation failed: ${JSON.stringify(op.error)}`);
        while (!done) {
          const got = await callJson(client, 'GET', path);
          n++;
          done = got.done === true;
          if (got.error !== undefined) throw new Error(`operation failed: ${JSON.stringify(got.error)}`);
        }
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

  const workers = Array.from({ length: options.concurrency }, () => worker());
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
