import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect as connectHttp2, constants as http2 } from 'node:http2';
import { connect as connectTcp, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { anyPack, EmptySchema } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import { OperationSchema, WaitOperationRequestSchema, type Operation } from '../../src/gen/google/longrunning/operations_pb.js';
import { DualProtocolListener } from '../../src/transport/listener.js';
import { killProcess, serveProcess } from '../support/server-process.js';
import { PARENT, rest, startTestServer, type TestServer } from '../support/server.js';

const IDLE_MS = 500;
// Beyond the idle time: node:http keeps a keep-alive socket 1 s longer than it advertises, timers
// are checked at intervals, and the machine may be busy.
const SLACK_MS = 2_000;
const HTTP2_PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
const GET_LOCATIONS = 'GET /v1/projects/demo/locations HTTP/1.1\r\nHost: localhost\r\n';
// A server that keeps a connection open fails the test here rather than hanging the run.
const BOUNDED = { timeout: 10_000 };

/** This process's open file descriptors: the server's sockets and the tests' own. */
function openDescriptors(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Resolves once no more descriptors are open than `baseline`; fails after `withinMs`. */
async function descriptorsBackTo(baseline: number, withinMs = SLACK_MS): Promise<void> {
  const end = Date.now() + withinMs;
  while (openDescriptors() > baseline) {
    if (Date.now() > end) assert.fail(`${openDescriptors()} descriptors open, ${baseline} before the test`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Closed {
  /** performance.now() when the server closed the connection. */
  at: number;
  received: Buffer;
}

/**
 * A TCP connection on which `send` writes what it wants; resolves when the server closes it.
 * The client never closes first, so a server that keeps idle sockets fails it after `withinMs`.
 */
function untilServerCloses(port: number, send: (socket: Socket) => void, withinMs: number): { opened: Promise<number>; closed: Promise<Closed> } {
  const socket = connectTcp(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {}); // a reset is a close too
  const opened = new Promise<number>((resolve) =>
    socket.once('connect', () => {
      resolve(performance.now());
      send(socket);
    }),
  );
  const closed = new Promise<Closed>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`still open after ${withinMs} ms`));
    }, withinMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ at: performance.now(), received: Buffer.concat(chunks) });
    });
  });
  return { opened, closed };
}

/** Each HTTP/2 frame's type and, for GOAWAY, its error code (RFC 9113 §4.1, §6.8). */
function http2Frames(bytes: Buffer): { type: number; errorCode?: number }[] {
  const frames: { type: number; errorCode?: number }[] = [];
  for (let at = 0; at + 9 <= bytes.length; ) {
    const length = bytes.readUIntBE(at, 3);
    const type = bytes[at + 3] as number;
    frames.push(type === 0x7 ? { type, errorCode: bytes.readUInt32BE(at + 13) } : { type });
    at += 9 + length;
  }
  return frames;
}

