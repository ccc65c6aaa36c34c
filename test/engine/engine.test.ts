/**
 * The long-running-operations engine on its own, over a real SqliteStore: what the API layer and
 * its clients rely on when they start, poll, wait on, cancel and recover operations. Handlers are
 * paused and released by the tests (helpers.ts), so no test orders events with sleeps.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { pino, type Logger } from 'pino';
import { PreconditionFailedError } from '../../src/common/preconditions.js';
import { Engine } from '../../src/engine/engine.js';
import { OperationFailure, type OperationHandler } from '../../src/engine/handler.js';
import { Code } from '../../src/gen/google/rpc/code_pb.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { RequestIdReusedError, type NewOperation, type OperationRecord } from '../../src/store/store.js';
import {
  absent,
  GatedHandler,
  instantHandler,
  PARENT,
  RESPONSE_TYPE,
  responseFor,
  resultFor,
  startRequest,
  textOf,
  turns,
  untilDone,
  widgetName,
  within,
} from './helpers.js';

const silent = pino({ level: 'silent' });

/**
 * A fresh in-memory store and engine for every test of the enclosing describe, with the handlers
 * `make` returns registered. After each test the engine is stopped (paused runs are abandoned, so
 * that cannot hang) and the store closed.
 */
function withEngine<H extends Record<string, OperationHandler>>(make: () => H, log: Logger = silent) {
  let current: { store: SqliteStore; engine: Engine; h: H } | undefined;
  beforeEach(() => {
    const store = SqliteStore.open(':memory:');
    const engine = new Engine(store, log);
    const h = make();
    for (const handler of Object.values(h)) engine.register(handler);
    current = { store, engine, h };
  });
  afterEach(async () => {
    if (!current) return;
    const { store, engine, h } = current;
    current = undefined;
    await shutDown(engine, store, Object.values(h));
  });
  const get = () => {
    assert.ok(current, 'used outside a test');
    return current;
  };
  return {
    get store() {
      return get().store;
    },
    get engine() {
      return get().engine;
    },
    get h() {
      return get().h;
    },
  };
}

async function shutDown(engine: Engine, store: SqliteStore, handlers: OperationHandler[]): Promise<void> {
  // stop() aborts every signal before it first awaits: abandoned runs then end as stopped, unrecorded.
  const stopped = engine.stop();
  for (const handler of handlers) if (handler instanceof GatedHandler) handler.abandon();
  await stopped;
  await store.close();
}

async function operationsOf(store: SqliteStore): Promise<OperationRecord[]> {
  return (await store.listOperations({ parent: PARENT, pageSize: 100 })).items;
}

describe('Engine.start', () => {
  const t = withEngine(() => ({ instant: instantHandler('test.instant'), gated: new GatedHandler('test.gated') }));

  it('returns an operation already done, with its response and its change committed, when the handler ends without waiting', async () => {
    const record = await t.engine.start(startRequest('test.instant', 'w1'));
    assert.equal(record.done, true, 'work that needs no timer or I/O arrives done: no poll needed');
    assert.equal(record.error, undefined);
    assert.equal(record.response?.typeUrl, RESPONSE_TYPE);
    assert.equal(textOf(record.response?.value), 'w1');
    assert.match(record.name, new RegExp(`^${PARENT}/operations/operation-\\d+-[0-9a-f]+$`));
    assert.deepEqual(t.h.instant.calls, ['w1']);

    // Already committed when start resolves, outcome and change together.
    const stored = await t.store.getOperation(record.name);
    assert.equal(stored?.done, true);
    assert.ok(stored.endTime, 'a done operation has its end time');
    assert.equal(textOf(stored.response?.value), 'w1');
    assert.equal(textOf((await t.store.getResource(widgetName('w1')))?.data), 'w1');
    assert.equal((await t.engine.get(record.name))?.done, true);
  });

  it('returns a running operation when the handler waits; the outcome and the change are committed only when it ends', async () => {
    const record = await t.engine.start(startRequest('test.gated', 'w2'));
    assert.equal(record.done, false);
    assert.equal(record.response, undefined);
    assert.equal(record.error, undefined);
    const run = t.h.gated.runOf(record.name);
    assert.equal(run.context.resumed, false);

    // Running: committed as such (a restart would find it), and nothing of its change yet.
    const stored = await t.store.getOperation(record.name);
    assert.equal(stored?.done, false);
    assert.equal((await t.engine.get(record.name))?.done, false);
    assert.equal(await t.store.getResource(widgetName('w2')), undefined, 'no change before the handler ends');

    run.release();
    const done = await untilDone(t.engine, record.name);
    assert.equal(done.error, undefined);
    assert.equal(textOf(done.response?.value), 'w2');
    const committed = await t.store.getOperation(record.name);
    assert.equal(committed?.done, true);
    assert.ok(committed.endTime);
    assert.equal(textOf(committed.response?.value), 'w2');
    assert.equal(textOf((await t.store.getResource(widgetName('w2')))?.data), 'w2');
  });

  it('refuses a kind with no handler and stores nothing', async () => {
    await assert.rejects(t.engine.start(startRequest('test.unregistered', 'w3')), /no operation handler registered for kind test\.unregistered/);
    assert.deepEqual(await operationsOf(t.store), []);
  });
});

