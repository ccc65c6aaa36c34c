import type { DescMethod } from '@bufbuild/protobuf';
import type { Code } from '../common/errors.js';

export type Transport = 'grpc' | 'rest';

/**
 * Told of every call that reached a method of the table, once it is answered, by the transport
 * that carried it: the one place that knows the method, the code and the transport (metrics).
 * Calls refused before a method is known (an unknown REST path or gRPC method, a malformed
 * HTTP/2 stream) are not calls of any method, and are not reported.
 */
export interface CallObserver {
  /** `error`: what the call failed with (undefined when it succeeded), whose ErrorInfo tells why it was denied. */
  callEnded(method: DescMethod, transport: Transport, code: Code, seconds: number, error: unknown): void;
}
