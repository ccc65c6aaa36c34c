import { createHmac, timingSafeEqual } from 'node:crypto';
import type { GitAccess } from './upstream.js';

/** How long FetchReadToken and FetchReadWriteToken tokens live, as Developer Connect's do (an hour). */
export const GIT_TOKEN_TTL_SECONDS = 3600;
const PREFIX = 'dcgit';

export interface GitTokenClaims {
  /** The GitRepositoryLink the token opens. */
  link: string;
  access: GitAccess;
  /** Epoch seconds. */
  expires: number;
}

/**
 * The short-lived tokens of FetchReadToken / FetchReadWriteToken: bound to one link and one level of
 * access, signed with a key of the data directory (HMAC-SHA256), so the git proxy checks them
 * without a store read and they outlive a restart. `dcgit.<claims>.<signature>`, base64url.
 */
export class GitTokens {
  constructor(private readonly key: Buffer) {}

  mint(link: string, access: GitAccess, nowMs = Date.now()): { token: string; expires: Date } {
    const claims: GitTokenClaims = { link, access, expires: Math.floor(nowMs / 1000) + GIT_TOKEN_TTL_SECONDS };
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return { token: `${PREFIX}.${payload}.${this.sign(payload)}`, expires: new Date(claims.expires * 1000) };
  }

  /** The claims of a token this server minted that has not expired; a string saying why not otherwise. */
  verify(token: string, nowMs = Date.now()): GitTokenClaims | string {
    const [prefix, payload = '', signature = '', ...rest] = token.split('.');
    if (prefix !== PREFIX || rest.length > 0) return 'not a token of FetchReadToken or FetchReadWriteToken';
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'the token was not minted by this server';
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return 'the token is malformed';
    }
    const c = claims as Partial<GitTokenClaims>;
    if (typeof c.link !== 'string' || (c.access !== 'read' && c.access !== 'read-write') || typeof c.expires !== 'number') return 'the token is malformed';
    if (c.expires * 1000 <= nowMs) return `the token expired at ${new Date(c.expires * 1000).toISOString()}`;
    return { link: c.link, access: c.access, expires: c.expires };
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(`${PREFIX}.${payload}`).digest('base64url');
  }
}
