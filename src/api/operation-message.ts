import { create, toBinary, type DescMessage, type Message, type MessageShape } from '@bufbuild/protobuf';
import { AnySchema, timestampFromDate, type Any } from '@bufbuild/protobuf/wkt';
import { LRUCache } from 'lru-cache';
import { OperationMetadataSchema } from '../gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { OperationSchema, type Operation } from '../gen/google/longrunning/operations_pb.js';
import { StatusSchema } from '../gen/google/rpc/status_pb.js';
import type { OperationRecord } from '../store/store.js';

/**
 * The messages packed into the Anys of the operations made here: JSON encoders use them instead of
 * decoding the Anys' bytes again (see src/transport/operation-json.ts). Keyed weakly by the Any.
 */
const packed = new WeakMap<Any, Message>();
/**
 * The messages that handlers' response bytes were encoded from (rememberEncoded), until the answer
 * that first reports the outcome is built: the create's reply, or the first GetOperation of a polled
 * operation once it is done. That one answer is then kept (DoneOperations) with its message packed.
 * Bounded, not weak: the engine caches the same bytes for as long as it keeps the record, and a
 * decoded message per cached operation would cost far more than the bytes. An outcome is reported
 * within milliseconds, while a client polls; outcomes nobody asks for soon are let go.
 */
const encoded = new LRUCache<Uint8Array, Message>({ max: 1_024 });

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
    if (message) {
      packed.set(response, message);
      encoded.delete(value);
    }
    result = { case: 'response', value: response };
  }
  const packedMetadata = lazilyPacked(OperationMetadataSchema, metadata);
  return create(OperationSchema, { name: record.name, metadata: packedMetadata, done: record.done, result });
}

/**
 * anyPack, but the bytes are encoded when first read: a JSON answer writes the packed message
 * (packedMessage) and never reads them, and every operation answer packs its metadata. protobuf-es
 * reads fields by name, so an accessor is a field like any other; an object literal with one stays
 * as fast to read as create()'s messages, which Object.defineProperty on one of those would not.
 */
function lazilyPacked<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): Any {
  let bytes: Uint8Array | undefined;
  const any: Any = {
    $typeName: 'google.protobuf.Any',
    typeUrl: `type.googleapis.com/${schema.typeName}`,
    get value() {
      return (bytes ??= toBinary(schema, message));
    },
    set value(value: Uint8Array) {
      bytes = value;
    },
  };
  packed.set(any, message);
  return any;
}