describe('idle and stalled connections are closed after --idle-timeout', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ idleTimeoutMs: IDLE_MS });
  });
  after(() => server.stop());

  /** Opens a connection, lets `send` write, and checks that the server closes it after about the idle time. */
  async function closedAfterIdle(send: (socket: Socket) => void): Promise<Closed> {
    const baseline = openDescriptors();
    const { opened, closed } = untilServerCloses(server.port, send, IDLE_MS + SLACK_MS);
    const [start, end] = await Promise.all([opened, closed]);
    assert.ok(end.at - start >= IDLE_MS * 0.9, `closed after ${Math.round(end.at - start)} ms, before the idle time`);
    await descriptorsBackTo(baseline);
    return end;
  }

  test('a socket that sends nothing', BOUNDED, async () => {
    await closedAfterIdle(() => {});
  });

  test('a socket that sends one byte, too few to tell HTTP/2 from HTTP/1.1', BOUNDED, async () => {
    await closedAfterIdle((socket) => socket.write('P'));
  });

  test('a socket that sends one byte of an HTTP/1.1 request line', BOUNDED, async () => {
    await closedAfterIdle((socket) => socket.write('G'));
  });

  test('a socket that sends only the HTTP/2 preface gets GOAWAY SETTINGS_TIMEOUT (RFC 9113 §6.5.3)', BOUNDED, async () => {
    const { received } = await closedAfterIdle((socket) => socket.write(HTTP2_PREFACE));
    const goaway = http2Frames(received).find((frame) => frame.type === 0x7);
    assert.equal(goaway?.errorCode, http2.NGHTTP2_SETTINGS_TIMEOUT);
  });

  test('an HTTP/1.1 request whose headers stop halfway', BOUNDED, async () => {
    await closedAfterIdle((socket) => socket.write(GET_LOCATIONS));
  });

  test('an HTTP/1.1 header block that trickles in, a byte at a time, is answered 408 after the idle time', BOUNDED, async () => {
    const request = `${GET_LOCATIONS}x-padding: ${'a'.repeat(200)}\r\n\r\n`;
    let sent = 0;
    const { received } = await closedAfterIdle((socket) => {
      const next = setInterval(() => {
        if (!socket.writable || sent === request.length) return clearInterval(next);
        socket.write(request[sent++] as string);
      }, 20);
    });
    assert.ok(sent < request.length, 'the request was cut off before it was whole');
    assert.match(received.toString('latin1'), /^HTTP\/1\.1 408 /);
  });

  test('an HTTP/1.1 request whose body stops halfway', BOUNDED, async () => {
    const head = `POST /v1/${PARENT}/connections?connectionId=half HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n`;
    await closedAfterIdle((socket) => socket.write(`${head}{"githubConfig":`));
    const created = await rest(server.url, 'GET', `/v1/${PARENT}/connections/half`);
    assert.equal(created.status, 404, 'nothing was created from the half body');
  });

  test('a keep-alive connection whose second request stops halfway through its body', BOUNDED, async () => {
    const baseline = openDescriptors();
    let stalledAt = 0;
    const { closed } = untilServerCloses(
      server.port,
      (socket) => {
        socket.once('data', () => {
          stalledAt = performance.now();
          socket.write(`POST /v1/${PARENT}/connections?connectionId=second HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"githubConfig":`);
        });
        socket.write(`${GET_LOCATIONS}\r\n`);
      },
      IDLE_MS + SLACK_MS,
    );
    const { at, received } = await closed;
    assert.match(received.toString('latin1'), /^HTTP\/1\.1 200 /);
    assert.ok(stalledAt > 0 && at - stalledAt >= IDLE_MS * 0.9, `closed ${Math.round(at - stalledAt)} ms after the body stopped`);
    await descriptorsBackTo(baseline);
  });

  test('an HTTP/1.1 keep-alive connection, after its answer', BOUNDED, async () => {
    let answered = 0;
    const baseline = openDescriptors();
    const { closed } = untilServerCloses(
      server.port,
      (socket) => {
        socket.on('data', () => (answered ||= performance.now()));
        socket.write(`${GET_LOCATIONS}\r\n`);
      },
      IDLE_MS + SLACK_MS,
    );
    const { at, received } = await closed;
    assert.match(received.toString('latin1'), /^HTTP\/1\.1 200 /);
    assert.ok(at - answered >= IDLE_MS * 0.9, `closed ${Math.round(at - answered)} ms after the answer`);
    await descriptorsBackTo(baseline);
  });

  test('an HTTP/2 connection whose last call ended gets GOAWAY NO_ERROR after the idle time', BOUNDED, async () => {
    const baseline = openDescriptors();
    const session = connectHttp2(server.url);
    const goaway = new Promise<number>((resolve) => session.once('goaway', (code: number) => resolve(code)));
    const closed = new Promise<number>((resolve) => session.once('close', () => resolve(performance.now())));
    session.on('error', () => {});
    const stream = session.request({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers' });
    stream.on('data', () => {});
    stream.end(Buffer.alloc(5)); // an empty HealthCheckRequest
    const ended = await new Promise<number>((resolve) => stream.once('close', () => resolve(performance.now())));
    assert.equal(await goaway, http2.NGHTTP2_NO_ERROR);
    const at = await closed;
    assert.ok(at - ended >= IDLE_MS * 0.9 && at - ended <= IDLE_MS + SLACK_MS, `closed ${Math.round(at - ended)} ms after the call`);
    await descriptorsBackTo(baseline);
  });

  test('an HTTP/2 stream that sent only its headers is cancelled, then its idle connection closed', BOUNDED, async () => {
    const baseline = openDescriptors();
    const session = connectHttp2(server.url);
    session.on('error', () => {});
    const closed = new Promise<number>((resolve) => session.once('close', () => resolve(performance.now())));
    const opened = performance.now();
    const stream = session.request(
      { ':method': 'POST', ':path': '/google.longrunning.Operations/GetOperation', 'content-type': 'application/grpc', te: 'trailers' },
      { endStream: false },
    );
    stream.on('error', () => {});
    const cancelled = await new Promise<number>((resolve) => stream.once('close', () => resolve(performance.now())));
    assert.equal(stream.rstCode, http2.NGHTTP2_CANCEL);
    assert.ok(cancelled - opened >= IDLE_MS * 0.9, `cancelled after ${Math.round(cancelled - opened)} ms`);
    const at = await closed;
    assert.ok(at - cancelled <= IDLE_MS + SLACK_MS, `closed ${Math.round(at - cancelled)} ms after the stream`);
    await descriptorsBackTo(baseline);
  });

  test('HTTP/2 connections advertise at most 100 concurrent streams', BOUNDED, async () => {
    const session = connectHttp2(server.url);
    try {
      await new Promise((resolve) => session.once('remoteSettings', resolve));
      assert.equal(session.remoteSettings.maxConcurrentStreams, 100);
    } finally {
      session.destroy();
    }
  });

  test('a gRPC WaitOperation that lasts several idle times completes on its connection', BOUNDED, async () => {
    let release = (): void => {};
    const started = new Promise<void>((resolve) => {
      server.engine.register({
        kind: 'test.gated',
        cancellable: true,
        afterRestart: 'fail',
        run: async () => {
          resolve();
          await new Promise<void>((go) => (release = go));
          return { response: anyPack(EmptySchema, create(EmptySchema)) };
        },
      });
    });
    const record = await server.engine.start({ parent: PARENT, kind: 'test.gated', input: '', verb: 'update', target: `${PARENT}/connections/gated` });
    await started;
    const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    try {
      const request = create(WaitOperationRequestSchema, { name: record.name, timeout: { seconds: 30n } });
      const waited = new Promise<Operation>((resolve, reject) =>
        client.makeUnaryRequest(
          '/google.longrunning.Operations/WaitOperation',
          (message: typeof request) => Buffer.from(toBinary(WaitOperationRequestSchema, message)),
          (bytes: Buffer) => fromBinary(OperationSchema, bytes),
          request,
          (error, response) => (error || !response ? reject(error ?? new Error('no response')) : resolve(response)),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, IDLE_MS * 3));
      release();
      const operation = await waited;
      assert.equal(operation.done, true);
      assert.equal(operation.result.case, 'response');
    } finally {
      client.close();
    }
  });
});

