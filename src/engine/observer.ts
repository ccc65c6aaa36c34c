import type { Code } from '../common/errors.js';

/** Told when this node commits how an operation ended (metrics); the engine knows no metrics library. */
export interface OperationObserver {
  /**
   * `code`: OK when the operation ended with a response, else its error's code (CANCELLED for a
   * cancellation); `seconds`: from its creation to its end, restarts included.
   */
  operationEnded(verb: string, code: Code, seconds: number): void;
}
