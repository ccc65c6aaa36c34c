import type { EventEmitter } from 'node:events';
import { constants, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { ConnectionLimits } from './connection-limits.js';

type Limits = Pick<ConnectionLimits, 'idleTimeoutMs' | 'requestTimeoutMs'>;

/**
 * Closes the HTTP/2 connections (gRPC) of `server` that hold resources without doing work:
 * - one that has not acknowledged the server's SETTINGS within the idle time (a socket that sent
 *   only the preface, or part of it): RFC 9113 §6.5.3 lets it be closed with SETTINGS_TIMEOUT;
 * - one with no stream open for the idle time, however many PINGs or SETTINGS it sends: GOAWAY,
 *   and clients reconnect for their next call. A connection with a stream open, such as a long
 *   WaitOperation, is not idle;
 * - a stream whose request is still arriving after the idle time of silence (a client that sent
 *   only headers, or stopped mid-message: grpc-js sees a call only once its first bytes or its end
 *   arrive, and then waits for the rest forever) or after `requestTimeoutMs` however it trickles
 *   in, or whose answer is not being read: RST_STREAM CANCEL. Every method here takes one request
 *   message, except server reflection, whose clients open a new stream when one was cancelled.
 * grpc-js's own `grpc.max_connection_idle_ms` is not used: it counts only the calls grpc-js has
 * seen, and closes gracefully, which waits forever for a stream that never completes.
 */
export function closeIdleSessions(server: EventEmitter, limits: Limits): void {
  server.on('session', (session: ServerHttp2Session) => watchSession(session, limits));
}

function watchSession(session: ServerHttp2Session, limits: Limits): void {
  const { idleTimeoutMs } = limits;
  const unacknowledged = setTimeout(() => {
    // The error only carries the code into the GOAWAY frame: node:http2 hands it to the server's 'sessionError' event.
    session.destroy(new Error(`The client did not acknowledge the server's SETTINGS within ${idleTimeoutMs} ms.`), constants.NGHTTP2_SETTINGS_TIMEOUT);
  }, idleTimeoutMs).unref();
  session.once('localSettings', () => clearTimeout(unacknowledged));
  let open = 0;
  let idle: NodeJS.Timeout | undefined;
  const closeWhenIdle = (): void => {
    idle = setTimeout(() => closeIdle(session, idleTimeoutMs), idleTimeoutMs).unref();
  };
  closeWhenIdle();
  session.on('stream', (stream: ServerHttp2Stream) => {
    open++;
    clearTimeout(idle);
    stream.once('close', () => {
      if (--open === 0 && !session.closed) closeWhenIdle();
    });
    cancelWhenStalled(stream, limits);
  });
  session.once('close', () => {
    clearTimeout(unacknowledged);
    clearTimeout(idle);
  });
}

/** GOAWAY, then the socket goes once its last bytes are out; a client that does not read them is cut off. */
function closeIdle(session: ServerHttp2Session, lingerMs: number): void {
  if (session.closed || session.destroyed) return;
  const linger = setTimeout(() => session.destroy(), lingerMs).unref();
  session.once('close', () => clearTimeout(linger));
  session.close();
}

function cancelWhenStalled(stream: ServerHttp2Stream, limits: Limits): void {
  const requestArriving = (): boolean => stream.state.remoteClose === 0;
  const cancel = (): void => {
    if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
  };
  // node:http2 emits this only when nothing moved on the stream for the idle time, writes included.
  stream.setTimeout(limits.idleTimeoutMs, () => {
    if (requestArriving() || stream.bufferSize > 0) cancel();
  });
  const deadline = setTimeout(() => requestArriving() && cancel(), limits.requestTimeoutMs).unref();
  stream.once('close', () => clearTimeout(deadline));
}
