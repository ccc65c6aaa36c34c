import { create, type Message } from '@bufbuild/protobuf';
import { AnySchema, anyPack, timestampFromDate, type Any } from '@bufbuild/protobuf/wkt';
import { OperationMetadataSchema } from '../gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { OperationSchema, type Operation } from '../gen/google/longrunning/operations_pb.js';
import { StatusSchema } from '../gen/google/rpc/status_pb.js';
import type { OperationRecord } from '../store/store.js';

/**
 * The messages packed into the Anys of the operations made here: JSON encoders use them instead of
 * decoding the Anys' bytes again (see src/transport/operation-json.ts). Keyed weakly by the Any,
 * and by the bytes a handler encoded a response from (rememberEncoded), so the store's records
 * stay plain bytes and nothing here outlives what refers to it.
 */
const packed = new WeakMap<Any, Message>();
const encoded = new WeakMap<Uint8Array, Message>();

export function packedMessage(any: Any): Message | undefined {
  return packed.get(any);
}

/** Records that `bytes` encode `message`, so an Operation whose response is those bytes need not decode them. */
export function rememberEncoded(bytes: Uint8Array, message: Message): void {
  encoded.set(bytes, message);
}

/** A stored operation as `google.longrunning.Operation`, metadata packed as Developer Connect's OperationMetadata. */
export function toOperationMessage(record: OperationRecord): Operation {
  const metadata = create(OperationMetadataSchema, {
    createTime: timestampFromDate(record.createTime),
    endTime: record.endTime && timestampFromDate(record.endTime),
    target: record.target,
    verb: record.verb,
    statusMessage: record.statusMessage,
    requestedCancellation: record.requestedCancellation,
    apiVersion: 'v1',
  });
  let result: Operation['result'] = { case: undefined };
  if (record.error) {
    result = { case: 'error', value: create(StatusSchema, { code: record.error.code, message: record.error.message }) };
  } else if (record.response) {
    const { typeUrl, value } = record.response;
    const response = create(AnySchema, { typeUrl, value });
    const message = encoded.get(value);
    if (message) packed.set(response, message);
    result = { case: 'response', value: response };
  }
  const packedMetadata = anyPack(OperationMetadataSchema, metadata);
  packed.set(packedMetadata, metadata);
  return create(OperationSchema, { name: record.name, metadata: packedMetadata, done: record.done, result });
}