describe('Engine.cancel', () => {
  const t = withEngine(() => ({
    instant: instantHandler('test.instant'),
    gated: new GatedHandler('test.gated'),
    stubborn: new GatedHandler('test.stubborn', { honoursSignal: false }),
    uncancellable: new GatedHandler('test.uncancellable', { cancellable: false }),
  }));

  it('stops a running cancellable operation: requested, its signal aborts, it ends CANCELLED without its change', async () => {
    const record = await t.engine.start(startRequest('test.gated', 'c1'));
    const run = t.h.gated.runOf(record.name);
    assert.equal(run.signal.aborted, false);

    assert.equal(await t.engine.cancel(record.name), 'requested');
    assert.equal(run.signal.aborted, true, 'the handler is told to stop');
    assert.equal((await t.store.getOperation(record.name))?.requestedCancellation, true, 'the request is committed before it is acknowledged');

    const done = await untilDone(t.engine, record.name);
    assert.equal(done.error?.code, Code.CANCELLED);
    assert.equal(done.response, undefined);
    assert.equal(done.requestedCancellation, true);
    const stored = await t.store.getOperation(record.name);
    assert.equal(stored?.done, true);
    assert.equal(stored.error?.code, Code.CANCELLED);
    assert.equal(stored.requestedCancellation, true);
    assert.equal(await t.store.getResource(widgetName('c1')), undefined, 'a cancelled operation leaves no change behind');
  });

  it('commits the outcome of a handler that stops at once with the cancellation itself: done CANCELLED when cancel resolves', async () => {
    const record = await t.engine.start(startRequest('test.gated', 'c-one-commit'));
    assert.equal(await t.engine.cancel(record.name), 'requested');
    // Read from the store, not the engine's cache: both writes were in the commit that cancel waited for.
    const stored = await t.store.getOperation(record.name);
    assert.equal(stored?.done, true, 'no second commit is needed to end it');
    assert.equal(stored.error?.code, Code.CANCELLED);
    assert.equal(stored.requestedCancellation, true);
    const got = await t.engine.get(record.name);
    assert.equal(got?.done, true, 'the engine does not answer the flagged, not-yet-done record it read back');
  });

  it('is best effort: a handler that ignores the signal and completes ends with its response and change', async () => {
    // google.longrunning: "the server makes a best effort to cancel the operation, but success is not guaranteed".
    const record = await t.engine.start(startRequest('test.stubborn', 'c2'));
    const run = t.h.stubborn.runOf(record.name);
    assert.equal(await t.engine.cancel(record.name), 'requested');
    assert.equal(run.signal.aborted, true);
    const running = await t.engine.get(record.name);
    assert.equal(running?.done, false);
    assert.equal(running.requestedCancellation, true, 'clients polling see cancel_requested while it runs');

    run.release();
    const done = await untilDone(t.engine, record.name);
    assert.equal(done.error, undefined, 'completing despite the cancel is not turned into a failure');
    assert.equal(textOf(done.response?.value), 'c2');
    assert.equal(done.requestedCancellation, true);
    const stored = await t.store.getOperation(record.name);
    assert.equal(stored?.error, undefined);
    assert.equal(textOf(stored?.response?.value), 'c2');
    assert.equal(stored?.requestedCancellation, true);
    assert.equal(textOf((await t.store.getResource(widgetName('c2')))?.data), 'c2', 'the completed work is committed');
  });

  it('answers not-cancellable for a kind that cannot be cancelled, and the work goes on untouched', async () => {
    const record = await t.engine.start(startRequest('test.uncancellable', 'c3'));
    const run = t.h.uncancellable.runOf(record.name);
    assert.equal(await t.engine.cancel(record.name), 'not-cancellable');
    assert.equal(run.signal.aborted, false);
    assert.equal((await t.store.getOperation(record.name))?.requestedCancellation, false);

    run.release();
    const done = await untilDone(t.engine, record.name);
    assert.equal(done.error, undefined);
    assert.equal(textOf(done.response?.value), 'c3');
    assert.equal(done.requestedCancellation, false);
  });

  it('answers already-done for a done operation and leaves it as it was', async () => {
    const record = await t.engine.start(startRequest('test.instant', 'c4'));
    assert.equal(record.done, true);
    assert.equal(await t.engine.cancel(record.name), 'already-done');
    const stored = await t.store.getOperation(record.name);
    assert.equal(stored?.requestedCancellation, false);
    assert.equal(stored?.error, undefined);
    assert.equal(textOf(stored?.response?.value), 'c4');

    // Also when the answer comes from the store rather than this engine's memory.
    const other = new Engine(t.store, silent);
    other.register(instantHandler('test.instant'));
    assert.equal(await other.cancel(record.name), 'already-done');
  });

  it('answers not-found for an operation that does not exist', async () => {
    assert.equal(await t.engine.cancel(`${PARENT}/operations/operation-0-missing`), 'not-found');
  });
});