describe('the listener, with a request handler of its own', () => {
  const REQUEST_MS = 1_500;
  let listener: DualProtocolListener;
  let port: number;
  let release = (): void => {};
  const BIG_BYTES = 64 * 1024 * 1024;
  /** Told, when /big is asked for, when it was and when the server closes that connection. */
  let bigAnswered: (answer: { askedAt: number; closed: Promise<number> }) => void = () => {};
  before(async () => {
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      if (req.url === '/slow') {
        release = () => res.writeHead(200, { 'content-type': 'text/plain' }).end('done');
        return;
      }
      if (req.url === '/small') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('small');
        return;
      }
      if (req.url === '/big') {
        const socket = req.socket;
        bigAnswered({ askedAt: performance.now(), closed: new Promise((resolve) => socket.once('close', () => resolve(performance.now()))) });
        // Far more than the kernel's socket buffers hold: most of it waits until the client reads.
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.alloc(BIG_BYTES));
        return;
      }
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end('uploaded'));
    };
    listener = new DualProtocolListener(new grpc.Server(), handler, undefined, {
      idleTimeoutMs: IDLE_MS,
      requestTimeoutMs: REQUEST_MS,
      maxConnections: 16,
      maxConcurrentStreams: 100,
    });
    ({ port } = await listener.listen('127.0.0.1', 0));
  });
  after(() => listener.close(0));

  test('an answer that takes several idle times is delivered: a request being answered is not idle', BOUNDED, async () => {
    const answer = new Promise<string>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/slow', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve(`${res.statusCode} ${body}`));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS * 3));
    release();
    assert.equal(await answer, '200 done');
  });

  test('an answer the client stops taking, on the second request of a connection, is cut off after the idle time', BOUNDED, async () => {
    const answered = new Promise<{ askedAt: number; closed: Promise<number> }>((resolve) => (bigAnswered = resolve));
    const socket = connectTcp(port, '127.0.0.1');
    socket.on('error', () => {});
    try {
      socket.once('data', () => {
        // The first answer is in; the second is not read at all.
        socket.pause();
        socket.write('GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n');
      });
      socket.write('GET /small HTTP/1.1\r\nHost: localhost\r\n\r\n');
      const { askedAt, closed } = await answered;
      const at = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(Number.NaN), IDLE_MS + SLACK_MS))]);
      assert.ok(Number.isFinite(at), `the server kept the connection ${IDLE_MS + SLACK_MS} ms after the client stopped reading`);
      assert.ok(at - askedAt >= IDLE_MS * 0.8, `closed ${Math.round(at - askedAt)} ms after the answer began`);
    } finally {
      socket.destroy();
    }
  });

  test('a body that trickles in, never silent for the idle time, is cut off with 408 after the request timeout', BOUNDED, async () => {
    const length = 1_000;
    let sent = 0;
    const { opened, closed } = untilServerCloses(
      port,
      (socket) => {
        socket.write(`POST /upload HTTP/1.1\r\nHost: localhost\r\ncontent-length: ${length}\r\n\r\n`);
        const next = setInterval(() => {
          if (!socket.writable || sent === length) return clearInterval(next);
          socket.write('x');
          sent++;
        }, IDLE_MS / 5);
      },
      REQUEST_MS + SLACK_MS,
    );
    const [start, { at, received }] = await Promise.all([opened, closed]);
    assert.ok(sent < length, 'the body was cut off before it was whole');
    assert.match(received.toString('latin1'), /^HTTP\/1\.1 408 /);
    assert.ok(at - start >= REQUEST_MS * 0.9, `cut off after ${Math.round(at - start)} ms`);
  });
});

