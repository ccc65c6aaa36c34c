import { randomUUID } from 'node:crypto';
import { toBinary, type DescField, type DescMessage, type Message } from '@bufbuild/protobuf';
import { ApiError } from '../common/errors.js';
import { describePrecondition, PreconditionFailedError } from '../common/preconditions.js';
import { OperationFailure } from '../engine/handler.js';
import { RequestIdReusedError } from '../store/store.js';
import { requestIdReused } from './request-id.js';

/** Small pieces of the standard methods (standard-methods.ts): names, etags, encodings and error translations. */

export function fieldsOf(message: Message): Record<string, unknown> {
  return message as unknown as Record<string, unknown>;
}

export function requiredField(desc: DescMessage, protoName: string): DescField {
  const field = desc.fields.find((f) => f.name === protoName);
  if (!field) throw new Error(`${desc.typeName} has no field ${protoName}`);
  return field;
}

export function flag(value: unknown): boolean {
  return value === true;
}

export function encode(schema: DescMessage, message: Message): string {
  return Buffer.from(toBinary(schema, message)).toString('base64');
}

/** A new etag: 16 hex digits, different on every write (AIP-154). */
export function newEtag(): string {
  return randomUUID().replaceAll('-', '').slice(0, 16);
}

/** `projects/p/locations/l`: where a resource's operations are listed. */
export function locationOf(name: string): string {
  // The name up to its fourth '/', or all of it: split('/').slice(0, 4).join('/') without the arrays.
  let end = -1;
  for (let i = 0; i < 4; i++) {
    end = name.indexOf('/', end + 1);
    if (end < 0) return name;
  }
  return name.slice(0, end);
}

/** The name without its last two segments (`projects/p/locations/l` of `…/connections/c`); '' when it has no more. */
export function parentOf(name: string): string {
  const last = name.lastIndexOf('/');
  if (last <= 0) return '';
  const before = name.lastIndexOf('/', last - 1);
  return before < 0 ? '' : name.slice(0, before);
}

/** An ApiError raised while a handler runs ends its operation with the same code and message. */
export function asFailure(check: () => void): void {
  try {
    check();
  } catch (error) {
    if (error instanceof ApiError) throw new OperationFailure(error.code, error.message);
    throw error;
  }
}

/** A store refusal the caller caused, as the ApiError it sees; other errors pass. */
export function asApiError(error: unknown, requestId: string): unknown {
  if (error instanceof RequestIdReusedError) return requestIdReused(requestId);
  if (error instanceof PreconditionFailedError) {
    const { code, message, reason } = describePrecondition(error.precondition);
    return new ApiError(code, message, { reason, metadata: { resource: error.precondition.name } });
  }
  return error;
}