describe('Engine.wait', () => {
  const t = withEngine(() => ({ instant: instantHandler('test.instant'), gated: new GatedHandler('test.gated') }));

  it('wakes every waiter parked on a running operation as soon as it ends', async () => {
    const record = await t.engine.start(startRequest('test.gated', 'a1'));
    const gone = new AbortController();
    try {
      // A 60 s wait that must come back long before: woken by the finish, not by its timeout.
      const first = t.engine.wait(record.name, 60_000, gone.signal);
      const second = t.engine.wait(record.name, 60_000, gone.signal);
      t.h.gated.runOf(record.name).release();
      const [a, b] = await within(Promise.all([first, second]), 5_000, 'waiters');
      for (const woken of [a, b]) {
        assert.equal(woken?.done, true);
        assert.equal(textOf(woken?.response?.value), 'a1');
      }
    } finally {
      gone.abort();
    }
  });

  it('answers at once for an operation that is already done', async () => {
    const record = await t.engine.start(startRequest('test.instant', 'a2'));
    const gone = new AbortController();
    try {
      const result = await within(t.engine.wait(record.name, 60_000, gone.signal), 5_000, 'wait on a done operation');
      assert.equal(result?.done, true);
      assert.equal(textOf(result?.response?.value), 'a2');
    } finally {
      gone.abort();
    }
  });

  it('returns the still-running operation when the timeout passes', async () => {
    const record = await t.engine.start(startRequest('test.gated', 'a3'));
    const result = await t.engine.wait(record.name, 20);
    assert.equal(result?.name, record.name);
    assert.equal(result.done, false);
  });

  it('returns the current operation when the caller goes away', async () => {
    const record = await t.engine.start(startRequest('test.gated', 'a4'));
    const gone = new AbortController();
    const waiting = t.engine.wait(record.name, 60_000, gone.signal);
    gone.abort();
    const result = await within(waiting, 5_000, 'wait after its caller went away');
    assert.equal(result?.done, false);
  });

  it('resolves undefined when the operation is deleted while waited on, or never existed', async () => {
    const record = await t.engine.start(startRequest('test.gated', 'a5'));
    const gone = new AbortController();
    try {
      const waiting = t.engine.wait(record.name, 60_000, gone.signal);
      assert.equal(await t.engine.delete(record.name), true);
      assert.equal(await within(waiting, 5_000, 'wait on a deleted operation'), undefined);
      assert.equal(await within(t.engine.wait(`${PARENT}/operations/operation-0-missing`, 60_000, gone.signal), 5_000, 'wait on a missing operation'), undefined);
    } finally {
      gone.abort();
    }
  });
});

