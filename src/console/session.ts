import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * The console's session is the caller's bearer token itself, kept by the browser in an HttpOnly,
 * SameSite=Strict cookie scoped to /console. Nothing is kept on the server, so a session survives a
 * restart and is good on every node that shares the signing key; it ends when the token does.
 */
export const SESSION_COOKIE = 'devconnect_console';
export const CONSOLE_PREFIX = '/console';

/** How long the owner's session minted by the one-time login code lasts. */
export const LOGIN_SESSION_SECONDS = 12 * 60 * 60;

/** The console session's token from the request's cookies, if any. */
export function sessionTokenOf(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    return value === '' ? undefined : value;
  }
  return undefined;
}

/** The `Authorization` a console request speaks with: its own header, else its session cookie's token. */
export function credentialsOf(req: IncomingMessage): string | undefined {
  if (req.headers.authorization !== undefined) return req.headers.authorization;
  const token = sessionTokenOf(req);
  return token === undefined ? undefined : `Bearer ${token}`;
}

/**
 * The Set-Cookie of a session. `secure` when the request came over TLS (a Secure cookie set over
 * plain http to 127.0.0.1 would be dropped by the browser). A token is base64url and dots: no
 * character of it needs quoting in a cookie value.
 */
export function sessionCookie(token: string, maxAgeSeconds: number | undefined, secure: boolean): string {
  const age = maxAgeSeconds === undefined ? '' : `; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`;
  return `${SESSION_COOKIE}=${token}; Path=${CONSOLE_PREFIX}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}${age}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return sessionCookie('', 0, secure);
}

/** Seconds until a JWT's `exp`, read without verifying (the authenticator has verified it); undefined for other tokens. */
export function secondsUntilExpiry(token: string, now = Date.now()): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    if (typeof claims !== 'object' || claims === null || !('exp' in claims) || typeof claims.exp !== 'number') return undefined;
    return claims.exp - Math.floor(now / 1000);
  } catch {
    return undefined;
  }
}

/** How long a printed login link stays good when nobody opens it. */
export const LOGIN_CODE_SECONDS = 24 * 60 * 60;

/** Where spent codes are recorded: the store's insert-if-absent of server secrets (the first writer's value is kept). */
export interface SpentCodes {
  ensureSecret(name: string, value: Uint8Array): Promise<Uint8Array>;
}

const NONCE_BYTES = 16;
const MAC_BYTES = 16;

/**
 * The one-time login codes `serve` prints, as Jupyter prints its token: whoever opens the URL first
 * becomes the owner in that browser, and the code is spent. A code is a random nonce and its time,
 * with an HMAC under a key every node reads from the store; so, behind a load balancer, whichever
 * node the link reaches accepts it. Spending it writes a row for its nonce in the store, and only the
 * first writer succeeds: a code works once across all nodes. One not used within a day is dead.
 */
export class LoginCodes {
  constructor(
    private readonly key: Uint8Array,
    private readonly spent: SpentCodes,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new code, good once, on any node that shares the key. */
  issue(): string {
    const body = Buffer.alloc(NONCE_BYTES + 4);
    randomBytes(NONCE_BYTES).copy(body);
    body.writeUInt32BE(Math.floor(this.now() / 1000), NONCE_BYTES);
    return Buffer.concat([body, this.mac(body)]).toString('base64url');
  }

  /** Whether `candidate` is a code of this key, in its lifetime and unspent; a right one is spent. */
  async spend(candidate: string): Promise<boolean> {
    const given = Buffer.from(candidate, 'base64url');
    if (given.length !== NONCE_BYTES + 4 + MAC_BYTES || given.toString('base64url') !== candidate) return false;
    const body = given.subarray(0, NONCE_BYTES + 4);
    if (!timingSafeEqual(given.subarray(NONCE_BYTES + 4), this.mac(body))) return false;
    const age = this.now() / 1000 - body.readUInt32BE(NONCE_BYTES);
    if (age < -60 || age > LOGIN_CODE_SECONDS) return false;
    const mine = randomBytes(16);
    const kept = await this.spent.ensureSecret(`console-login-spent/${body.subarray(0, NONCE_BYTES).toString('hex')}`, mine);
    return Buffer.from(kept).equals(mine);
  }

  private mac(body: Buffer): Buffer {
    return createHmac('sha256', this.key).update('devconnect-console-login\0').update(body).digest().subarray(0, MAC_BYTES);
  }
}

/** Whether the request reached this server over TLS. */
export function overTls(req: IncomingMessage): boolean {
  return 'encrypted' in req.socket && req.socket.encrypted === true;
}
