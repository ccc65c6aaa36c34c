import assert from 'node:assert/strict';
import { connect as connectHttp2 } from 'node:http2';
import { connect as connectTcp } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { pino } from 'pino';
import { Code } from '../../src/common/errors.js';
import { CreateConnectionRequestSchema } from '../../src/gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { GetOperationRequestSchema } from '../../src/gen/google/longrunning/operations_pb.js';
import { StatusSchema } from '../../src/gen/google/rpc/status_pb.js';
import { PARENT, rest, startTestServer, type TestServer } from '../support/server.js';

const GET_OPERATION = '/google.longrunning.Operations/GetOperation';
const CREATE_CONNECTION = '/google.cloud.developerconnect.v1.DeveloperConnect/CreateConnection';
const MISSING_OPERATION = `${PARENT}/operations/operation-1-0000000000000000`;

/** A gRPC Length-Prefixed-Message: Compressed-Flag, 4-byte big-endian length, the bytes. */
function frame(message: Uint8Array, flag = 0): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = flag;
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

const getOperation = (name: string) => toBinary(GetOperationRequestSchema, create(GetOperationRequestSchema, { name }));

interface GrpcAnswer {
  code: number;
  message: string;
  /** The google.rpc.Status of grpc-status-details-bin, which google-gax reads. */
  details?: { code: number; message: string };
}

/** One gRPC call over a bare HTTP/2 connection, sending exactly the given headers and body. */
function grpcCall(server: TestServer, path: string, body: Buffer, headers: Record<string, string> = {}): Promise<GrpcAnswer> {
  const session = connectHttp2(server.url);
  return new Promise<GrpcAnswer>((resolve, reject) => {
    session.on('error', reject);
    const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    const fields: Record<string, unknown> = {};
    // A Trailers-Only answer comes as response headers; a full one ends with trailers.
    stream.on('response', (h) => Object.assign(fields, h));
    stream.on('trailers', (h) => Object.assign(fields, h));
    stream.on('data', () => {});
    stream.on('error', reject);
    stream.on('close', () => {
      const bin = fields['grpc-status-details-bin'];
      const status = typeof bin === 'string' ? fromBinary(StatusSchema, Buffer.from(bin, 'base64')) : undefined;
      resolve({
        code: Number(fields['grpc-status']),
        message: decodeURIComponent(String(fields['grpc-message'] ?? '')),
        details: status && { code: status.code, message: status.message },
      });
    });
    stream.end(body);
  }).finally(() => session.close());
}

interface RawHttpAnswer {
  status: number;
  headers: string;
  body: Record<string, unknown>;
}

/**
 * Writes raw bytes on a fresh TCP connection and reads until the server closes its side: the
 * client never ends its own, so an answer arrives only if the server closes the connection.
 */
function rawHttp(server: TestServer, request: string): Promise<RawHttpAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(server.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      socket.destroy();
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const head = text.slice(0, split);
      const body = text.slice(split + 4);
      try {
        resolve({ status: Number(head.split(' ')[1]), headers: head.toLowerCase(), body: JSON.parse(body) as Record<string, unknown> });
      } catch {
        reject(new Error(`not a JSON answer: ${JSON.stringify(text)}`));
      }
    });
    socket.write(request);
  });
}

function assertAip193(answer: RawHttpAnswer, status: number, grpcStatus: string, mentions: RegExp): void {
  assert.equal(answer.status, status);
  assert.match(answer.headers, /content-type: application\/json/);
  assert.match(answer.headers, /connection: close/);
  const error = answer.body.error as Record<string, unknown>;
  assert.equal(error.code, status);
  assert.equal(error.status, grpcStatus);
  assert.match(String(error.message), mentions);
}