describe('Engine failures', () => {
  const logged: string[] = [];
  const log = pino({ level: 'error' }, { write: (line: string) => void logged.push(line) });
  const t = withEngine(
    () => ({
      crash: instantHandler('test.crash', { fail: () => new Error('boom: disk on fire') }),
      refuse: instantHandler('test.refuse', { fail: () => new OperationFailure(Code.FAILED_PRECONDITION, 'The widget is frozen.') }),
      gated: new GatedHandler('test.gated'),
    }),
    log,
  );
  beforeEach(() => {
    logged.length = 0;
  });

  /** The error id in an INTERNAL message, after checking that the log has it with the real cause. */
  function assertInternal(record: OperationRecord): void {
    assert.equal(record.done, true);
    assert.equal(record.response, undefined);
    assert.equal(record.error?.code, Code.INTERNAL);
    const id = /error id ([0-9a-f]+)/.exec(record.error.message)?.[1];
    assert.ok(id, `an error id in "${record.error.message}"`);
    assert.doesNotMatch(record.error.message, /disk on fire/, 'the internal cause is not shown to the client');
    assert.ok(
      logged.some((line) => line.includes(id) && line.includes('disk on fire')),
      'the log has the error id with the cause, so an operator can find it',
    );
  }

  it('ends the operation INTERNAL, with an error id, when the handler throws at once', async () => {
    const record = await t.engine.start(startRequest('test.crash', 'f1'));
    assertInternal(record);
    const stored = await t.store.getOperation(record.name);
    assert.ok(stored);
    assertInternal(stored);
    assert.equal(await t.store.getResource(widgetName('f1')), undefined);
  });

  it('ends the operation INTERNAL, with an error id, when the handler throws after waiting', async () => {
    const record = await t.engine.start(startRequest('test.gated', 'f2'));
    t.h.gated.runOf(record.name).fail(new Error('boom: disk on fire'));
    assertInternal(await untilDone(t.engine, record.name));
    const stored = await t.store.getOperation(record.name);
    assert.ok(stored);
    assertInternal(stored);
  });

  it('ends the operation with the code and message of an OperationFailure, at once or after waiting', async () => {
    const expected = { code: Code.FAILED_PRECONDITION, message: 'The widget is frozen.' };
    const atOnce = await t.engine.start(startRequest('test.refuse', 'f3'));
    assert.equal(atOnce.done, true);
    assert.deepEqual(atOnce.error, expected);
    assert.deepEqual((await t.store.getOperation(atOnce.name))?.error, expected);

    const later = await t.engine.start(startRequest('test.gated', 'f4'));
    t.h.gated.runOf(later.name).fail(new OperationFailure(expected.code, expected.message));
    assert.deepEqual((await untilDone(t.engine, later.name)).error, expected);
    assert.deepEqual((await t.store.getOperation(later.name))?.error, expected);
  });
});

