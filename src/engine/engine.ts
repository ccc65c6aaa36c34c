import { randomBytes, randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { Code } from '../gen/google/rpc/code_pb.js';
import type { FilterExpr } from '../store/filter-expr.js';
import { ResourceExistsError, type OperationRecord, type Outcome, type Page, type Store } from '../store/store.js';
import { OperationFailure, type HandlerResult, type OperationHandler } from './handler.js';
import { Waiters } from './waiters.js';

/** Why a handler's signal was aborted: the client asked, or this server is going away. */
class CancelRequested extends Error {
  override name = 'CancelRequested';
}
class ShuttingDown extends Error {
  override name = 'ShuttingDown';
}

export interface StartRequest {
  /** `projects/{project}/locations/{location}` */
  parent: string;
  kind: string;
  input: string;
  verb: string;
  target: string;
  /** A resource that must not exist: checked in the transaction that commits the operation (ResourceExistsError). */
  unlessExists?: string;
}

export type CancelResult = 'requested' | 'already-done' | 'not-found' | 'not-cancellable';

/**
 * The long-running-operations engine: starts operations with registered handlers, runs them,
 * cancels them, wakes waiters and recovers after a crash. Every state change is committed to the
 * store before it is acknowledged; memory holds only running handlers and waiters.
 */
export class Engine {
  private readonly handlers = new Map<string, OperationHandler>();
  private readonly running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private readonly waiters = new Waiters();
  /**
   * Write-through cache of operation records, filled only with what was committed: every change
   * this process makes goes to the store first, then here. Saves a store read on every poll of a
   * running operation. (Changes made by another process would need invalidation; there is none yet.)
   */
  private readonly records = new LRUCache<string, OperationRecord>({ max: 50_000 });
  private stopping = false;

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  register(handler: OperationHandler): void {
    this.handlers.set(handler.kind, handler);
  }

  /** Commits a new operation and schedules its handler; resolves with the stored record. */
  async start(request: StartRequest): Promise<OperationRecord> {
    const handler = this.handler(request.kind);
    const { unlessExists, ...fields } = request;
    const record = await this.store.insertOperation(
      { ...fields, name: `${request.parent}/operations/${newOperationId()}`, createTime: new Date() },
      unlessExists,
    );
    this.records.set(record.name, record);
    this.launch(record, handler, false);
    return record;
  }

  async get(name: string): Promise<OperationRecord | undefined> {
    const cached = this.records.get(name);
    if (cached) return cached;
    const record = await this.store.getOperation(name);
    if (record) this.records.set(name, record);
    return record;
  }

  list(query: { parent: string; pageSize: number; after?: string; filter?: FilterExpr }): Promise<Page<OperationRecord>> {
    return this.store.listOperations(query);
  }

  /**
   * Asks an operation to stop (best effort, per google.longrunning.Operations.CancelOperation).
   * The flag is committed first; then the running handler's signal is aborted, and the final
   * state is written when the handler stops.
   */
  async cancel(name: string): Promise<CancelResult> {
    const record = await this.get(name);
    if (!record) return 'not-found';
    if (record.done) return 'already-done';
    if (!this.handlers.get(record.kind)?.cancellable) return 'not-cancellable';
    const updated = await this.store.requestCancel(name);
    this.remember(name, updated);
    if (!updated) return 'not-found';
    if (updated.done && !updated.requestedCancellation) return 'already-done';
    this.running.get(name)?.controller.abort(new CancelRequested('cancellation requested'));
    return 'requested';
  }

  /** Removes the record; the work, if running, goes on to its end (the proto's DeleteOperation contract). */
  async delete(name: string): Promise<boolean> {
    const deleted = await this.store.deleteOperation(name);
    this.records.delete(name);
    if (deleted) this.waiters.notify(name);
    return deleted;
  }

  /** Resolves with the operation once it is done, deleted (undefined) or the timeout passes. */
  async wait(name: string, timeoutMs: number, signal?: AbortSignal): Promise<OperationRecord | undefined> {
    const parked = this.waiters.wait(name, timeoutMs, signal);
    // Parked before reading, so a finish between the read and the park cannot be missed.
    const current = await this.get(name);
    if (!current || current.done) {
      parked.cancel();
      return current;
    }
    await parked.ready;
    return this.get(name);
  }

  /** At start-up: resumes or fails what a previous process left running. */
  async recover(): Promise<{ resumed: number; failed: number }> {
    let resumed = 0;
    let failed = 0;
    for (const record of await this.store.listUnfinishedOperations()) {
      const handler = this.handlers.get(record.kind);
      if (record.requestedCancellation) {
        await this.finish(record.name, { error: cancelledError() });
        failed++;
      } else if (handler?.afterRestart === 'resume') {
        this.launch(record, handler, true);
        resumed++;
      } else {
        await this.finish(record.name, {
          error: {
            code: Code.ABORTED,
            message: 'The server restarted while this operation was running; it was not completed. Retry the request.',
          },
        });
        failed++;
      }
    }
    return { resumed, failed };
  }

  /** Stops handlers without recording an outcome (they resume at the next start), then waits for them. */
  async stop(): Promise<void> {
    this.stopping = true;
    const all = [...this.running.values()];
    for (const { controller } of all) controller.abort(new ShuttingDown('server shutting down'));
    await Promise.allSettled(all.map((r) => r.done));
  }

  private handler(kind: string): OperationHandler {
    const handler = this.handlers.get(kind);
    if (!handler) throw new Error(`no operation handler registered for kind ${kind}`);
    return handler;
  }

  private launch(record: OperationRecord, handler: OperationHandler, resumed: boolean): void {
    if (this.stopping) return;
    const controller = new AbortController();
    // A microtask, not a timer: the handler starts right after start() has returned, so with no
    // operation delay its outcome joins the next group commit instead of waiting a loop turn.
    const done = Promise.resolve()
      .then(() => this.execute(record, handler, controller.signal, resumed))
      // A failed final write leaves the operation unfinished in the store; the next start resumes or fails it.
      .catch((error: unknown) => this.log.error({ err: error, operation: record.name }, 'could not record the outcome of an operation'))
      .finally(() => this.running.delete(record.name));
    this.running.set(record.name, { controller, done });
  }

  private async execute(record: OperationRecord, handler: OperationHandler, signal: AbortSignal, resumed: boolean): Promise<void> {
    const name = record.name;
    let result: HandlerResult;
    try {
      result = await handler.run(record.input, {
        name,
        signal,
        resumed,
        reportStatus: async (message) => {
          await this.store.setStatusMessage(name, message);
          const cached = this.records.get(name);
          if (cached && !cached.done) this.records.set(name, { ...cached, statusMessage: message });
        },
      });
    } catch (error) {
      if (signal.reason instanceof ShuttingDown) return;
      await this.finish(name, { error: this.failureOf(error, signal, name) });
      return;
    }
    try {
      await this.finish(name, { response: result.response }, result);
    } catch (error) {
      if (!(error instanceof ResourceExistsError)) throw error;
      await this.finish(name, {
        error: { code: Code.ALREADY_EXISTS, message: `Resource '${error.resourceName}' already exists.` },
      });
    }
  }

  private failureOf(error: unknown, signal: AbortSignal, name: string): Outcome['error'] {
    if (error instanceof CancelRequested || signal.reason instanceof CancelRequested) return cancelledError();
    if (error instanceof OperationFailure) return { code: error.code, message: error.message };
    const id = randomBytes(6).toString('hex');
    this.log.error({ err: error, operation: name, errorId: id }, 'operation handler failed');
    return { code: Code.INTERNAL, message: `Internal error while running the operation (error id ${id}).` };
  }

  private async finish(name: string, outcome: Outcome, result?: HandlerResult): Promise<void> {
    const endTime = new Date();
    const updated = await this.store.finishOperation(name, outcome, endTime, result?.change);
    // Read after the commit: a cancel committed just before this finish is in the cached record by now.
    const cached = this.records.get(name);
    if (updated && cached) this.records.set(name, { ...cached, done: true, endTime, error: outcome.error, response: outcome.response });
    else this.records.delete(name);
    this.waiters.notify(name);
  }

  private remember(name: string, record: OperationRecord | undefined): void {
    if (record) this.records.set(name, record);
    else this.records.delete(name);
  }
}

function cancelledError(): { code: number; message: string } {
  return { code: Code.CANCELLED, message: 'Operation was cancelled.' };
}

/**
 * Google-style operation ids: `operation-{unixMillis}-{random hex}`. The hex comes from
 * randomUUID, which draws on a pooled entropy buffer: a randomBytes call per operation cost 5% of the lifecycle.
 */
function newOperationId(): string {
  return `operation-${Date.now()}-${randomUUID().replaceAll('-', '').slice(0, 16)}`;
}