describe('gRPC requests that cannot be decoded are refused with a code and a reason', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  const undecodable: [string, number[], RegExp][] = [
    ['a string field that is not UTF-8', [0x0a, 2, 0xff, 0xfe], /not valid UTF-8/],
    ['wire type 7, which does not exist', [0x0f], /wire type 7/],
    ['a truncated varint', [0x10, 0x80], /ends inside a field/],
    ['a length past the end', [0x0a, 9, 0x61], /ends inside a field/],
  ];
  for (const [what, bytes, reason] of undecodable) {
    test(`${what} is INVALID_ARGUMENT, naming the message type`, async () => {
      const answer = await grpcCall(server, GET_OPERATION, frame(Uint8Array.from(bytes)));
      assert.equal(answer.code, Code.INVALID_ARGUMENT, answer.message);
      assert.match(answer.message, /not a valid binary google\.longrunning\.GetOperationRequest/);
      assert.match(answer.message, reason);
      assert.deepEqual(answer.details, { code: Code.INVALID_ARGUMENT, message: answer.message });
    });
  }

  test('a unary call without a request message is INVALID_ARGUMENT, not UNIMPLEMENTED', async () => {
    const answer = await grpcCall(server, GET_OPERATION, Buffer.alloc(0));
    assert.equal(answer.code, Code.INVALID_ARGUMENT, answer.message);
    assert.equal(answer.message, 'The call ended without a request message: a unary method takes exactly one.');
    const empty = await grpcCall(server, GET_OPERATION, frame(new Uint8Array(0)));
    assert.equal(empty.code, Code.INVALID_ARGUMENT, `an empty message is a message, whose name is missing: ${empty.message}`);
  });

  test('a call that ends inside its request message is INVALID_ARGUMENT, saying how much came', async () => {
    const whole = frame(getOperation(MISSING_OPERATION));
    const header = await grpcCall(server, GET_OPERATION, whole.subarray(0, 3));
    assert.equal(header.code, Code.INVALID_ARGUMENT, header.message);
    assert.equal(header.message, 'The call ended inside its request message: 3 bytes of a length-prefixed message of at least 5.');
    const body = await grpcCall(server, GET_OPERATION, whole.subarray(0, whole.length - 2));
    assert.equal(body.code, Code.INVALID_ARGUMENT, body.message);
    assert.equal(body.message, `The call ended inside its request message: ${whole.length - 2} bytes of a length-prefixed message of ${whole.length}.`);
  });

  test('a unary call with two request messages is INVALID_ARGUMENT', async () => {
    const one = frame(getOperation(MISSING_OPERATION));
    const answer = await grpcCall(server, GET_OPERATION, Buffer.concat([one, one]));
    assert.equal(answer.code, Code.INVALID_ARGUMENT, answer.message);
    assert.equal(answer.message, 'The call carries more than one request message: a unary method takes exactly one.');
  });

  test('a message that arrives in several pieces is read whole: a gzip one that does not decompress is INVALID_ARGUMENT, a good one is served', async () => {
    const session = connectHttp2(server.url);
    const split = (message: Buffer) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const stream = session.request({ ':method': 'POST', ':path': GET_OPERATION, 'content-type': 'application/grpc', te: 'trailers', 'grpc-encoding': 'gzip' });
        const fields: Record<string, unknown> = {};
        stream.on('response', (h) => Object.assign(fields, h));
        stream.on('trailers', (h) => Object.assign(fields, h));
        stream.on('data', () => {});
        stream.on('error', reject);
        stream.on('close', () => resolve(fields));
        stream.write(message.subarray(0, 8));
        setTimeout(() => stream.end(message.subarray(8)), 50);
      });
    try {
      const good = gzipSync(getOperation(MISSING_OPERATION));
      assert.equal(Number((await split(frame(good, 1)))['grpc-status']), Code.NOT_FOUND, 'decompressed and served');
      const broken = Buffer.from(good);
      broken.fill(0, 12, 20);
      const answer = await split(frame(broken, 1));
      assert.equal(Number(answer['grpc-status']), Code.INVALID_ARGUMENT, decodeURIComponent(String(answer['grpc-message'])));
      assert.match(decodeURIComponent(String(answer['grpc-message'])), /flagged compressed with grpc-encoding gzip, but it does not decompress/);
    } finally {
      session.close();
    }
  });

  test('a grpc-timeout outside the grammar of PROTOCOL-HTTP2.md is INVALID_ARGUMENT, saying what a timeout looks like', async () => {
    for (const timeout of ['soon', '123456789S', '5 S', '-1S', '10s']) {
      const answer = await grpcCall(server, GET_OPERATION, frame(getOperation(MISSING_OPERATION)), { 'grpc-timeout': timeout });
      assert.equal(answer.code, Code.INVALID_ARGUMENT, `${timeout}: ${answer.message}`);
      assert.equal(answer.message, `grpc-timeout "${timeout}" is not a gRPC timeout: 1 to 8 digits and a unit, one of H, M, S, m, u, n (as in "30S").`);
      assert.deepEqual(answer.details, { code: Code.INVALID_ARGUMENT, message: answer.message });
    }
    const valid = await grpcCall(server, GET_OPERATION, frame(getOperation(MISSING_OPERATION)), { 'grpc-timeout': '99999999m' });
    assert.equal(valid.code, Code.NOT_FOUND, `the call goes on: ${valid.message}`);
  });

  // doc/compression.md, test case 6: a Compressed-Flag set without a grpc-encoding other than
  // identity MUST fail with INTERNAL, its description indicating the invalid Compressed-Flag.
  test('a compressed message is INTERNAL, and does nothing, unless grpc-encoding says how to decompress it', async () => {
    const request = create(CreateConnectionRequestSchema, {
      parent: PARENT,
      connectionId: 'flagged',
      connection: { connectionConfig: { case: 'githubConfig', value: { githubApp: 1 } } },
    });
    for (const headers of [{}, { 'grpc-encoding': 'identity' }] as Record<string, string>[]) {
      const answer = await grpcCall(server, CREATE_CONNECTION, frame(toBinary(CreateConnectionRequestSchema, request), 1), headers);
      assert.equal(answer.code, Code.INTERNAL, `${JSON.stringify(headers)}: ${answer.message}`);
      assert.match(answer.message, /Compressed-Flag set, but the call names no grpc-encoding/);
      assert.deepEqual(answer.details, { code: Code.INTERNAL, message: answer.message });
    }
    const stored = await rest(server.url, 'GET', `/v1/${PARENT}/connections/flagged`);
    assert.equal(stored.status, 404, 'the message was not read as an uncompressed one');
    const gzipped = await grpcCall(server, GET_OPERATION, frame(gzipSync(getOperation(MISSING_OPERATION)), 1), { 'grpc-encoding': 'gzip' });
    assert.equal(gzipped.code, Code.NOT_FOUND, `gzip is decompressed: ${gzipped.message}`);
  });

  test('a Compressed-Flag other than 0 or 1 is INTERNAL', async () => {
    const answer = await grpcCall(server, GET_OPERATION, frame(getOperation(MISSING_OPERATION), 2), { 'grpc-encoding': 'gzip' });
    assert.equal(answer.code, Code.INTERNAL, answer.message);
    assert.match(answer.message, /Compressed-Flag 2; gRPC allows only 0 .* and 1/);
  });
});

