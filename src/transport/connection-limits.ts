/**
 * How long a connection may hold the server's resources without doing work, and how many it may
 * hold at once (#11: idle and stalled sockets used to stay open forever, one descriptor each).
 */
export interface ConnectionLimits {
  /**
   * `--idle-timeout`: how long a connection may be silent, or take to send its first bytes, its
   * request headers or the HTTP/2 SETTINGS acknowledgement, and how long one with no call in
   * progress is kept. A call in progress is never idle.
   */
  idleTimeoutMs: number;
  /**
   * How long a request may take to arrive whole, however steadily its bytes trickle in. It is long
   * (node:http's default, 5 minutes) because a body may legitimately be large and slow: a git push
   * through the proxy. Never less than the idle time.
   */
  requestTimeoutMs: number;
  /** `--max-connections`: connections beyond it are closed as they arrive. */
  maxConnections: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS of every HTTP/2 connection (RFC 9113 §6.5.2). */
  maxConcurrentStreams: number;
}

export const DEFAULT_CONNECTION_LIMITS: Readonly<ConnectionLimits> = {
  idleTimeoutMs: 30_000,
  requestTimeoutMs: 300_000,
  maxConnections: 1024,
  // What grpc-go and most HTTP/2 servers advertise: enough for any client's multiplexing.
  maxConcurrentStreams: 100,
};

/** The limits with defaults filled in; a value that would disable a limit is refused before anything starts. */
export function connectionLimits(given: Partial<ConnectionLimits>): ConnectionLimits {
  const idleTimeoutMs = given.idleTimeoutMs ?? DEFAULT_CONNECTION_LIMITS.idleTimeoutMs;
  const limits: ConnectionLimits = {
    idleTimeoutMs,
    requestTimeoutMs: given.requestTimeoutMs ?? Math.max(DEFAULT_CONNECTION_LIMITS.requestTimeoutMs, idleTimeoutMs),
    maxConnections: given.maxConnections ?? DEFAULT_CONNECTION_LIMITS.maxConnections,
    maxConcurrentStreams: given.maxConcurrentStreams ?? DEFAULT_CONNECTION_LIMITS.maxConcurrentStreams,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new Error(`${name} must be a positive whole number, not ${value}: without it, nothing bounds what a client can hold.`);
    }
  }
  if (limits.requestTimeoutMs < limits.idleTimeoutMs) {
    throw new Error(`requestTimeoutMs (${limits.requestTimeoutMs}) must not be less than idleTimeoutMs (${limits.idleTimeoutMs}).`);
  }
  return limits;
}
