import { createHash } from 'node:crypto';
import { clone, toJson, type DescMethod, type Message } from '@bufbuild/protobuf';
import { stringify } from 'safe-stable-stringify';
import { registry } from '../proto/registry.js';
import type { RequestKey } from '../store/store.js';
import { ApiError } from '../common/errors.js';

// Developer Connect: "The request ID must be a valid UUID with the exception that zero UUID is not supported".
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/**
 * The identity of a request that carries a `request_id` (its key and fingerprint, see RequestKey),
 * or undefined when it carries none (it is then not idempotent). Call it before the request is changed.
 */
export function requestIdentity(method: DescMethod, request: Message): RequestKey | undefined {
  const id = (request as unknown as { requestId?: unknown }).requestId;
  if (typeof id !== 'string' || id === '') return undefined;
  if (!UUID.test(id) || id === ZERO_UUID) {
    throw ApiError.invalidArgument(`request_id '${id}' must be a UUID other than the zero UUID (AIP-155).`, 'request_id');
  }
  const rest = clone(method.input, request) as unknown as { requestId: string };
  rest.requestId = '';
  // Canonical JSON (keys sorted): a retry whose map fields come in another order is still a retry.
  const canonical = stringify(toJson(method.input, rest as unknown as Message, { registry }));
  return { key: `${method.name} ${id.toLowerCase()}`, fingerprint: createHash('sha256').update(canonical ?? '').digest('base64url') };
}

/** The answer to a request id used again for another request. */
export function requestIdReused(requestId: string): ApiError {
  return ApiError.invalidArgument(
    `request_id '${requestId}' was already used for a different request; a retry must repeat the request exactly, and a new request needs a new request_id.`,
    'request_id',
  );
}