describe('Engine: two creates of one resource', () => {
  const t = withEngine(() => ({ instant: instantHandler('test.instant'), gated: new GatedHandler('test.gated') }));
  const name = widgetName('dup');
  const require = [absent(name)];

  /** A PreconditionFailedError for the creation of widget `dup`. */
  function isDupExists(error: unknown): boolean {
    assert.ok(error instanceof PreconditionFailedError, `PreconditionFailedError, not ${String(error)}`);
    assert.deepEqual(error.precondition, absent(name));
    return true;
  }

  it('when both end at once: one operation succeeds, the other start throws PreconditionFailedError and makes no operation', async () => {
    const results = await Promise.allSettled([
      t.engine.start(startRequest('test.instant', 'dup#a', { require })),
      t.engine.start(startRequest('test.instant', 'dup#b', { require })),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    assert.equal(won.length, 1, 'exactly one succeeds');
    assert.equal(lost.length, 1);
    const winner = won[0]!.value;
    assert.equal(winner.done, true);
    assert.equal(winner.error, undefined);
    isDupExists(lost[0]!.reason);

    assert.equal(textOf((await t.store.getResource(name))?.data), textOf(winner.response?.value), "the resource is the winner's");
    assert.deepEqual((await operationsOf(t.store)).map((r) => r.name), [winner.name], 'the refused start left no operation');
  });

  it('when both wait: both start, and the one that ends second ends ALREADY_EXISTS without its change', async () => {
    const [a, b] = await Promise.all([
      t.engine.start(startRequest('test.gated', 'dup#a', { require })),
      t.engine.start(startRequest('test.gated', 'dup#b', { require })),
    ]);
    assert.equal(a.done, false);
    assert.equal(b.done, false);
    t.h.gated.runOf(a.name).release();
    t.h.gated.runOf(b.name).release();
    const ended = await Promise.all([untilDone(t.engine, a.name), untilDone(t.engine, b.name)]);
    const won = ended.filter((r) => r.error === undefined);
    const lost = ended.filter((r) => r.error !== undefined);
    assert.equal(won.length, 1, 'exactly one succeeds');
    assert.equal(lost.length, 1);
    assert.deepEqual(lost[0]!.error, { code: Code.ALREADY_EXISTS, message: `Resource '${name}' already exists.` });
    assert.equal(lost[0]!.response, undefined);
    assert.deepEqual((await t.store.getOperation(lost[0]!.name))?.error, lost[0]!.error);
    assert.equal(textOf((await t.store.getResource(name))?.data), textOf(won[0]!.response?.value), "the resource is the winner's, not overwritten");
  });

  it('throws PreconditionFailedError when the resource already exists, makes no operation and stops the work', async () => {
    await t.engine.start(startRequest('test.instant', 'dup#first'));
    const before = await operationsOf(t.store);
    await assert.rejects(t.engine.start(startRequest('test.gated', 'dup#second', { require })), isDupExists);
    assert.equal(t.h.gated.runs.length, 1);
    assert.equal(t.h.gated.runs[0]!.signal.aborted, true, 'the work of a refused start is stopped');
    assert.deepEqual(await operationsOf(t.store), before);
    assert.equal(textOf((await t.store.getResource(name))?.data), 'dup#first');
  });

  it("throws PreconditionFailedError, and makes no operation, when a handler that ends at once meets its change's own precondition failing", async () => {
    // No precondition on the start itself: only the change says the widget must not exist.
    await t.engine.start(startRequest('test.instant', 'dup#first'));
    const before = await operationsOf(t.store);
    await assert.rejects(t.engine.start(startRequest('test.instant', 'dup#second')), isDupExists);
    assert.deepEqual(await operationsOf(t.store), before);
    assert.equal(textOf((await t.store.getResource(name))?.data), 'dup#first');
  });
});

describe('Engine: request ids (AIP-155)', () => {
  const t = withEngine(() => ({ instant: instantHandler('test.instant'), gated: new GatedHandler('test.gated') }));
  const key = (id: string, fingerprint = 'f1') => ({ key: `CreateWidget/${id}`, fingerprint });

  it('a retry of a done request gets its operation back, not ALREADY_EXISTS', async () => {
    const request = startRequest('test.instant', 'r1', { require: [absent(widgetName('r1'))], request: key('1') });
    const first = await t.engine.start(request);
    const retry = await t.engine.start(request);
    assert.equal(retry.name, first.name);
    assert.equal(retry.done, true);
    assert.equal(textOf(retry.response?.value), 'r1');
    assert.equal((await operationsOf(t.store)).length, 1);
    assert.equal((await t.engine.retried(key('1')))?.name, first.name);
  });

  it('a retry of a running request gets the running operation, and its own run of the work is dropped', async () => {
    const request = startRequest('test.gated', 'r2', { request: key('2') });
    const first = await t.engine.start(request);
    const retry = await t.engine.start(request);
    assert.equal(retry.name, first.name);
    assert.equal(retry.done, false);
    const duplicate = t.h.gated.runs.find((r) => r.context.name !== first.name);
    assert.ok(duplicate, 'the retry ran the handler too');
    assert.equal(duplicate.signal.aborted, true, "the retry's work is stopped");
    assert.equal(t.h.gated.runOf(first.name).signal.aborted, false, 'the first work goes on');
    assert.deepEqual((await operationsOf(t.store)).map((r) => r.name), [first.name]);

    t.h.gated.runOf(first.name).release();
    assert.equal(textOf((await untilDone(t.engine, first.name)).response?.value), 'r2');
  });

  for (const kind of ['test.instant', 'test.gated']) {
    it(`the same request id with another request is refused with RequestIdReusedError (${kind})`, async () => {
      const first = await t.engine.start(startRequest(kind, 'r3', { request: key('3') }));
      await assert.rejects(t.engine.start(startRequest(kind, 'r3#other', { request: key('3', 'f2') })), RequestIdReusedError);
      assert.deepEqual((await operationsOf(t.store)).map((r) => r.name), [first.name], 'nothing written for the refused request');
      await assert.rejects(t.engine.retried(key('3', 'f2')), RequestIdReusedError);
      assert.equal(await t.engine.retried(key('never-used')), undefined);
    });
  }
});

describe('Engine.stop', () => {
  const t = withEngine(() => ({ gated: new GatedHandler('test.gated'), stubborn: new GatedHandler('test.stubborn', { honoursSignal: false }) }));

  it('aborts running handlers and records no outcome: the operation stays unfinished in the store', async () => {
    const record = await t.engine.start(startRequest('test.gated', 's1'));
    const run = t.h.gated.runOf(record.name);
    await within(t.engine.stop(), 5_000, 'stop');
    assert.equal(run.signal.aborted, true);
    const stored = await t.store.getOperation(record.name);
    assert.equal(stored?.done, false, 'left for the next start to resume or fail');
    assert.equal(stored.error, undefined);
    assert.equal(stored.response, undefined);
    assert.equal(stored.requestedCancellation, false, 'a shutdown is not a cancellation');
    assert.equal(await t.store.getResource(widgetName('s1')), undefined);
  });

  it('resolves only once every running handler has returned', async () => {
    const record = await t.engine.start(startRequest('test.stubborn', 's2'));
    const run = t.h.stubborn.runOf(record.name);
    let stopped = false;
    const stopping = t.engine.stop().then(() => {
      stopped = true;
    });
    assert.equal(run.signal.aborted, true);
    await turns();
    assert.equal(stopped, false, 'stop waits for the handler');
    run.fail(run.signal.reason);
    await within(stopping, 5_000, 'stop');
    assert.equal((await t.store.getOperation(record.name))?.done, false);
  });

  it('stops at once the work of an operation started while stopping, and leaves it unfinished', async () => {
    await t.engine.stop();
    const record = await t.engine.start(startRequest('test.gated', 's3'));
    assert.equal(record.done, false);
    assert.equal(t.h.gated.runOf(record.name).signal.aborted, true);
    await turns();
    assert.equal((await t.store.getOperation(record.name))?.done, false);
  });
});

/** A handler whose work is one context.sleep of `ms` (as --operation-delay's), then its result; what it saw of its signal after a stop. */
function sleepyHandler(kind: string, ms: number): OperationHandler & { signalAfterStop: AbortSignal[] } {
  const signalAfterStop: AbortSignal[] = [];
  return {
    kind,
    cancellable: true,
    afterRestart: 'resume',
    signalAfterStop,
    run: async (input, context) => {
      try {
        await context.sleep(ms);
      } catch (error) {
        // The signal is made only when read: one read after the stop must still say why.
        signalAfterStop.push(context.signal);
        throw error;
      }
      return resultFor(input);
    },
  };
}

describe('Engine: handlers that sleep (OperationContext.sleep)', () => {
  const t = withEngine(() => ({ none: sleepyHandler('test.sleep0', 0), long: sleepyHandler('test.sleep', 60_000) }));

  it('a sleep of 0 does not wait: the operation is returned done, with its change', async () => {
    const record = await t.engine.start(startRequest('test.sleep0', 'z1'));
    assert.equal(record.done, true);
    assert.ok(await t.store.getResource(widgetName('z1')));
  });

  it('a cancel ends the sleep at once: done CANCELLED in the commit that cancel waited for, no change, and the signal read afterwards is aborted', async () => {
    const record = await t.engine.start(startRequest('test.sleep', 'z2'));
    assert.equal(record.done, false);
    assert.equal(await within(t.engine.cancel(record.name), 5_000, 'cancel'), 'requested');
    const stored = await t.store.getOperation(record.name);
    assert.equal(stored?.done, true);
    assert.equal(stored.error?.code, Code.CANCELLED);
    assert.equal(stored.requestedCancellation, true);
    assert.equal(await t.store.getResource(widgetName('z2')), undefined);
    const [signal] = t.h.long.signalAfterStop;
    assert.equal(signal?.aborted, true);
    assert.equal((signal.reason as Error).name, 'CancelRequested');
  });

  it('stop ends the sleep and records nothing: the operation stays unfinished for the next start', async () => {
    const record = await t.engine.start(startRequest('test.sleep', 'z3'));
    await within(t.engine.stop(), 5_000, 'stop');
    const stored = await t.store.getOperation(record.name);
    assert.equal(stored?.done, false);
    assert.equal(stored.requestedCancellation, false);
    assert.equal((t.h.long.signalAfterStop[0]?.reason as Error).name, 'ShuttingDown');
  });
});

describe('Engine.recover', () => {
  const root = mkdtempSync(join(tmpdir(), 'devconnect-engine-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;

  function newOp(kind: string, input: string): NewOperation {
    return { name: `${PARENT}/operations/operation-0-recover${++n}`, parent: PARENT, kind, input, verb: 'create', target: widgetName(input), createTime: new Date() };
  }

  it('resumes what may resume, fails the rest ABORTED, and ends those whose cancellation was requested CANCELLED', async () => {
    const dir = join(root, 'left-running');
    const crashed = SqliteStore.open(dir);
    const resume = await crashed.insertOperation(newOp('test.resumable', 'v1'));
    const fail = await crashed.insertOperation(newOp('test.fragile', 'v2'));
    const cancelled = await crashed.insertOperation(newOp('test.resumable', 'v3'));
    assert.equal((await crashed.requestCancel(cancelled.name))?.requestedCancellation, true);
    const orphan = await crashed.insertOperation(newOp('test.no-longer-registered', 'v4'));
    const done = await crashed.insertOperation(newOp('test.resumable', 'v5'), { finished: { outcome: { response: responseFor('v5') }, endTime: new Date() } });
    await crashed.close();

    const store = SqliteStore.open(dir);
    const engine = new Engine(store, silent);
    const resumable = new GatedHandler('test.resumable', { afterRestart: 'resume' });
    const fragile = new GatedHandler('test.fragile', { afterRestart: 'fail' });
    engine.register(resumable);
    engine.register(fragile);
    try {
      assert.deepEqual(await engine.recover(), { resumed: 1, failed: 3 });

      // Resumed: run again, told so, and still running until it ends.
      assert.deepEqual(resumable.runs.map((r) => r.input), ['v1'], 'only the resumable operation without a cancel request runs again');
      const run = resumable.runOf(resume.name);
      assert.equal(run.context.resumed, true);
      assert.equal((await store.getOperation(resume.name))?.done, false);
      assert.equal(fragile.runs.length, 0, 'a kind that fails after a restart is not run');

      for (const name of [fail.name, orphan.name]) {
        const failed = await store.getOperation(name);
        assert.equal(failed?.done, true, name);
        assert.equal(failed.error?.code, Code.ABORTED, name);
        assert.equal(failed.response, undefined);
      }
      const wasCancelled = await store.getOperation(cancelled.name);
      assert.equal(wasCancelled?.done, true);
      assert.equal(wasCancelled.error?.code, Code.CANCELLED);
      assert.equal(wasCancelled.requestedCancellation, true);
      const untouched = await store.getOperation(done.name);
      assert.equal(untouched?.done, true, 'a done operation is left as it was');
      assert.equal(untouched.error, undefined);
      assert.equal(untouched.requestedCancellation, false);
      assert.equal(untouched.endTime?.getTime(), done.endTime?.getTime());
      assert.equal(textOf(untouched.response?.value), 'v5');

      run.release();
      const finished = await untilDone(engine, resume.name);
      assert.equal(finished.error, undefined);
      assert.equal(textOf(finished.response?.value), 'v1');
      assert.equal(textOf((await store.getResource(widgetName('v1')))?.data), 'v1');
      for (const input of ['v2', 'v3', 'v4']) assert.equal(await store.getResource(widgetName(input)), undefined, `no change for ${input}`);
    } finally {
      await shutDown(engine, store, [resumable, fragile]);
    }
  });

  it('a resumed operation can be cancelled by the new engine', async () => {
    const dir = join(root, 'cancel-resumed');
    const crashed = SqliteStore.open(dir);
    const op = await crashed.insertOperation(newOp('test.resumable', 'v6'));
    await crashed.close();

    const store = SqliteStore.open(dir);
    const engine = new Engine(store, silent);
    const resumable = new GatedHandler('test.resumable', { afterRestart: 'resume' });
    engine.register(resumable);
    try {
      assert.deepEqual(await engine.recover(), { resumed: 1, failed: 0 });
      assert.equal(await engine.cancel(op.name), 'requested');
      assert.equal(resumable.runOf(op.name).signal.aborted, true);
      assert.equal((await untilDone(engine, op.name)).error?.code, Code.CANCELLED);
    } finally {
      await shutDown(engine, store, [resumable]);
    }
  });

  it('an operation stop() left unfinished is resumed by the next engine on the same store', async () => {
    const dir = join(root, 'stopped');
    const firstStore = SqliteStore.open(dir);
    const firstEngine = new Engine(firstStore, silent);
    const before = new GatedHandler('test.resumable', { afterRestart: 'resume' });
    firstEngine.register(before);
    const record = await firstEngine.start(startRequest('test.resumable', 'v7'));
    assert.equal(before.runOf(record.name).context.resumed, false);
    await shutDown(firstEngine, firstStore, [before]);

    const store = SqliteStore.open(dir);
    const engine = new Engine(store, silent);
    const resumable = new GatedHandler('test.resumable', { afterRestart: 'resume' });
    engine.register(resumable);
    try {
      assert.deepEqual(await engine.recover(), { resumed: 1, failed: 0 });
      const run = resumable.runOf(record.name);
      assert.equal(run.context.resumed, true);
      assert.equal(run.input, 'v7');
      run.release();
      assert.equal(textOf((await untilDone(engine, record.name)).response?.value), 'v7');
      assert.equal(textOf((await store.getResource(widgetName('v7')))?.data), 'v7');
    } finally {
      await shutDown(engine, store, [resumable]);
    }
  });
});