describe('HTTP/1.1 requests the parser refuses are answered in the AIP-193 shape, and the connection is closed', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  test('an HTTP/1.1 request without Host is 400 (HTTP/1.0 needs none)', async () => {
    const answer = await rawHttp(server, `GET /v1/${PARENT}/connections HTTP/1.1\r\n\r\n`);
    assertAip193(answer, 400, 'INVALID_ARGUMENT', /must have a Host header/);
    const old = await rawHttp(server, `GET /v1/${MISSING_OPERATION} HTTP/1.0\r\n\r\n`);
    assert.equal(old.status, 404);
  });

  test('a Content-Length that is not a number is 400', async () => {
    const answer = await rawHttp(server, `POST /v1/${PARENT}/connections HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n`);
    assertAip193(answer, 400, 'INVALID_ARGUMENT', /Content-Length must be one decimal number of bytes \(Invalid character in Content-Length\)/);
  });

  test('two different Content-Lengths are 400', async () => {
    const answer = await rawHttp(server, `POST /v1/${PARENT}/connections HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n`);
    assertAip193(answer, 400, 'INVALID_ARGUMENT', /Content-Length must be one decimal number of bytes \(Duplicate Content-Length\)/);
  });

  test('a header block over 16 KB is 431', async () => {
    const answer = await rawHttp(server, `GET /v1/${PARENT}/connections HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(17_000)}\r\n\r\n`);
    assertAip193(answer, 431, 'INVALID_ARGUMENT', /header block is larger than 16384 bytes/);
  });

  test('a bad chunk size in a body being read is 400', async () => {
    const answer = await rawHttp(
      server,
      `POST /v1/${PARENT}/connections?connectionId=chunky HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    );
    assertAip193(answer, 400, 'INVALID_ARGUMENT', /chunked request body is malformed \(Invalid character in chunk size\)/);
  });
});

describe("a client that goes away is not the server's fault", () => {
  let server: TestServer;
  const logged: { level: number; msg: string }[] = [];
  before(async () => {
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logged.push(JSON.parse(line) as { level: number; msg: string }) });
    server = await startTestServer({ logger });
  });
  after(() => server.stop());

  test('one that closes the connection mid-body is logged at debug, not as an unexpected error', async () => {
    const socket = connectTcp(server.port, '127.0.0.1');
    // With Expect: 100-continue, node:http says "100 Continue" as it hands the request over, so
    // the client knows the REST transport is reading the body when it goes away.
    const continued = new Promise((resolve) => socket.once('data', resolve));
    socket.write(`POST /v1/${PARENT}/connections?connectionId=gone HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n`);
    assert.match(String(await continued), /^HTTP\/1\.1 100 Continue/);
    socket.end('{"git');
    const said = /before sending the whole request body/;
    for (let i = 0; i < 200 && !logged.some((line) => said.test(line.msg)); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    const line = logged.find((l) => said.test(l.msg));
    assert.equal(line?.level, 20, `logged at debug: ${JSON.stringify(logged)}`);
    assert.deepEqual(logged.filter((l) => l.level >= 40), [], 'nothing at warn or error');
  });
});
