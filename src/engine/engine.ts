import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { LRUCache } from 'lru-cache';
import { ApiError } from '../common/errors.js';
import type { Logger } from 'pino';
import { Code } from '../gen/google/rpc/code_pb.js';
import type { FilterExpr } from '../store/filter-expr.js';
import { describePrecondition, PreconditionFailedError, type Precondition } from '../common/preconditions.js';
import { LeaseLostError, type InsertOptions, type Lease, type NewOperation, type OperationEvent, type OperationEvents, type OperationError, type OperationRecord, type Outcome, type Page, type RequestKey, type ResourceChange, type OperationStore } from '../store/store.js';
import { CancelRequested, OperationFailure, type HandlerResult, type OperationHandler } from './handler.js';
import type { OperationObserver } from './observer.js';
import { RunControl } from './run-control.js';
import { Waiters } from './waiters.js';

/** Why a handler's signal was aborted: the client asked (CancelRequested, in handler.ts), or this server is going away. */
class ShuttingDown extends Error {
  override name = 'ShuttingDown';
}
/** Its operation could not be committed (e.g. the resource exists): the handler's work is dropped. */
class NotCreated extends Error {
  override name = 'NotCreated';
}
/** Another node took the operation over (this node's lease ran out): its outcome is that node's to write. */
class LeaseLost extends Error {
  override name = 'LeaseLost';
}

export interface EngineOptions {
  /** How long this node holds an operation it runs without renewing the lease (`--lease`); default 10 s. */
  leaseMs?: number;
  /** Retention: done operations are deleted this long after they end, request ids forgotten this long after their request. */
  retention?: { operationsMs: number; requestIdsMs: number };
  /** Told of every operation this node ends (metrics). */
  observer?: OperationObserver;
  /** Decorates every handler as it is registered (fault injection, src/faults); the engine runs what it returns. */
  wrapHandler?: (handler: OperationHandler) => OperationHandler;
}

export interface StartRequest {
  /** `projects/{project}/locations/{location}` */
  parent: string;
  kind: string;
  input: string;
  verb: string;
  target: string;
  /** What must hold for the operation to start: checked in the transaction that commits it (PreconditionFailedError, nothing made). */
  require?: Precondition[];
  /** AIP-155: a retry of the request that made an operation gets that operation back (see InsertOptions.request). */
  request?: RequestKey;
}

export type CancelResult = 'requested' | 'already-done' | 'not-found' | 'not-cancellable';

/** An operation that was created, changed or deleted (on this node or another): read it again to see how. */
export interface OperationChange {
  name: string;
  kind: 'created' | 'updated' | 'deleted';
}

/**
 * The long-running-operations engine: starts operations with registered handlers, runs them,
 * cancels them, wakes waiters and recovers after a crash. Every state change is committed to the
 * store before it is acknowledged; memory holds only running handlers and waiters.
 */
export class Engine {
  private readonly handlers = new Map<string, OperationHandler>();
  /** Handlers running on this node; `since`: when tracked (performance.now()), to tell a lost lease from one not renewed yet. */
  private readonly running = new Map<string, { control: RunControl; done: Promise<void>; since: number }>();
  /** How many operations running here act on each target resource: what makes a resource `reconciling`. */
  private readonly busyTargets = new Map<string, number>();
  private readonly waiters = new Waiters();
  /**
   * Write-through cache of operation records, filled only with what was committed: every change
   * this process makes goes to the store first, then here. Saves a store read on every poll of a
   * running operation. With other nodes on the store it holds only done records and those of
   * operations this node runs, and their events (cancel, done, deleted) update or drop entries.
   */
  private readonly records = new LRUCache<string, OperationRecord>({ max: 50_000 });
  private stopping = false;
  /** This node, as the leases it holds name it. */
  readonly nodeId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly leaseMs: number;
  private readonly retention: EngineOptions['retention'];
  /** Other nodes share the store: they may cancel, finish and delete what this node has cached, and take over its operations. */
  private readonly shared: boolean;
  private readonly timers: NodeJS.Timeout[] = [];
  /** How many events of other nodes arrived: a read that saw this number change may be older than what was notified. */
  private events = 0;
  private readonly watchers = new Set<(change: OperationChange) => void>();
  /** Outcomes being committed by this node, with a shared store: a read of their operation waits for the commit. */
  private readonly finishing = new Map<string, Promise<unknown>>();
  private readonly observer?: OperationObserver;
  private readonly wrapHandler?: (handler: OperationHandler) => OperationHandler;

