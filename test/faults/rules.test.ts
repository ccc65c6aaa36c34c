import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Code } from '../../src/common/errors.js';
import { DeveloperConnect } from '../../src/gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { Operations } from '../../src/gen/google/longrunning/operations_pb.js';
import { methodGlob, resourceGlob } from '../../src/faults/glob.js';
import { FaultRules } from '../../src/faults/rules.js';

const GET = DeveloperConnect.method.getConnection;
const connection = (id: string) => () => `projects/p/locations/l/connections/${id}`;

describe('globs', () => {
  test('in a resource name * stays within a segment and ** crosses them', () => {
    const one = resourceGlob('projects/*/locations/*/connections/*');
    assert.ok(one.test('projects/p/locations/l/connections/c'));
    assert.ok(!one.test('projects/p/locations/l/connections/c/gitRepositoryLinks/r'));
    assert.ok(resourceGlob('projects/p/**').test('projects/p/locations/l/connections/c/gitRepositoryLinks/r'));
    assert.ok(resourceGlob('**/connections/c-*').test('projects/p/locations/l/connections/c-1'));
  });

  test('regular-expression characters are literal', () => {
    assert.ok(!resourceGlob('projects/a.c').test('projects/abc'));
    assert.ok(!methodGlob('Get(Connection)?').test('Get'));
    assert.ok(methodGlob('*.Operations/*').test('google.longrunning.Operations/GetOperation'));
  });
});

describe('FaultRules', () => {
  test('probability is drawn per matching call', () => {
    let draw = 0.3;
    const rules = new FaultRules(() => draw);
    rules.add({ method: 'GetConnection', probability: 0.5, error: { code: 'UNAVAILABLE' } });
    assert.equal(rules.faultFor(GET, connection('c'))?.error?.code, Code.UNAVAILABLE, '0.3 < 0.5: fires');
    draw = 0.7;
    assert.equal(rules.faultFor(GET, connection('c')), undefined, '0.7 ≥ 0.5: lets the call through');
    assert.equal(rules.list()[0]?.fired, 1);
  });

  test('times counts firings, not matches; the resource is read only when a rule names one', () => {
    const rules = new FaultRules();
    rules.add({ method: 'GetConnection', resource: '**/connections/slow', times: 1, delay: '2s' });
    let reads = 0;
    const fast = () => {
      reads++;
      return 'projects/p/locations/l/connections/fast';
    };
    assert.equal(rules.faultFor(GET, fast), undefined);
    assert.equal(reads, 1);
    assert.deepEqual(rules.faultFor(GET, connection('slow')), { delayMs: 2_000, error: undefined });
    assert.equal(rules.faultFor(GET, connection('slow')), undefined, 'fired its one time');
    assert.equal(rules.faultFor(Operations.method.getOperation, fast), undefined);
    assert.equal(reads, 1, 'a call of another method never reads its resource');
  });

  test('the error carries the code, the message and the retry delay', () => {
    const rules = new FaultRules();
    rules.add({ method: '/google.cloud.developerconnect.v1.DeveloperConnect/Get*', error: { code: 8, message: 'Quota.', retryDelay: '250ms' } });
    const error = rules.faultFor(GET, connection('c'))?.error;
    assert.deepEqual([error?.code, error?.message, error?.retryDelayMs], [Code.RESOURCE_EXHAUSTED, 'Quota.', 250]);
  });
});
