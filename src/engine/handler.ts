import type { ResourceChange, StoredAny } from '../store/store.js';

/** What a running handler sees: its operation, the signal that asks it to stop, a progress channel. */
export interface OperationContext {
  readonly name: string;
  /** The operation's `OperationMetadata.verb` (`create`, `update`, `delete`) and `target` (the resource's name). */
  readonly verb: string;
  readonly target: string;
  /** Aborted when cancellation is requested or the server shuts down; every blocking await takes it. */
  readonly signal: AbortSignal;
  /**
   * Waits `ms`, or rejects with the signal's reason when it aborts first: what a wait on `signal`
   * does, for less (the signal is made only for a handler that reads it). 0 or less resolves at once.
   */
  sleep(ms: number): Promise<void>;
  /** True when a restarted server runs the operation again: the work may already be partly or wholly done. */
  readonly resumed: boolean;
  /** Records `OperationMetadata.statusMessage`; committed before it resolves. */
  reportStatus(message: string): Promise<void>;
}

/** A successful result: the `response` of the operation and the resource change committed with it. */
export interface HandlerResult {
  response: StoredAny;
  change?: ResourceChange;
}

/**
 * The work behind one kind of operation. Handlers stop between steps when `signal` aborts and
 * never leave a half-written change: the engine commits `change` and the outcome in one transaction.
 */
export interface OperationHandler {
  readonly kind: string;
  /** False: CancelOperation answers UNIMPLEMENTED for operations of this kind. */
  readonly cancellable: boolean;
  /** What a restarted server does with an unfinished operation: run it again (the handler is idempotent) or fail it. */
  readonly afterRestart: 'resume' | 'fail';
  run(input: string, context: OperationContext): Promise<HandlerResult>;
}

/** A handler's way to end its operation with a google.rpc.Status (e.g. ALREADY_EXISTS). */
export class OperationFailure extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'OperationFailure';
  }
}

/**
 * The reason a handler's signal carries when a client asked to cancel its operation (as opposed to
 * the server going away): what lets a decorator tell the two apart (fault injection's ignoreCancel).
 */
export class CancelRequested extends Error {
  override name = 'CancelRequested';
}
