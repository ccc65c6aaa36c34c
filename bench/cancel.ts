import { performance } from 'node:perf_hooks';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { DurationSchema } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import {
  OperationSchema,
  WaitOperationRequestSchema,
  type Operation,
  type WaitOperationRequest,
} from '../src/gen/google/longrunning/operations_pb.js';
import { callJson, type HttpClient } from './http-client.js';
import { CREATE_BODY, PARENT } from './lifecycle.js';
import { sleep } from './stats.js';

const WAIT_OPERATION = '/google.longrunning.Operations/WaitOperation';
const CANCELLED = 1;

/** A generic grpc-js client for google.longrunning.Operations/WaitOperation, protobuf-es (de)serialization. */
export class Waiter {
  private readonly client: grpc.Client;

  constructor(baseUrl: string) {
    this.client = new grpc.Client(new URL(baseUrl).host, grpc.credentials.createInsecure());
  }

  wait(name: string, timeoutSeconds: number): Promise<Operation> {
    const request = create(WaitOperationRequestSchema, { name, timeout: create(DurationSchema, { seconds: BigInt(timeoutSeconds) }) });
    return new Promise<Operation>((resolve, reject) => {
      this.client.makeUnaryRequest<WaitOperationRequest, Operation>(
        WAIT_OPERATION,
        (m) => Buffer.from(toBinary(WaitOperationRequestSchema, m)),
        (b) => fromBinary(OperationSchema, b),
        request,
        { deadline: Date.now() + (timeoutSeconds + 5) * 1000 },
        (error, value) => (error || !value ? reject(error ?? new Error('empty WaitOperation reply')) : resolve(value)),
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

export interface CancelSamples {
  /** ms from sending REST :cancel to the pending WaitOperation receiving the done operation. */
  cancelToDone: number[];
  /** ms of the REST :cancel round trip itself. */
  cancelReply: number[];
  /** ms of one plain REST GetOperation round trip, measured the same way (baseline). */
  getRoundTrip: number[];
  /**
   * GetOperations through `client` that still answered not done after the waiter had the cancelled
   * operation (only counted when the cancel went through another node: on one node it is an error).
   */
  notDoneAfterWait: number;
}

/**
 * M times, one after another (unloaded latency): create through `client` (the server's
 * --operation-delay keeps it running), park a gRPC WaitOperation on it through `waiter`, let it
 * settle, then POST :cancel (through `options.cancelVia`, else `client`) and time until the waiter
 * has the done operation; then time one GetOperation of the same operation through `client` (which
 * must say done, on one node).
 * With several nodes on one database, the three may be three nodes (benchmark 7).
 */
export async function runCancel(
  client: HttpClient,
  waiter: Waiter,
  options: { count: number; parkMs: number; idPrefix: string; cancelVia?: HttpClient },
): Promise<CancelSamples> {
  const canceller = options.cancelVia ?? client;
  const samples: CancelSamples = { cancelToDone: [], cancelReply: [], getRoundTrip: [], notDoneAfterWait: 0 };
  for (let i = 0; i < options.count; i++) {
    const op = await callJson(client, 'POST', `/v1/${PARENT}/connections?connectionId=${options.idPrefix}-${i}`, CREATE_BODY);
    const name = String(op.name);
    if (op.done === true) throw new Error(`operation ${name} is already done: is --operation-delay long enough?`);
    let doneAt = 0;
    const waited = waiter.wait(name, 30).then((result) => {
      doneAt = performance.now();
      return result;
    });
    waited.catch(() => undefined); // observed below
    await sleep(options.parkMs);
    const t0 = performance.now();
    await callJson(canceller, 'POST', `/v1/${name}:cancel`, '{}');
    const replied = performance.now();
    const result = await waited;
    if (!result.done || result.result.case !== 'error' || result.result.value.code !== CANCELLED) {
      throw new Error(`operation ${name} did not end CANCELLED: ${JSON.stringify(result.result)}`);
    }
    samples.cancelToDone.push(doneAt - t0);
    samples.cancelReply.push(replied - t0);
    const g0 = performance.now();
    const got = await callJson(client, 'GET', `/v1/${name}`);
    samples.getRoundTrip.push(performance.now() - g0);
    if (got.done !== true) {
      if (options.cancelVia === undefined) throw new Error(`operation ${name} is not done after cancel`);
      samples.notDoneAfterWait++;
    }
  }
  return samples;
}
