import type { CallContext } from '../api/context.js';
import type { Principal } from '../auth/principal.js';

/**
 * The call context of one REST request or gRPC call. Its signal is made only when a method reads
 * it, as most never do (WaitOperation does): an AbortSignal, an EventTarget in Node 20, costs
 * microseconds to make and listen to. `watch` is called then, to arrange for `abort` when the
 * client goes away.
 */
export class LazyCallContext implements CallContext {
  private controller: AbortController | undefined;

  constructor(
    readonly principal: Principal,
    private readonly watch: (abort: (reason: Error) => void) => void,
  ) {}

  get signal(): AbortSignal {
    if (!this.controller) {
      const controller = new AbortController();
      this.controller = controller;
      this.watch((reason) => controller.abort(reason));
    }
    return this.controller.signal;
  }
}
