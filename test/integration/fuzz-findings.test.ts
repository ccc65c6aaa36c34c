/**
 * What the fuzzers of test/fuzz found, each as a plain test (#11).
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { connect, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { deflateSync, gzipSync } from 'node:zlib';
import { create, toBinary } from '@bufbuild/protobuf';
import { GetOperationRequestSchema } from '../../src/gen/google/longrunning/operations_pb.js';
import { killProcess, serveProcess } from '../support/server-process.js';
import { PARENT, rest, startTestServer, type TestServer } from '../support/server.js';

const GET_OPERATION = '/google.longrunning.Operations/GetOperation';

function frame(message: Uint8Array, flag: number): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt8(flag, 0);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

describe('fuzz findings', () => {
  let server: TestServer;
  const sessions: ClientHttp2Session[] = [];

  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    for (const session of sessions) session.destroy();
    await server.stop();
  });

  function session(): ClientHttp2Session {
    const s = connect(`http://127.0.0.1:${server.port}`);
    s.on('error', () => undefined);
    sessions.push(s);
    return s;
  }

  /** One gRPC call with a raw body; its grpc-status and grpc-message. */
  function call(headers: Record<string, string>, body: Buffer): Promise<{ status: number; message: string }> {
    return new Promise((resolve, reject) => {
      let got: IncomingHttpHeaders = {};
      const stream = session().request({ ':method': 'POST', ':path': GET_OPERATION, 'content-type': 'application/grpc', te: 'trailers', ...headers });
      const read = (h: IncomingHttpHeaders) => {
        if (h['grpc-status'] !== undefined) got = h;
      };
      stream.on('response', read);
      stream.on('trailers', read);
      stream.on('data', () => undefined);
      stream.on('error', reject);
      stream.on('close', () => resolve({ status: Number(got['grpc-status']), message: decodeURIComponent(String(got['grpc-message'] ?? '')) }));
      stream.end(body);
    });
  }

  test('a client that resets its connection while its call is held before grpc-js does not end the server', async () => {
    // A real process: in a test process, node:test would catch the unhandled 'error' that ended it.
    const served = await serveProcess(['--auth', 'none', '--data-dir', mkdtempSync(join(tmpdir(), 'devconnect-findings-'))]);
    try {
      // Each call sends its headers and no message, so the server still waits for the first bytes.
      for (const code of [8, 2, 0]) {
        const s = connect(served.url);
        s.on('error', () => undefined);
        const stream = s.request({ ':method': 'POST', ':path': GET_OPERATION, 'content-type': 'application/grpc', te: 'trailers' });
        stream.on('error', () => undefined);
        await new Promise((resolve) => setTimeout(resolve, 200));
        s.destroy(new Error('the client gave up'), code);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const res = await rest(served.url, 'GET', `/v1/${PARENT}/connections`);
      assert.equal(res.status, 200, `the server still answers:\n${served.stderr()}`);
    } finally {
      await killProcess(served, 'SIGKILL');
    }
  });

  test('a message flagged gzip or deflate that does not decompress is INVALID_ARGUMENT, not INTERNAL', async () => {
    const request = toBinary(GetOperationRequestSchema, create(GetOperationRequestSchema, { name: `${PARENT}/operations/operation-missing` }));
    for (const encoding of ['gzip', 'deflate']) {
      const garbage = await call({ 'grpc-encoding': encoding }, frame(Buffer.from('not compressed at all'), 1));
      assert.equal(garbage.status, 3, `${encoding}: ${garbage.message}`);
      assert.match(garbage.message, new RegExp(`grpc-encoding ${encoding}, but it does not decompress`));
      const truncated = await call({ 'grpc-encoding': encoding }, frame((encoding === 'gzip' ? gzipSync(request) : deflateSync(request)).subarray(0, 8), 1));
      assert.equal(truncated.status, 3, `${encoding}, cut short: ${truncated.message}`);
      // Compressed properly, the call reaches the method: the operation is not found.
      const fine = await call({ 'grpc-encoding': encoding }, frame(encoding === 'gzip' ? gzipSync(request) : deflateSync(request), 1));
      assert.equal(fine.status, 5, `${encoding}, compressed properly: ${fine.message}`);
    }
  });
});