  constructor(
    private readonly store: OperationStore & { readonly events?: OperationEvents },
    private readonly log: Logger,
    options: EngineOptions = {},
  ) {
    this.leaseMs = options.leaseMs ?? 10_000;
    this.retention = options.retention;
    this.observer = options.observer;
    this.wrapHandler = options.wrapHandler;
    this.shared = store.events !== undefined;
    store.events?.subscribe({ event: (e) => this.onEvent(e), gap: () => this.onGap() });
  }

  register(handler: OperationHandler): void {
    this.handlers.set(handler.kind, this.wrapHandler?.(handler) ?? handler);
  }

  /**
   * Starts an operation and resolves with its committed record. The handler runs at once. When it
   * ends without waiting for time or I/O (no `--operation-delay`), the operation is committed done,
   * with its resource change, in one transaction, and returned done (google.longrunning allows any
   * Operation to arrive done): the client needs no poll. Otherwise the running operation is committed and the
   * handler goes on; its outcome is committed when it ends.
   */
  async start(request: StartRequest): Promise<OperationRecord> {
    const handler = this.handler(request.kind);
    const { require, request: requestId, ...fields } = request;
    const op: NewOperation = { ...fields, name: `${request.parent}/operations/${newOperationId()}`, createTime: new Date() };
    const options = { require, request: requestId };
    const control = new RunControl();
    const inserted = new Deferred();
    const settlement = this.run(op, handler, op.input, control, false, inserted.promise);
    // Microtasks run before the next turn of the event loop: a handler that needs no timer or I/O wins.
    const early = await Promise.race([settlement, nextTurn()]);
    if (early !== undefined && early.kind !== 'stopped') return this.insertFinished(op, options, early);
    let record: OperationRecord;
    try {
      record = await this.store.insertOperation(op, { ...options, lease: this.lease() });
    } catch (error) {
      control.abort(new NotCreated('the operation was not created'));
      inserted.reject(error);
      throw error;
    }
    if (record.name !== op.name) {
      // A retry: the first request's operation is the answer, and this run of the work is dropped.
      control.abort(new NotCreated('a retry of an earlier request'));
      inserted.reject(new NotCreated('a retry of an earlier request'));
      return this.records.get(record.name) ?? record;
    }
    this.records.set(record.name, record);
    this.emit(record.name, 'created');
    inserted.resolve();
    this.track(record, control, settlement);
    if (this.stopping) control.abort(new ShuttingDown('server shutting down'));
    return record;
  }

  /**
   * Commits an operation whose handler has already ended, done, in one transaction with its change.
   * A precondition that fails fails the call, and no operation is made: nobody has seen it yet.
   */
  private async insertFinished(op: NewOperation, options: InsertOptions, settlement: Ended): Promise<OperationRecord> {
    const endTime = new Date();
    const outcome = settlement.kind === 'error' ? { error: settlement.error } : { response: settlement.result.response };
    const change = settlement.kind === 'result' ? settlement.result.change : undefined;
    const record = await this.store.insertOperation(op, { ...options, finished: { outcome, endTime, change } });
    // A retry gets the first request's operation, as it is now.
    if (record.name !== op.name) return this.records.get(record.name) ?? record;
    this.records.set(record.name, record);
    this.emit(record.name, 'created');
    this.observer?.operationEnded(op.verb, outcome.error?.code ?? Code.OK, (endTime.getTime() - op.createTime.getTime()) / 1_000);
    return record;
  }

