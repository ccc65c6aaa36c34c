import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { positionKeys, resourceIndex } from '../../src/api/list-page.js';
import { ConnectionSchema, InstallationState_Stage } from '../../src/gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { connections } from '../../src/resources/connections/index.js';

describe('resourceIndex: what the store indexes of a resource for List', () => {
  it('holds every filter and order field as the filter sees it, each map entry as map.KEY, null for what is unset', () => {
    const name = 'projects/p/locations/us-central1/connections/c';
    const connection = create(ConnectionSchema, {
      name,
      uid: 'u-1',
      etag: 'e-1',
      disabled: true,
      createTime: timestampFromMs(1_700_000_000_123),
      labels: { env: 'prod', team: 'a' },
      annotations: { 'example.com/owner': 'me' },
      installationState: { stage: InstallationState_Stage.COMPLETE },
    });
    assert.deepEqual(resourceIndex(connections, connection), {
      name,
      uid: 'u-1',
      etag: 'e-1',
      disabled: true,
      reconciling: false,
      create_time: 1_700_000_000_123,
      update_time: null,
      'installation_state.stage': 'COMPLETE',
      'labels.env': 'prod',
      'labels.team': 'a',
      'annotations.example.com/owner': 'me',
    });
  });

  it('sorts by the order_by fields, then create time and name, each once', () => {
    assert.deepEqual(positionKeys([]), [
      { field: 'create_time', descending: false },
      { field: 'name', descending: false },
    ]);
    assert.deepEqual(positionKeys([{ field: 'create_time', descending: true }]), [
      { field: 'create_time', descending: true },
      { field: 'name', descending: false },
    ]);
    assert.deepEqual(positionKeys([{ field: 'update_time', descending: true }, { field: 'name', descending: true }]), [
      { field: 'update_time', descending: true },
      { field: 'name', descending: true },
      { field: 'create_time', descending: false },
    ]);
  });
});
