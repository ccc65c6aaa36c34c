import assert from 'node:assert/strict';
import { connect as connectTcp } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { PARENT, startTestServer, type TestServer } from '../support/server.js';

const MISSING_OPERATION = `${PARENT}/operations/operation-1-0000000000000000`;

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
