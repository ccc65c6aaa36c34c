import { toJson, type JsonObject, type JsonWriteOptions, type Message } from '@bufbuild/protobuf';
import { AnySchema, type Any } from '@bufbuild/protobuf/wkt';
import { packedMessage } from '../api/operation-message.js';
import type { Operation } from '../gen/google/longrunning/operations_pb.js';
import { StatusSchema } from '../gen/google/rpc/status_pb.js';
import { registry } from '../proto/registry.js';

/**
 * `google.longrunning.Operation` in the proto3 JSON mapping: the same JSON as protobuf-es's
 * toJson(OperationSchema) (test/transport/operation-json.test.ts holds them equal), made faster by
 * not decoding an Any's bytes again when the message packed into it is at hand (packedMessage):
 * its fields are written by protobuf-es, then `@type`, as the mapping of Any says. Written by hand
 * because toJson offers no hook for it, and an Operation is on nearly every answer of this API.
 */
export function operationToJson(operation: Operation, writeOptions: Partial<JsonWriteOptions>): JsonObject {
  const options = { ...writeOptions, registry };
  const json: JsonObject = {};
  if (operation.name !== '') json.name = operation.name;
  if (operation.metadata) json.metadata = anyToJson(operation.metadata, options);
  if (operation.done) json.done = true;
  if (operation.result.case === 'error') json.error = toJson(StatusSchema, operation.result.value, options);
  else if (operation.result.case === 'response') json.response = anyToJson(operation.result.value, options);
  return json;
}

function anyToJson(any: Any, options: Partial<JsonWriteOptions>): JsonObject {
  const message = packedMessage(any);
  const schema = message && registry.getMessage(message.$typeName);
  // Well-known types have their own JSON forms ({"@type", "value"}); protobuf-es writes those.
  if (!message || !schema || schema.typeName.startsWith('google.protobuf.') || any.typeUrl === '') {
    return toJson(AnySchema, any, options) as JsonObject;
  }
  const json = toJson(schema, message as Message, options) as JsonObject;
  json['@type'] = any.typeUrl;
  return json;
}
