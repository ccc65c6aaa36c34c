import type { Principal } from '../auth/principal.js';

/** What every API call knows about its caller, independent of the transport that carried it. */
export interface CallContext {
  /** Aborted when the client goes away or its deadline passes. */
  readonly signal: AbortSignal;
  /** The authenticated caller. */
  readonly principal: Principal;
}
