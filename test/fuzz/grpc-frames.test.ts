/**
 * Property-based fuzzing of gRPC with raw HTTP/2 streams (#11), below any gRPC client: request
 * messages made from the descriptors and then mangled (bits flipped, cut short, garbage after),
 * frames whose length prefix lies, several frames for a unary call, and odd headers. The
 * properties: every stream ends with a grpc-status that is not INTERNAL or UNKNOWN (except where
 * gRPC's compression spec asks for INTERNAL), whose grpc-status-details-bin is a google.rpc.Status
 * with the same code (AIP-193), nothing in the store changed by a failed call, and the server still
 * up afterwards.
 */
import assert from 'node:assert/strict';
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { fromBinary, fromJson, toBinary, type DescMethod } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { services, registry } from '../../src/proto/registry.js';
import { StatusSchema } from '../../src/gen/google/rpc/status_pb.js';
import { createConnection, startTestServer, untilDone, type TestServer } from '../support/server.js';
import { storeSnapshot } from '../support/store-snapshot.js';
import { messageJson } from './arbitraries.js';
import { fuzzParameters } from './harness.js';

const METHODS: DescMethod[] = services.flatMap((s) => [...s.methods]);

interface GrpcAnswer {
  httpStatus: number;
  grpcStatus?: number;
  message?: string;
  details?: Buffer;
  /** The stream was reset or the session failed before an answer. */
  reset?: string;
}

/** A length-prefixed gRPC message (PROTOCOL-HTTP2.md): Compressed-Flag, Message-Length, Message. */
function frame(message: Uint8Array, flag = 0, length = message.length): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt8(flag, 0);
  prefix.writeUInt32BE(length, 1);
  return Buffer.concat([prefix, message]);
}

/** A method's request, generated valid (through proto3 JSON, then binary). */
function requestBytes(method: DescMethod): fc.Arbitrary<Uint8Array> {
  return messageJson(method.input, 'valid').map((json) => {
    try {
      return toBinary(method.input, fromJson(method.input, json, { registry }));
    } catch {
      return new Uint8Array();
    }
  });
}

type Mangle = 'none' | 'flip' | 'truncate' | 'append' | 'random';

/** The bytes of the request body: a message, mangled, in one frame or more, whose prefix may lie. */
function body(method: DescMethod): fc.Arbitrary<Buffer> {
  return fc
    .record({
      message: requestBytes(method),
      mangle: fc.constantFrom<Mangle>('none', 'flip', 'truncate', 'append', 'random'),
      at: fc.nat(),
      junk: fc.uint8Array({ maxLength: 32 }),
      flag: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(1, 2, 255) }),
      lengthDelta: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -5, max: 5 }) }, { weight: 1, arbitrary: fc.constant(2 ** 31) }),
      frames: fc.oneof({ weight: 8, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.constantFrom(0, 2) }),
      tail: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }) }),
    })
    .map(({ message, mangle, at, junk, flag, lengthDelta, frames, tail }) => {
      let m = Buffer.from(message);
      if (mangle === 'flip' && m.length > 0) m[at % m.length] = (m[at % m.length]! ^ (1 << at % 8)) & 0xff;
      if (mangle === 'truncate') m = m.subarray(0, at % (m.length + 1));
      if (mangle === 'append') m = Buffer.concat([m, junk]);
      if (mangle === 'random') m = Buffer.from(junk);
      const one = frame(m, flag, Math.max(0, m.length + lengthDelta) % 2 ** 32);
      const framed = Buffer.concat(Array.from({ length: frames }, () => one));
      // Bytes after the frames that are no whole frame: a prefix cut short.
      return Buffer.concat([framed, Buffer.from(junk.subarray(0, tail))]);
    });
}

const headers = fc.record({
  contentType: fc.oneof({ weight: 10, arbitrary: fc.constant('application/grpc') }, { weight: 1, arbitrary: fc.constantFrom('application/grpc+proto', 'application/grpc+json', 'application/json', 'text/plain') }),
  timeout: fc.option(fc.oneof(fc.constantFrom('1S', '100m', '99999999H', '0n'), fc.constantFrom('1', 'S', '123456789S', '-1S', '1s', '1.5S', ' 1S')), { nil: undefined }),
  encoding: fc.option(fc.constantFrom('identity', 'gzip', 'deflate', 'snappy', 'nope'), { nil: undefined }),
  te: fc.oneof({ weight: 8, arbitrary: fc.constant('trailers') }, { weight: 1, arbitrary: fc.constant(undefined) }),
});