  /**
   * The record get() would answer at once from memory, or undefined when it would have to wait or
   * read the store. The same object until the operation changes: callers may key what they derive from it.
   */
  cachedRecord(name: string): OperationRecord | undefined {
    const cached = this.records.get(name);
    if (!cached || this.expired(cached) || (!cached.done && this.finishing.has(name))) return undefined;
    return cached;
  }

  async get(name: string): Promise<OperationRecord | undefined> {
    const cached = this.cachedRecord(name);
    if (cached) return cached;
    // A running record this node is committing the outcome of: read once the commit is done.
    const finishing = this.records.get(name)?.done === false ? this.finishing.get(name) : undefined;
    if (finishing) {
      await finishing;
      return this.get(name);
    }
    const seen = this.events;
    const record = await this.store.getOperation(name);
    // Another node may change a running operation (its holder's status message): only what cannot change is cached then,
    // and not when another node's change was notified during the read (it may be newer than what was read).
    if (record && (record.done || !this.shared) && seen === this.events) this.records.set(name, record);
    return record;
  }

  /** The operation an earlier request with this request id made (AIP-155); RequestIdReusedError if that was another request. */
  async retried(request: RequestKey): Promise<OperationRecord | undefined> {
    const earlier = await this.store.getOperationByRequest(request);
    return earlier && (this.records.get(earlier.name) ?? earlier);
  }

  list(query: { parent: string; pageSize: number; after?: string; filter?: FilterExpr }): Promise<Page<OperationRecord>> {
    return this.store.listOperations(query);
  }

  /**
   * Asks an operation to stop (best effort, per google.longrunning.Operations.CancelOperation);
   * the final state is written when the handler stops.
   * A handler running here is aborted as the flag's write is queued: one that stops at once (as
   * those that wait on their signal do) has its outcome queued behind the flag, and the group
   * commit writes both in one transaction, in that order. Another node running it is told by the
   * flag's notification when it commits.
   */
  async cancel(name: string): Promise<CancelResult> {
    const record = await this.get(name);
    if (!record) return 'not-found';
    if (record.done) return 'already-done';
    if (!this.handlers.get(record.kind)?.cancellable) return 'not-cancellable';
    const seen = this.events;
    const flagging = this.store.requestCancel(name);
    this.running.get(name)?.control.abort(new CancelRequested('cancellation requested'));
    const updated = await flagging;
    // The handler's outcome, committed with the flag, may be cached already: a done record is not replaced by the flagged one.
    if (!this.records.get(name)?.done) this.remember(name, updated, seen);
    if (!updated) return 'not-found';
    if (updated.done && !updated.requestedCancellation) return 'already-done';
    this.emit(name, 'updated');
    // Again: with other nodes, a claim by this node while the flag was written may have started the work here since.
    this.running.get(name)?.control.abort(new CancelRequested('cancellation requested'));
    return 'requested';
  }

  /** Removes the record; the work, if running, goes on to its end (the proto's DeleteOperation contract). */
  async delete(name: string): Promise<boolean> {
    const deleted = await this.store.deleteOperation(name);
    this.records.delete(name);
    if (deleted) {
      this.waiters.notify(name);
      this.emit(name, 'deleted');
    }
    return deleted;
  }

