/**
 * What every fuzz property shares: its fast-check parameters, and the oracle of an answer.
 *
 * In `npm test` a property makes a fixed number of runs from a fixed seed, so a run is
 * reproducible and bounded. `npm run fuzz -- --seed N --duration 60s` (scripts/fuzz.mjs) sets
 * FUZZ_SEED and FUZZ_FILE_MS: each fuzz file then runs for its share of the duration instead.
 */
import assert from 'node:assert/strict';
import type { Parameters } from 'fast-check';

/** The seed of `npm test`'s runs: fixed, so a failure there fails again on the next run. */
const SUITE_SEED = 20261130;

/**
 * The parameters of one property. `runs`: how many in `npm test`; `share`: the fraction of the
 * file's time it gets under `npm run fuzz` (the shares of a file's properties add up to 1).
 */
export function fuzzParameters<T>(runs: number, share: number): Parameters<T> {
  const seed = process.env.FUZZ_SEED === undefined ? SUITE_SEED : Number(process.env.FUZZ_SEED);
  const fileMs = process.env.FUZZ_FILE_MS === undefined ? undefined : Number(process.env.FUZZ_FILE_MS);
  if (fileMs === undefined) return { seed, numRuns: runs, endOnFailure: true, includeErrorInReport: true };
  return { seed, numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: Math.max(1_000, fileMs * share), markInterruptAsFailure: false, endOnFailure: true, includeErrorInReport: true };
}

export interface HttpAnswer {
  status: number;
  /** The response body as text. */
  text: string;
}

/**
 * The REST oracle: never a 5xx, and every error in the AIP-193 shape, `{"error": {code, message,
 * status, details}}`, whose code is the HTTP status. Returns whether the call was refused.
 */
export function assertRestAnswer(answer: HttpAnswer, what: string): boolean {
  assert.ok(answer.status < 500, `${what}: HTTP ${answer.status} ${answer.text.slice(0, 500)}`);
  if (answer.status < 400) return false;
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    assert.fail(`${what}: the ${answer.status} answer is not JSON: ${answer.text.slice(0, 300)}`);
  }
  const error = (body as { error?: Record<string, unknown> }).error;
  assert.ok(error && typeof error === 'object', `${what}: no "error" object in ${answer.text.slice(0, 300)}`);
  assert.equal(error.code, answer.status, `${what}: error.code`);
  assert.equal(typeof error.message, 'string', `${what}: error.message`);
  assert.ok((error.message as string).length > 0, `${what}: an empty message`);
  assert.match(String(error.status), /^[A-Z_]+$/, `${what}: error.status`);
  assert.ok(Array.isArray(error.details), `${what}: error.details`);
  return true;
}
