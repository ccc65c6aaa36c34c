import assert from 'node:assert/strict';
import { connect, constants, createServer, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { closeIdleSessions } from '../../src/transport/http2-sessions.js';

const IDLE_MS = 300;
const REQUEST_MS = 900;
const BOUNDED = { timeout: 10_000 };

/**
 * closeIdleSessions on a bare node:http2 server whose handler answers, like grpc-js, once the
 * request has ended: `/big` with 4 MiB, `/slow` when the test says so, anything else with its path.
 */
describe('closeIdleSessions', () => {
  let server: Http2Server;
  let url: string;
  let answerSlow: (() => void) | undefined;
  before(async () => {
    server = createServer();
    closeIdleSessions(server, { idleTimeoutMs: IDLE_MS, requestTimeoutMs: REQUEST_MS });
    server.on('stream', (stream: ServerHttp2Stream, headers) => {
      stream.on('error', () => {});
      stream.resume();
      stream.on('end', () => {
        if (stream.destroyed) return; // the client went away: node:http2 ends what it had read
        if (headers[':path'] === '/slow') return void (answerSlow = () => stream.respond({ ':status': 200 }, { endStream: true }));
        stream.respond({ ':status': 200 });
        stream.end(headers[':path'] === '/big' ? Buffer.alloc(4 << 20) : String(headers[':path']));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('a request body that trickles in, never silent for the idle time, is cancelled after the request timeout', BOUNDED, async () => {
    const session = connect(url);
    session.on('error', () => {});
    try {
      const opened = performance.now();
      const stream = session.request({ ':method': 'POST', ':path': '/upload' }, { endStream: false });
      stream.on('error', () => {});
      const dribble = setInterval(() => stream.write('x'), IDLE_MS / 5);
      await new Promise((resolve) => stream.once('close', resolve));
      clearInterval(dribble);
      assert.equal(stream.rstCode, constants.NGHTTP2_CANCEL);
      const after = performance.now() - opened;
      assert.ok(after >= REQUEST_MS * 0.9, `cancelled after ${Math.round(after)} ms`);
    } finally {
      session.destroy();
    }
  });

  test('an answer the client does not read is cancelled after the idle time', BOUNDED, async () => {
    const session = connect(url);
    session.on('error', () => {});
    try {
      const stream = session.request({ ':method': 'GET', ':path': '/big' });
      stream.on('error', () => {});
      stream.pause(); // flow control stops the server once the client's window is full
      await new Promise((resolve) => stream.once('close', resolve));
      assert.equal(stream.rstCode, constants.NGHTTP2_CANCEL);
    } finally {
      session.destroy();
    }
  });

  test('a stream whose request has ended is not cancelled while its answer is awaited, nor is its connection idle', BOUNDED, async () => {
    const session = connect(url);
    session.on('error', () => {});
    try {
      const stream = session.request({ ':method': 'GET', ':path': '/slow' });
      stream.resume();
      const status = new Promise<unknown>((resolve) => stream.once('response', (headers) => resolve(headers[':status'])));
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS * 3));
      assert.ok(answerSlow, 'the request has reached the server');
      answerSlow();
      assert.equal(await status, 200);
      assert.equal(session.closed, false);
    } finally {
      session.destroy();
    }
  });
});
