import { randomBytes } from 'node:crypto';
import { create, toJson, type JsonObject } from '@bufbuild/protobuf';
import { anyPack, type Any } from '@bufbuild/protobuf/wkt';
import type { Logger } from 'pino';
import { ApiError, Code, ERROR_DOMAIN } from '../common/errors.js';
import { BadRequest_FieldViolationSchema, BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from '../gen/google/rpc/error_details_pb.js';
import { StatusSchema, type Status } from '../gen/google/rpc/status_pb.js';
import { registry } from '../proto/registry.js';

/** google.rpc.Code → HTTP status, as in google/rpc/code.proto and AIP-193. */
const HTTP_STATUS: Record<Code, number> = {
  [Code.OK]: 200,
  [Code.CANCELLED]: 499,
  [Code.UNKNOWN]: 500,
  [Code.INVALID_ARGUMENT]: 400,
  [Code.DEADLINE_EXCEEDED]: 504,
  [Code.NOT_FOUND]: 404,
  [Code.ALREADY_EXISTS]: 409,
  [Code.PERMISSION_DENIED]: 403,
  [Code.UNAUTHENTICATED]: 401,
  [Code.RESOURCE_EXHAUSTED]: 429,
  [Code.FAILED_PRECONDITION]: 400,
  [Code.ABORTED]: 409,
  [Code.OUT_OF_RANGE]: 400,
  [Code.UNIMPLEMENTED]: 501,
  [Code.INTERNAL]: 500,
  [Code.UNAVAILABLE]: 503,
  [Code.DATA_LOSS]: 500,
};

export function httpStatusOf(code: Code): number {
  return HTTP_STATUS[code] ?? 500;
}

/**
 * The client went away before its answer: it closed the connection mid-request or cancelled the
 * call. CANCELLED, which google/rpc/code.proto says is "typically by the caller". It is not the
 * server's fault, so it is logged at debug, not as an unexpected error (#11).
 */
export class ClientCancelled extends ApiError {
  constructor(message: string, cause?: unknown) {
    super(Code.CANCELLED, message);
    this.cause = cause;
  }
}

/** An ApiError as the google.rpc.Status sent on the wire, its ErrorInfo, field violations and retry delay as details. */
export function statusOf(error: ApiError): Status {
  const details: Any[] = [];
  if (error.errorInfo) {
    details.push(
      anyPack(
        ErrorInfoSchema,
        create(ErrorInfoSchema, {
          reason: error.errorInfo.reason,
          domain: error.errorInfo.domain ?? ERROR_DOMAIN,
          metadata: error.errorInfo.metadata ?? {},
        }),
      ),
    );
  }
  if (error.fieldViolations?.length) {
    const fieldViolations = error.fieldViolations.map((v) => create(BadRequest_FieldViolationSchema, v));
    details.push(anyPack(BadRequestSchema, create(BadRequestSchema, { fieldViolations })));
  }
  if (error.retryDelayMs !== undefined) {
    const ms = Math.max(0, Math.round(error.retryDelayMs));
    const retryDelay = { seconds: BigInt(Math.floor(ms / 1_000)), nanos: (ms % 1_000) * 1_000_000 };
    details.push(anyPack(RetryInfoSchema, create(RetryInfoSchema, { retryDelay })));
  }
  return create(StatusSchema, { code: error.code, message: error.message, details });
}

/**
 * Any thrown value as the google.rpc.Status sent on the wire. An unexpected exception is logged
 * with an id and answered INTERNAL with that id, never with its stack.
 */
export function toStatus(error: unknown, log: Logger): Status {
  if (error instanceof ClientCancelled) log.debug({ err: error.cause ?? error }, error.message);
  if (error instanceof ApiError) return statusOf(error);
  const id = randomBytes(6).toString('hex');
  log.error({ err: error, errorId: id }, 'unexpected error');
  return create(StatusSchema, { code: Code.INTERNAL, message: `Internal error (error id ${id}).` });
}

/**
 * The AIP-193 JSON body of an error: `{"error": {code, message, status, details}}`, where `code` is
 * the HTTP status (the one the code maps to, unless the HTTP layer chose a more precise one, as 431).
 */
export function errorJson(status: Status, httpStatus = httpStatusOf(status.code)): JsonObject {
  // The detail messages we send (ErrorInfo, BadRequest, ResourceInfo, ...) have no enum fields,
  // so `alt=json;enum-encoding=int` does not change an error's JSON.
  const json = toJson(StatusSchema, status, { registry }) as JsonObject;
  return { error: { code: httpStatus, message: status.message, status: Code[status.code] ?? 'UNKNOWN', details: json.details ?? [] } };
}
