/**
 * Handlers and waits for the engine's tests. Nothing here sleeps to order events: a gated handler
 * runs until the test releases it, and "until done" waits on the engine's own wake-up, with a
 * generous time limit only to turn a missed wake-up into a failure instead of a hang.
 */
import assert from 'node:assert/strict';
import type { Precondition } from '../../src/common/preconditions.js';
import type { Engine, StartRequest } from '../../src/engine/engine.js';
import type { HandlerResult, OperationContext, OperationHandler } from '../../src/engine/handler.js';
import type { OperationRecord, StoredAny } from '../../src/store/store.js';

export const PARENT = 'projects/engine-test/locations/us-central1';
export const COLLECTION = 'widgets';
export const RESPONSE_TYPE = 'type.googleapis.com/test.engine.Widget';

/**
 * Inputs are `ID` or `ID#TAG`: the handler creates widget ID, whose data (and the operation's
 * response) is the whole input, so two runs that create the same widget can be told apart.
 */
export function widgetName(input: string): string {
  return `${PARENT}/${COLLECTION}/${input.split('#')[0]}`;
}

export function bytesOf(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text));
}

export function textOf(bytes: Uint8Array | undefined): string | undefined {
  return bytes && Buffer.from(bytes).toString();
}

export function responseFor(input: string): StoredAny {
  return { typeUrl: RESPONSE_TYPE, value: bytesOf(input) };
}

/** The precondition of a create (AIP-133): no resource of that name yet. */
export function absent(name: string): Precondition {
  return { kind: 'absent', name };
}

/** What the test handlers return: a response naming the input and the creation of its widget (which must not exist yet). */
export function resultFor(input: string): HandlerResult {
  const name = widgetName(input);
  return {
    response: responseFor(input),
    change: { require: [absent(name)], put: { name, parent: PARENT, collection: COLLECTION, etag: input, data: bytesOf(input) } },
  };
}

export function startRequest(kind: string, input: string, extra: Partial<StartRequest> = {}): StartRequest {
  return { parent: PARENT, kind, input, verb: 'create', target: widgetName(input), ...extra };
}

interface HandlerOptions {
  cancellable?: boolean;
  afterRestart?: 'resume' | 'fail';
}

/** A handler that ends without waiting for time or I/O: a few resolved awaits (microtasks) only. */
export function instantHandler(kind: string, options: HandlerOptions & { fail?: () => unknown } = {}): OperationHandler & { calls: string[] } {
  const calls: string[] = [];
  return {
    kind,
    cancellable: options.cancellable ?? true,
    afterRestart: options.afterRestart ?? 'fail',
    calls,
    run: async (input) => {
      calls.push(input);
      for (let i = 0; i < 5; i++) await Promise.resolve();
      if (options.fail) throw options.fail();
      return resultFor(input);
    },
  };
}

/** One run of a GatedHandler, which the test ends when it chooses. */
export interface GatedRun {
  input: string;
  context: OperationContext;
  /** The signal as the handler saw it when it started. */
  signal: AbortSignal;
  /** Ends the run with `result` (by default the widget of its input). */
  release(result?: HandlerResult): void;
  /** Ends the run by throwing `error`. */
  fail(error: unknown): void;
}

/**
 * A handler whose every run waits for the test. With `honoursSignal` (the default) a run stops
 * when its signal aborts, throwing the signal's reason as a well-behaved handler does; without it,
 * the run ignores the signal and waits for the test regardless (best-effort cancellation).
 */
export class GatedHandler implements OperationHandler {
  readonly cancellable: boolean;
  readonly afterRestart: 'resume' | 'fail';
  readonly runs: GatedRun[] = [];
  private readonly pending = new Set<GatedRun>();
  private readonly honoursSignal: boolean;

  constructor(
    readonly kind: string,
    options: HandlerOptions & { honoursSignal?: boolean } = {},
  ) {
    this.cancellable = options.cancellable ?? true;
    this.afterRestart = options.afterRestart ?? 'fail';
    this.honoursSignal = options.honoursSignal ?? true;
  }

  run(input: string, context: OperationContext): Promise<HandlerResult> {
    return new Promise<HandlerResult>((resolve, reject) => {
      const signal = context.signal;
      const run: GatedRun = {
        input,
        context,
        signal,
        release: (result = resultFor(input)) => {
          this.pending.delete(run);
          resolve(result);
        },
        fail: (error) => {
          this.pending.delete(run);
          reject(error);
        },
      };
      if (this.honoursSignal) signal.addEventListener('abort', () => run.fail(signal.reason), { once: true });
      this.runs.push(run);
      this.pending.add(run);
    });
  }

  /** The run of the operation `name`; the engine calls `run` synchronously, so it exists once start/recover has been called. */
  runOf(name: string): GatedRun {
    const run = this.runs.find((r) => r.context.name === name);
    assert.ok(run, `the handler ${this.kind} was not run for ${name}`);
    return run;
  }

  /** Ends every run still waiting (test clean-up), so that stopping the engine cannot hang. */
  abandon(): void {
    for (const run of [...this.pending]) run.fail(new Error('test over'));
  }
}

/** Rejects when `promise` does not settle within `ms`: a missed wake-up fails instead of hanging. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** Parks on the operation with engine.wait and asserts that it ends (it must be woken, not time out). */
export async function untilDone(engine: Engine, name: string): Promise<OperationRecord> {
  const gone = new AbortController();
  try {
    const record = await within(engine.wait(name, 60_000, gone.signal), 5_000, `wait for ${name}`);
    assert.ok(record, `${name} was deleted`);
    assert.equal(record.done, true, `${name} is done`);
    return record;
  } finally {
    gone.abort();
  }
}

/** Lets every pending callback of this turn (timers aside) run: for asserting that something has NOT happened. */
export async function turns(count = 5): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
