import { ApiError, Code } from '../common/errors.js';

/** Socket errors of a database that cannot be reached. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/**
 * SQLSTATEs of a server going away or not taking connections: class 08 (connection exception),
 * 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now) and 53300 (too many connections).
 */
const SERVER_STATES = /^(08...|57P0[1-3]|53300)$/;
/** What node-postgres says, without a code, when a connection ends under a query or cannot be made in time. */
const DRIVER_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|connection error and is not queryable|Query read timeout/i;

/** Whether `error` says the database cannot be reached now (rather than that a statement is wrong). */
export function isUnreachable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || SERVER_STATES.test(code))) return true;
  return DRIVER_MESSAGES.test(error.message);
}

/**
 * Rethrows a failure to reach the database as UNAVAILABLE, the code Google's client libraries
 * retry with back-off, with a message that says so; any other error as it is.
 */
export function rethrowUnavailable(error: unknown): never {
  if (isUnreachable(error)) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ApiError(Code.UNAVAILABLE, `The database is unreachable (${detail}). The call was not completed; retry it later.`, {
      reason: 'DATABASE_UNAVAILABLE',
      metadata: {},
    });
  }
  throw error;
}
