import { create } from '@bufbuild/protobuf';
import { AnySchema, anyPack, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { OperationMetadataSchema } from '../gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { OperationSchema, type Operation } from '../gen/google/longrunning/operations_pb.js';
import { StatusSchema } from '../gen/google/rpc/status_pb.js';
import type { OperationRecord } from '../store/store.js';

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
    result = { case: 'response', value: create(AnySchema, record.response) };
  }
  return create(OperationSchema, {
    name: record.name,
    metadata: anyPack(OperationMetadataSchema, metadata),
    done: record.done,
    result,
  });
}
