import { randomBytes, timingSafeEqual } from 'node:crypto';
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

/**
 * The one-time login code `serve` prints, as Jupyter prints its token: whoever opens the URL first
 * becomes the owner in that browser, and the code is spent. It lives in this node's memory only, so
 * a restart prints a new one and every old one is dead.
 */
export class LoginCode {
  private code: Buffer | undefined;
  readonly text: string;

  constructor() {
    const code = randomBytes(32);
    this.code = code;
    this.text = code.toString('base64url');
  }

  /** Whether `candidate` is the code, unspent; a right guess spends it. Compared in constant time. */
  spend(candidate: string): boolean {
    if (this.code === undefined) return false;
    const given = Buffer.from(candidate, 'base64url');
    if (given.length !== this.code.length || given.toString('base64url') !== candidate || !timingSafeEqual(given, this.code)) return false;
    this.code = undefined;
    return true;
  }
}

/** Whether the request reached this server over TLS. */
export function overTls(req: IncomingMessage): boolean {
  return 'encrypted' in req.socket && req.socket.encrypted === true;
}