  /**
   * Resolves with the operation once it is done, deleted (undefined) or the timeout passes. Woken
   * by this node's finish, or by another node's through the store's events.
   */
  async wait(name: string, timeoutMs: number, signal?: AbortSignal): Promise<OperationRecord | undefined> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const parked = this.waiters.wait(name, Math.max(0, deadline - performance.now()), signal);
      // Parked before reading, so a finish between the read and the park cannot be missed.
      const current = await this.get(name);
      if (!current || current.done || signal?.aborted || performance.now() >= deadline) {
        parked.cancel();
        return current;
      }
      await parked.ready;
      // A wake-up is a hint (the event feed came back and every waiter looks again): read, and park again unless done.
    }
  }

  /**
   * At start-up: takes over what a previous process left running, and resumes or fails it. On a
   * store of its own, that is every unfinished operation; on a shared one, those whose lease ran
   * out (the others' holders are alive), and from then on it claims again every CLAIM_EVERY_MS (or
   * half a lease, if shorter): an operation whose holder died is taken within that of its lease's end.
   */
  async recover(): Promise<{ resumed: number; failed: number }> {
    const totals = await this.claim(this.shared ? new Date() : FAR_FUTURE);
    this.keepRetention();
    if (this.shared) {
      this.every(this.leaseMs / 3, () => this.heartbeat());
      this.every(Math.min(this.leaseMs / 2, CLAIM_EVERY_MS), async () => {
        const claimed = await this.claim(new Date());
        if (claimed.resumed + claimed.failed > 0) this.log.info(claimed, 'took over operations of a node whose lease ran out');
      });
    }
    return totals;
  }

  /**
   * Runs retention every RETENTION_EVERY_MS (or sooner for a short retention), once per cluster:
   * whichever node finds it due runs it; the store records when.
   */
  private keepRetention(): void {
    const retention = this.retention;
    if (!retention) return;
    // A short retention (tests, demos) is kept more often: a quarter of it, but not more than once a second.
    const every = Math.min(RETENTION_EVERY_MS, Math.max(1_000, Math.min(retention.operationsMs, retention.requestIdsMs) / 4));
    this.every(every, async () => {
      const now = Date.now();
      const result = await this.store.expireOperations({
        doneBefore: new Date(now - retention.operationsMs),
        requestIdsBefore: new Date(now - retention.requestIdsMs),
        every,
        limit: RETENTION_BATCH,
      });
      if (result.operations + result.requestIds > 0) this.log.info(result, 'retention: deleted old operations and forgot old request ids');
    });
  }

  /** Until when (ms since the epoch) a done record is certainly kept: after that, retention may delete it. */
  keptUntil(record: OperationRecord): number {
    return this.retention === undefined || record.endTime === undefined ? Infinity : record.endTime.getTime() + this.retention.operationsMs;
  }

  /** A done record past retention: another node (or this one) may have deleted it already. */
  private expired(record: OperationRecord): boolean {
    return this.keptUntil(record) < Date.now();
  }

  /** Claims unfinished operations whose lease ended before `expiredBefore`, in batches, and resumes or fails each. */
  private async claim(expiredBefore: Date): Promise<{ resumed: number; failed: number }> {
    let resumed = 0;
    let failed = 0;
    for (;;) {
      if (this.stopping) break;
      const batch = await this.store.claimOperations(this.lease(), expiredBefore, CLAIM_BATCH);
      for (const record of batch) {
        const handler = this.handlers.get(record.kind);
        if (record.requestedCancellation) {
          await this.finish(record, { error: cancelledError() });
          failed++;
        } else if (handler?.afterRestart === 'resume') {
          this.launch(record, handler, true);
          resumed++;
        } else {
          await this.finish(record, {
            error: {
              code: Code.ABORTED,
              message: 'The server running this operation stopped before it was completed. Retry the request.',
            },
          });
          failed++;
        }
      }
      if (batch.length < CLAIM_BATCH) break;
    }
    return { resumed, failed };
  }

  /**
   * Renews the lease on every operation this node runs. What the store no longer says this node
   * holds was taken over by another node: its handler stops here without writing. A cancellation
   * requested through another node whose notification was missed is seen here too.
   */
  private async heartbeat(): Promise<void> {
    const started = performance.now();
    const held = new Map((await this.store.renewLeases(this.nodeId, this.leaseEnd())).map((h) => [h.name, h.requestedCancellation]));
    for (const [name, run] of this.running) {
      const cancelled = held.get(name);
      if (cancelled === undefined) {
        if (run.since < started) run.control.abort(new LeaseLost('another node took the operation over'));
      } else if (cancelled) {
        run.control.abort(new CancelRequested('cancellation requested'));
      }
    }
  }

  /** Runs `task` every `ms`, one run at a time; a failure (the database is unreachable) is logged and the next run tries again. */
  private every(ms: number, task: () => Promise<void>): void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy || this.stopping) return;
      busy = true;
      task()
        .catch((error: unknown) => this.log.warn({ err: error }, 'lease upkeep failed; trying again'))
        .finally(() => (busy = false));
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  /** What another node did: its cancel reaches the handler running here, its finish or delete the waiters here. */
  private onEvent(event: OperationEvent): void {
    this.events++;
    this.emit(event.name, event.kind === 'created' ? 'created' : event.kind === 'deleted' ? 'deleted' : 'updated');
    if (event.kind === 'created') return;
    if (event.kind === 'status') {
      this.records.delete(event.name);
      return;
    }
    if (event.kind === 'cancel') {
      const cached = this.records.get(event.name);
      if (cached && !cached.done) this.records.set(event.name, { ...cached, requestedCancellation: true });
      const run = this.running.get(event.name);
      run?.control.abort(new CancelRequested('cancellation requested'));
      return;
    }
    this.records.delete(event.name);
    this.waiters.notify(event.name);
  }

  /**
   * Calls `listener` whenever an operation is created, changes (status message, cancellation,
   * outcome) or is deleted, on this node or, with a shared store, on any node: what a live view
   * (the console's event stream) follows. Returns the function that stops the calls.
   */
  watch(listener: (change: OperationChange) => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  private emit(name: string, kind: OperationChange['kind']): void {
    for (const listener of this.watchers) {
      try {
        listener({ name, kind });
      } catch (error) {
        this.log.error({ err: error }, 'an operation watcher failed');
      }
    }
  }

  /** Events may have been missed: nothing cached can be trusted, and every waiter looks again. */
  private onGap(): void {
    this.events++;
    this.records.clear();
    this.waiters.notifyAll();
  }

  private lease(): Lease {
    return { owner: this.nodeId, until: this.leaseEnd() };
  }

  private leaseEnd(): Date {
    return new Date(Date.now() + this.leaseMs);
  }

  /** Stops handlers without recording an outcome (they resume at the next start), then waits for them. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    const all = [...this.running.values()];
    for (const { control } of all) control.abort(new ShuttingDown('server shutting down'));
    await Promise.allSettled(all.map((r) => r.done));
  }

  private handler(kind: string): OperationHandler {
    const handler = this.handlers.get(kind);
    if (!handler) throw new Error(`no operation handler registered for kind ${kind}`);
    return handler;
  }

  /** Runs the handler of an operation that is in the store already (after a restart). */
  private launch(record: OperationRecord, handler: OperationHandler, resumed: boolean): void {
    if (this.stopping) return;
    const control = new RunControl();
    this.track(record, control, this.run(record, handler, record.input, control, resumed, Promise.resolve()));
  }

  /** Registers running work, so cancel and stop reach it, and commits its outcome when it ends. */
  private track(record: Ending & Pick<OperationRecord, 'target'>, control: RunControl, settlement: Promise<Settlement>): void {
    const { name, target } = record;
    this.busyTargets.set(target, (this.busyTargets.get(target) ?? 0) + 1);
    const done = settlement
      .then((s) => this.settle(record, s))
      // A failed final write leaves the operation unfinished in the store; the next start resumes or fails it.
      .catch((error: unknown) => this.log.error({ err: error, operation: name }, 'could not record the outcome of an operation'))
      .finally(() => {
        this.running.delete(name);
        const left = (this.busyTargets.get(target) ?? 1) - 1;
        if (left > 0) this.busyTargets.set(target, left);
        else this.busyTargets.delete(target);
      });
    this.running.set(name, { control, done, since: performance.now() });
  }

  /**
   * Which of these resources an unfinished operation acts on (AIP-128 `reconciling`). On a store of
   * its own this node runs every operation, and knows; with other nodes, the store says.
   */
  async reconciling(targets: readonly string[]): Promise<Set<string>> {
    if (!this.shared) return new Set(targets.filter((t) => this.busyTargets.has(t)));
    return targets.length === 0 ? new Set() : this.store.unfinishedTargets(targets);
  }

  /**
   * The resources directly under `prefix` (`…/connections/`, not what is below them) that an
   * unfinished operation acts on: a List's `reconciling` filter. With other nodes, the store's
   * targets of the work in flight.
   */
  async reconcilingUnder(prefix: string): Promise<Set<string>> {
    const under = (target: string) => target.startsWith(prefix) && !target.includes('/', prefix.length);
    const targets = this.shared ? await this.store.unfinishedTargetsUnder(prefix) : this.busyTargets.keys();
    return new Set([...targets].filter(under));
  }

  /** How many operations this node's handlers are running now. */
  get runningCount(): number {
    return this.running.size;
  }

  /** Runs a handler to its end; never rejects. `inserted` resolves once the operation is in the store. */
  private async run(op: Pick<OperationRecord, 'name' | 'verb' | 'target'>, handler: OperationHandler, input: string, control: RunControl, resumed: boolean, inserted: Promise<void>): Promise<Settlement> {
    const { name, verb, target } = op;
    try {
      const result = await handler.run(input, {
        name,
        verb,
        target,
        // A getter: the signal is made only when the handler looks at it (work that only sleeps does not).
        get signal() {
          return control.signal;
        },
        sleep: (ms) => control.sleep(ms),
        resumed,
        reportStatus: async (message) => {
          await inserted;
          await this.store.setStatusMessage(name, message);
          const cached = this.records.get(name);
          if (cached && !cached.done) this.records.set(name, { ...cached, statusMessage: message });
          this.emit(name, 'updated');
        },
      });
      return { kind: 'result', result };
    } catch (error) {
      const reason = control.reason;
      if (reason instanceof ShuttingDown || reason instanceof NotCreated || reason instanceof LeaseLost) return { kind: 'stopped' };
      return { kind: 'error', error: this.failureOf(error, reason, name) };
    }
  }

  /** Commits how a tracked operation ended (nothing when the server is going away: it resumes at the next start). */
  private async settle(op: Ending, settlement: Settlement): Promise<void> {
    if (settlement.kind === 'stopped') return;
    if (settlement.kind === 'error') return this.finish(op, { error: settlement.error });
    try {
      await this.finish(op, { response: settlement.result.response }, settlement.result.change);
    } catch (error) {
      // The change's preconditions no longer hold (another writer got there first): the operation ends with that error.
      if (!(error instanceof PreconditionFailedError)) throw error;
      const { code, message } = describePrecondition(error.precondition);
      await this.finish(op, { error: { code, message } });
    }
  }

  private failureOf(error: unknown, stopReason: Error | undefined, name: string): OperationError {
    if (error instanceof CancelRequested || stopReason instanceof CancelRequested) return cancelledError();
    if (error instanceof OperationFailure) return { code: error.code, message: error.message };
    const id = randomBytes(6).toString('hex');
    this.log.error({ err: error, operation: name, errorId: id }, 'operation handler failed');
    return { code: Code.INTERNAL, message: `Internal error while running the operation (error id ${id}).` };
  }

  private async finish(op: Ending, outcome: Outcome, change?: ResourceChange): Promise<void> {
    const { name } = op;
    const endTime = new Date();
    let updated: boolean;
    const writing = this.untilReachable(() => this.store.finishOperation(name, outcome, endTime, change, this.nodeId));
    // Other nodes hear of the outcome when it commits, maybe before this node does: a read here waits for it.
    if (this.shared) this.finishing.set(name, writing.catch(() => undefined));
    try {
      updated = await writing;
    } catch (error) {
      if (!(error instanceof LeaseLostError)) throw error;
      this.log.info({ operation: name }, 'another node took this operation over; its outcome here is dropped');
      this.records.delete(name);
      return;
    } finally {
      this.finishing.delete(name);
    }
    // Read after the commit: a cancel committed just before this finish is in the cached record by now.
    const cached = this.records.get(name);
    if (updated && cached) this.records.set(name, { ...cached, done: true, endTime, error: outcome.error, response: outcome.response });
    else this.records.delete(name);
    this.waiters.notify(name);
    if (updated) this.emit(name, 'updated');
    this.observer?.operationEnded(op.verb, outcome.error?.code ?? Code.OK, (endTime.getTime() - op.createTime.getTime()) / 1_000);
  }

  /**
   * Runs a final write until the store takes it: while the database is unreachable the outcome waits
   * here (the lease may run out meanwhile, and then the write is refused). Gives up when the node stops.
   */
  private async untilReachable<T>(write: () => Promise<T>): Promise<T> {
    for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
      try {
        return await write();
      } catch (error) {
        if (!(error instanceof ApiError && error.code === Code.UNAVAILABLE) || this.stopping) throw error;
        this.log.warn({ err: error }, 'the store is unreachable; the outcome of an operation waits to be written');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /**
   * Caches a record read back from a write. With other nodes, only what they cannot change behind
   * this node's back: a done record, or one of an operation this node runs. (Another node's finish
   * may be notified before this write's answer arrives; a running record cached after it would stay.)
   */
  private remember(name: string, record: OperationRecord | undefined, seen: number): void {
    if (record && (record.done || !this.shared || this.running.has(name)) && seen === this.events) this.records.set(name, record);
    else this.records.delete(name);
  }
}

/** How often the cluster runs retention (at most), and how many operations one run deletes at most. */
const RETENTION_EVERY_MS = 10 * 60_000;
const RETENTION_BATCH = 10_000;
/**
 * How often a node with other nodes looks for operations whose lease ran out: a dead node's work
 * is taken over within a lease and this (the bench's goal is a lease and a second). The query walks
 * the unfinished operations (lease ends are not indexed: renewals would then rewrite every index of
 * the row): measured 1.9 ms with 1,000 of them running, 22 ms with 50,000, so about 4% of a database
 * core per node at that size.
 */
const CLAIM_EVERY_MS = 500;
/** How many unfinished operations one claim takes at a time. */
const CLAIM_BATCH = 100;
/** A time every lease ends before: on a store of its own, a starting node claims every unfinished operation. */
const FAR_FUTURE = new Date(8.64e15);

function cancelledError(): OperationError {
  return { code: Code.CANCELLED, message: 'Operation was cancelled.' };
}

/** How a handler ended: its result, its failure as a google.rpc.Status, or stopped (the server is going away, or its operation was never created). */
type Settlement = { kind: 'result'; result: HandlerResult } | { kind: 'error'; error: OperationError } | { kind: 'stopped' };
/** A handler that ended with an outcome to commit. */
type Ended = Exclude<Settlement, { kind: 'stopped' }>;
/** What the end of an operation is committed and observed by. */
type Ending = Pick<OperationRecord, 'name' | 'verb' | 'createTime'>;

/** Resolves at the next turn of the event loop, after every pending microtask (and its own I/O callbacks) has run. */
function nextTurn(): Promise<undefined> {
  return new Promise((resolve) => setImmediate(() => resolve(undefined)));
}

/** A promise with its settle functions; its rejection alone is not an unhandled rejection. */
class Deferred {
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (error: unknown) => void;

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.promise.catch(() => undefined);
  }
}

/**
 * Google-style operation ids: `operation-{unixMillis}-{random hex}`. The hex comes from
 * randomUUID, which draws on a pooled entropy buffer: a randomBytes call per operation cost 5% of the lifecycle.
 */
function newOperationId(): string {
  return `operation-${Date.now()}-${randomUUID().replaceAll('-', '').slice(0, 16)}`;
}
