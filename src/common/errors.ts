import { Code } from '../gen/google/rpc/code_pb.js';

export { Code };

/** Domain reported in ErrorInfo details, as Google's services do (AIP-193). */
export const ERROR_DOMAIN = 'developerconnect.googleapis.com';

export interface ErrorInfoDetail {
  reason: string;
  domain?: string;
  metadata?: Record<string, string>;
}

/**
 * The one error type of the API surface: a google.rpc.Code, a message written for the person who
 * reads it, and an optional ErrorInfo. Transports turn it into google.rpc.Status on the wire.
 */
/** One field of a request that is wrong, as `google.rpc.BadRequest.FieldViolation` names it. */
export interface FieldViolation {
  /** The field's path in the request, proto names (`connection.github_config`). */
  field: string;
  description: string;
}

export class ApiError extends Error {
  constructor(
    readonly code: Code,
    message: string,
    readonly errorInfo?: ErrorInfoDetail,
    /** Sent as a google.rpc.BadRequest detail. */
    readonly fieldViolations?: readonly FieldViolation[],
    /** Sent as a google.rpc.RetryInfo detail: how long the client should wait before it retries. */
    readonly retryDelayMs?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** INVALID_ARGUMENT with a BadRequest detail naming the field (AIP-193), for a field a person must fix. */
  static badField(field: string, description: string): ApiError {
    return new ApiError(Code.INVALID_ARGUMENT, description, { reason: 'INVALID_ARGUMENT', metadata: { field } }, [{ field, description }]);
  }

  static invalidArgument(message: string, field?: string): ApiError {
    return new ApiError(Code.INVALID_ARGUMENT, message, {
      reason: 'INVALID_ARGUMENT',
      metadata: field ? { field } : {},
    });
  }

  static notFound(message: string, resource?: string): ApiError {
    return new ApiError(Code.NOT_FOUND, message, {
      reason: 'RESOURCE_NOT_FOUND',
      metadata: resource ? { resource } : {},
    });
  }
}