describe('--max-connections', () => {
  const LIMIT = 4;
  let server: TestServer;
  before(async () => {
    // An idle time far longer than the test: only the limit closes sockets here.
    server = await startTestServer({ maxConnections: LIMIT, idleTimeoutMs: 60_000 });
  });
  after(() => server.stop());

  /** A keep-alive HTTP/1.1 connection that has had one answer, so the server has surely counted it. */
  function answeredConnection(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connectTcp(server.port, '127.0.0.1', () => socket.write(`${GET_LOCATIONS}\r\n`));
      socket.once('data', () => resolve(socket));
      socket.once('error', reject);
    });
  }

  test('refuses connections beyond the limit at once, and serves clients again when the flood is gone', BOUNDED, async () => {
    const baseline = openDescriptors();
    const flood = await Promise.all(Array.from({ length: LIMIT }, answeredConnection));
    const refusedAfter = performance.now();
    const { closed } = untilServerCloses(server.port, (socket) => socket.write(`${GET_LOCATIONS}\r\n`), SLACK_MS);
    const { at, received } = await closed;
    assert.equal(received.length, 0, 'a refused connection is closed without an answer');
    assert.ok(at - refusedAfter < SLACK_MS);
    for (const socket of flood) assert.ok(!socket.destroyed, 'the connections within the limit stay open');

    for (const socket of flood) socket.destroy();
    await descriptorsBackTo(baseline);
    const locations = await rest(server.url, 'GET', '/v1/projects/demo/locations');
    assert.equal(locations.status, 200);
    const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    try {
      const health = await new Promise<grpc.ServiceError | null>((resolve) =>
        client.makeUnaryRequest(
          '/grpc.health.v1.Health/Check',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.alloc(0),
          (error) => resolve(error),
        ),
      );
      assert.equal(health, null);
    } finally {
      client.close();
    }
  });
});

describe('serve --idle-timeout and --max-connections', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'devconnect-idle-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('reach the listener of a server started from the command line', { timeout: 90_000 }, async () => {
    const server = await serveProcess(['--auth', 'none', '--data-dir', dataDir, '--idle-timeout', `${IDLE_MS}ms`, '--max-connections', '1']);
    try {
      const port = Number(new URL(server.url).port);
      const silent = untilServerCloses(port, () => {}, IDLE_MS + SLACK_MS);
      const [opened, { at }] = await Promise.all([silent.opened, silent.closed]);
      assert.ok(at - opened >= IDLE_MS * 0.9, `closed after ${Math.round(at - opened)} ms`);
      // Answered, so surely accepted and counted by the server.
      let answered = (): void => {};
      const held = untilServerCloses(port, (socket) => socket.once('data', () => answered()).write(`${GET_LOCATIONS}\r\n`), IDLE_MS + SLACK_MS);
      await new Promise<void>((resolve) => (answered = resolve));
      const beyond = untilServerCloses(port, () => {}, IDLE_MS + SLACK_MS);
      const [beyondOpened, beyondClosed] = await Promise.all([beyond.opened, beyond.closed]);
      assert.ok(beyondClosed.at - beyondOpened < IDLE_MS / 2, `the second connection was closed after ${Math.round(beyondClosed.at - beyondOpened)} ms`);
      await held.closed;
    } finally {
      await killProcess(server, 'SIGTERM');
    }
  });

  test('refuse values that would disable them', { timeout: 90_000 }, async () => {
    await assert.rejects(serveProcess(['--auth', 'none', '--data-dir', dataDir, '--idle-timeout', '0s']), /--idle-timeout.*above 0/);
    await assert.rejects(serveProcess(['--auth', 'none', '--data-dir', dataDir, '--max-connections', '0']), /--max-connections.*positive whole number/);
  });
});
