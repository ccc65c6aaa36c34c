/**
 * CallMetrics tallies calls in fields of its own rather than through prom-client's inc() and
 * observe(); a scrape must read exactly what prom-client's Counter and Histogram would have given.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DescMethod } from '@bufbuild/protobuf';
import { Counter, Histogram, Registry } from 'prom-client';
import { Code } from '../../src/common/errors.js';
import { Operations } from '../../src/gen/google/longrunning/operations_pb.js';
import { DeveloperConnect } from '../../src/gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { CallMetrics, codeName } from '../../src/metrics/call-metrics.js';
import type { Transport } from '../../src/transport/call-observer.js';

const REQUESTS = { name: 'calls_total', help: 'Calls.' };
const DURATIONS = { name: 'call_seconds', help: 'Durations.', buckets: [0.001, 0.01, 0.1, 1] };

test("a scrape of CallMetrics is the text of prom-client's Counter and Histogram fed the same calls", async () => {
  const ours = new Registry();
  const calls = new CallMetrics(ours, REQUESTS, DURATIONS);
  const theirs = new Registry();
  const counter = new Counter({ ...REQUESTS, labelNames: ['service', 'method', 'code', 'transport'], registers: [theirs] });
  const histogram = new Histogram({ ...DURATIONS, labelNames: ['service', 'method', 'transport'], registers: [theirs] });
  assert.equal(await ours.metrics(), await theirs.metrics(), 'before any call');

  const get: DescMethod = Operations.method.getOperation;
  const create: DescMethod = DeveloperConnect.method.createConnection;
  // Interleaved methods, transports and codes; durations on a bound, between bounds and past every bound.
  const made: [DescMethod, Transport, Code, number][] = [
    [get, 'rest', Code.OK, 0.0005],
    [create, 'grpc', Code.INVALID_ARGUMENT, 0.001],
    [get, 'rest', Code.NOT_FOUND, 0.05],
    [get, 'grpc', Code.OK, 2.5],
    [get, 'rest', Code.OK, 0.01],
    [create, 'rest', Code.OK, 120],
    [create, 'grpc', Code.INVALID_ARGUMENT, 0.3],
  ];
  for (const [method, transport, code, seconds] of made) {
    calls.ended(method, transport, code, seconds);
    counter.inc({ service: method.parent.typeName, method: method.name, code: codeName(code), transport });
    histogram.observe({ service: method.parent.typeName, method: method.name, transport }, seconds);
  }
  assert.equal(await ours.metrics(), await theirs.metrics());
  assert.deepEqual(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON());
  // A second scrape reads the same: the counter is refilled, not added to.
  assert.equal(await ours.metrics(), await theirs.metrics());
});
