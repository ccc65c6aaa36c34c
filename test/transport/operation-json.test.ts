import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create, fromBinary, toBinary, toJson } from '@bufbuild/protobuf';
import { anyPack, anyUnpack, EmptySchema, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { packedMessage, rememberEncoded, toOperationMessage } from '../../src/api/operation-message.js';
import { ConnectionSchema, InstallationState_Stage, OperationMetadataSchema } from '../../src/gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { OperationSchema } from '../../src/gen/google/longrunning/operations_pb.js';
import { registry } from '../../src/proto/registry.js';
import type { OperationRecord } from '../../src/store/store.js';
import { operationToJson } from '../../src/transport/operation-json.js';

const connection = create(ConnectionSchema, {
  name: 'projects/p/locations/us-central1/connections/c',
  createTime: timestampFromDate(new Date(Date.UTC(2026, 10, 25, 12, 0, 0, 123))),
  labels: { env: 'prod', team: 'a' },
  installationState: { stage: InstallationState_Stage.COMPLETE },
  connectionConfig: { case: 'githubConfig', value: { githubApp: 1, appInstallationId: 42n } },
  etag: 'abc',
  uid: '0b0c5d2e-1f00-4c1a-9d7a-5e2b0d1c2f3a',
});
const running: OperationRecord = {
  name: 'projects/p/locations/us-central1/operations/operation-1-abc',
  parent: 'projects/p/locations/us-central1',
  kind: 'connections.create',
  input: '{}',
  verb: 'create',
  target: connection.name,
  createTime: new Date(Date.UTC(2026, 10, 25, 12, 0, 0)),
  statusMessage: 'working: 50%',
  requestedCancellation: true,
  done: false,
};
const endTime = new Date(Date.UTC(2026, 10, 25, 12, 0, 1, 5));
const bytes = toBinary(ConnectionSchema, connection);
const remembered = toBinary(ConnectionSchema, connection);
rememberEncoded(remembered, connection);
const empty = anyPack(EmptySchema, create(EmptySchema));
rememberEncoded(empty.value, create(EmptySchema));

const records: Record<string, OperationRecord> = {
  running,
  'done, the response message at hand': { ...running, done: true, endTime, response: { typeUrl: 'type.googleapis.com/google.cloud.developerconnect.v1.Connection', value: remembered } },
  'done, the response only as bytes (read from the store)': { ...running, done: true, endTime, response: { typeUrl: 'type.googleapis.com/google.cloud.developerconnect.v1.Connection', value: bytes } },
  'done with google.protobuf.Empty': { ...running, done: true, endTime, response: { typeUrl: empty.typeUrl, value: empty.value } },
  failed: { ...running, done: true, endTime, error: { code: 1, message: 'Operation was cancelled.' } },
};

describe('operationToJson', () => {
  for (const [label, record] of Object.entries(records)) {
    it(`writes the same JSON as protobuf-es's toJson: ${label}`, () => {
      // Built once: the first build of a record with remembered bytes is the one that packs their message.
      const operation = toOperationMessage(record);
      for (const enumAsInteger of [false, true]) {
        const expected = toJson(OperationSchema, operation, { registry, enumAsInteger });
        const actual = operationToJson(operation, { enumAsInteger });
        assert.deepEqual(actual, expected);
        assert.equal(JSON.stringify(actual), JSON.stringify(expected), 'also in key order');
      }
    });
  }
});

describe('toOperationMessage', () => {
  it('packs the metadata as anyPack does, in the binary encoding too', () => {
    const operation = toOperationMessage(running);
    const decoded = fromBinary(OperationSchema, toBinary(OperationSchema, operation));
    assert.ok(decoded.metadata);
    const metadata = anyUnpack(decoded.metadata, OperationMetadataSchema);
    assert.ok(metadata);
    assert.deepEqual(decoded.metadata, anyPack(OperationMetadataSchema, metadata));
    assert.equal(metadata.statusMessage, 'working: 50%');
    assert.equal(metadata.requestedCancellation, true);
    assert.equal(metadata.target, connection.name);
  });

  it('packs the message a response was encoded from into the first operation that reports it, and then forgets it', () => {
    const value = toBinary(ConnectionSchema, connection);
    rememberEncoded(value, connection);
    const done: OperationRecord = { ...running, done: true, endTime, response: { typeUrl: 'type.googleapis.com/google.cloud.developerconnect.v1.Connection', value } };
    // The engine caches a record of its own for the finished operation, with the same bytes: the message is found by them.
    const first = toOperationMessage({ ...done });
    assert.equal(first.result.case === 'response' && packedMessage(first.result.value), connection);
    // Kept from then on by that operation only (DoneOperations keeps it): a later build decodes the bytes.
    const second = toOperationMessage({ ...done });
    assert.equal(second.result.case === 'response' && packedMessage(second.result.value), undefined);
    assert.deepEqual(operationToJson(second, {}), operationToJson(first, {}));
  });
});
