import { performance } from 'node:perf_hooks';
import { pause } from '../api/pause.js';
import type { Code } from '../common/errors.js';
import { CancelRequested, OperationFailure, type HandlerResult, type OperationContext, type OperationHandler } from '../engine/handler.js';

/** How long each status message shows when a rule gives messages but no runFor. */
export const STATUS_MESSAGE_MS = 1_000;

/** What an operation rule does to one operation it fires on. */
export interface OperationFault {
  /** Ends the operation in this error after `afterMs`, without running its work: nothing it would change is changed. */
  fail?: { code: Code; message: string; afterMs: number };
  /** The operation runs to its end even when cancelled (CancelOperation still answers `{}`). */
  ignoreCancel: boolean;
  /** How long the operation runs before its work is done (on top of `--operation-delay`). */
  runForMs?: number;
  /** Reported as `OperationMetadata.statusMessage`, spread evenly over the run. */
  statusMessages: readonly string[];
}

/** Why a run whose cancellation was ignored stops after all: the server is going away. */
class ServerStopping extends Error {
  override name = 'ServerStopping';
}

/**
 * Decorates operation handlers (the engine's `wrapHandler`): each run asks `pick` for the fault of
 * its operation, by verb and target, and runs the handler under it; without one, the handler runs
 * as it is. Rules apply to every run of a handler, also to one resumed after a restart.
 */
export class OperationFaults {
  /** The stand-in signals of runs that ignore cancellation, for `stop`. */
  private readonly shields = new Set<{ source: AbortSignal; controller: AbortController }>();

  constructor(private readonly pick: (verb: string, target: string) => OperationFault | undefined) {}

  readonly wrap = (handler: OperationHandler): OperationHandler => ({
    kind: handler.kind,
    cancellable: handler.cancellable,
    afterRestart: handler.afterRestart,
    run: (input, context) => {
      const fault = this.pick(context.verb, context.target);
      return fault ? this.runFaulty(handler, input, context, fault) : handler.run(input, context);
    },
  });

  /**
   * Stops the runs whose cancellation was ignored. Their engine signal aborted already (for the
   * cancel), so the engine's own shutdown cannot reach them: called before the engine stops. They
   * end CANCELLED, as a restart would end them (their cancellation was committed).
   */
  stop(): void {
    for (const { source, controller } of this.shields) {
      if (source.aborted) controller.abort(new ServerStopping('server shutting down'));
    }
  }

  private async runFaulty(handler: OperationHandler, input: string, context: OperationContext, fault: OperationFault): Promise<HandlerResult> {
    const shield = fault.ignoreCancel ? this.shield(context.signal) : undefined;
    const signal = shield?.controller.signal ?? context.signal;
    try {
      const span = fault.fail?.afterMs ?? fault.runForMs ?? fault.statusMessages.length * STATUS_MESSAGE_MS;
      const started = performance.now();
      const until = (at: number) => pause(started + at - performance.now(), { signal });
      for (const [i, message] of fault.statusMessages.entries()) {
        await until((i * span) / fault.statusMessages.length);
        await context.reportStatus(message);
      }
      await until(span);
      if (fault.fail) throw new OperationFailure(fault.fail.code, fault.fail.message);
      const { name, verb, target, resumed } = context;
      // The handler's sleeps follow this signal too (a shield's, when the cancel is ignored).
      const sleep = shield ? (ms: number) => pause(ms, { signal }) : (ms: number) => context.sleep(ms);
      return await handler.run(input, { name, verb, target, resumed, signal, sleep, reportStatus: (message) => context.reportStatus(message) });
    } finally {
      if (shield) this.shields.delete(shield);
    }
  }

  /**
   * A signal that follows the engine's for everything but a cancellation (the server going away,
   * another node taking the operation over), so the work goes on when a client cancels: Google's
   * CancelOperation is best effort, and the operation may still complete.
   */
  private shield(source: AbortSignal): { source: AbortSignal; controller: AbortController } {
    const shield = { source, controller: new AbortController() };
    const follow = () => {
      if (!(source.reason instanceof CancelRequested)) shield.controller.abort(source.reason);
    };
    if (source.aborted) follow();
    else source.addEventListener('abort', follow, { once: true });
    this.shields.add(shield);
    return shield;
  }
}