describe('fuzzing gRPC with raw HTTP/2 frames', () => {
  let server: TestServer;
  let session: ClientHttp2Session;

  before(async () => {
    server = await startTestServer();
    await untilDone(server.url, (await createConnection(server.url, 'keep-me')).name as string);
  });
  after(async () => {
    session?.destroy();
    await server?.stop();
  });

  function openSession(): ClientHttp2Session {
    if (!session || session.closed || session.destroyed) {
      session = connect(`http://127.0.0.1:${server.port}`);
      session.on('error', () => undefined); // a failed session is seen by its streams
    }
    return session;
  }

  function send(path: string, head: Record<string, string>, bytes: Buffer): Promise<GrpcAnswer> {
    return new Promise((resolve) => {
      const answer: GrpcAnswer = { httpStatus: 0 };
      const read = (h: IncomingHttpHeaders): void => {
        if (h[':status'] !== undefined) answer.httpStatus = Number(h[':status']);
        if (h['grpc-status'] !== undefined) answer.grpcStatus = Number(h['grpc-status']);
        if (typeof h['grpc-message'] === 'string') answer.message = decodeURIComponent(h['grpc-message']);
        const details = h['grpc-status-details-bin'];
        if (typeof details === 'string') answer.details = Buffer.from(details, 'base64');
      };
      const stream = openSession().request({ ':method': 'POST', ':path': path, ...head });
      stream.on('response', read);
      stream.on('trailers', read);
      stream.on('data', () => undefined);
      stream.on('error', (error: Error) => (answer.reset = error.message));
      stream.on('close', () => {
        if (answer.grpcStatus === undefined && stream.rstCode !== constants.NGHTTP2_NO_ERROR) answer.reset ??= `RST_STREAM ${stream.rstCode}`;
        resolve(answer);
      });
      stream.end(bytes);
    });
  }

  test('mangled request messages and frames on every method', async () => {
    const call = fc.constantFrom(...METHODS).chain((method) => fc.tuple(fc.constant(method), body(method), headers));
    await fc.assert(
      fc.asyncProperty(call, async ([method, bytes, h]) => {
        const head: Record<string, string> = { 'content-type': h.contentType };
        if (h.te !== undefined) head.te = h.te;
        if (h.timeout !== undefined) head['grpc-timeout'] = h.timeout;
        if (h.encoding !== undefined) head['grpc-encoding'] = h.encoding;
        const what = `${method.name} ${JSON.stringify(head)} ${bytes.toString('hex').slice(0, 200)}`;
        const stored = storeSnapshot(server.dataDir);
        const answer = await send(`/${method.parent.typeName}/${method.name}`, head, bytes);
        assert.equal(answer.reset, undefined, `${what}: the stream was reset without a status`);
        assert.ok(answer.httpStatus < 500, `${what}: HTTP ${answer.httpStatus}`);
        // gRPC over HTTP/2: a request that is not gRPC may be answered 415 (PROTOCOL-HTTP2.md).
        if (answer.httpStatus === 415 && !h.contentType.startsWith('application/grpc')) return;
        assert.notEqual(answer.grpcStatus, undefined, `${what}: no grpc-status`);
        const status = answer.grpcStatus!;
        // The Compressed-Flag of the first message, as the server reads it. A message flagged
        // compressed without an encoding MUST fail INTERNAL (doc/compression.md, test case 6), and
        // grpc-go answers a flag other than 0 and 1 INTERNAL too: the spec's code, not a fault of ours.
        const flagged = bytes.length > 0 && bytes[0] !== 0 && (h.encoding === undefined || h.encoding === 'identity' || bytes[0] !== 1);
        if (!flagged) assert.ok(status !== 13 && status !== 2, `${what}: grpc-status ${status} ${answer.message ?? ''}`);
        if (status !== 0) {
          if (answer.details) {
            const detail = fromBinary(StatusSchema, answer.details);
            assert.equal(detail.code, status, `${what}: grpc-status-details-bin has another code`);
          }
          assert.equal(storeSnapshot(server.dataDir), stored, `${what}: a failed call changed the store`);
        }
      }),
      fuzzParameters(200, 1),
    );
    const health = await send('/google.longrunning.Operations/GetOperation', { 'content-type': 'application/grpc', te: 'trailers' }, frame(new Uint8Array()));
    assert.equal(health.grpcStatus, 3, `the server still answers: ${JSON.stringify(health)}`);
  });
});
