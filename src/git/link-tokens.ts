import { SignedClaims } from '../auth/signed-claims.js';
import type { GitAccess } from './upstream.js';

/** How long FetchReadToken and FetchReadWriteToken tokens live, as Developer Connect's do (an hour). */
export const GIT_TOKEN_TTL_SECONDS = 3600;
const KIND = 'dcgit';

export interface GitTokenClaims {
  /** The GitRepositoryLink the token opens. */
  link: string;
  access: GitAccess;
  /** Epoch seconds. */
  expires: number;
}

export interface GitTokenRefusal {
  /** Why, in words for the person running git. */
  refused: string;
  /** Whether the token is one this server minted, refused only for its age. */
  expired: boolean;
}

/**
 * The short-lived tokens of FetchReadToken / FetchReadWriteToken: bound to one link and one level of
 * access, signed with a key of the data directory, so the git proxy checks them without a store
 * read and they outlive a restart.
 */
export class GitTokens {
  private readonly claims: SignedClaims;

  constructor(key: Buffer) {
    this.claims = new SignedClaims(key, 'git-proxy');
  }

  mint(link: string, access: GitAccess, nowMs = Date.now()): { token: string; expires: Date } {
    const expires = Math.floor(nowMs / 1000) + GIT_TOKEN_TTL_SECONDS;
    return { token: this.claims.seal(KIND, { link, access, expires } satisfies GitTokenClaims), expires: new Date(expires * 1000) };
  }

  /** The claims of a token this server minted that has not expired; otherwise why not, and whether it is only its age. */
  verify(token: string, nowMs = Date.now()): GitTokenClaims | GitTokenRefusal {
    // Opened as of the epoch, so that expiry is checked here and an expired token is told apart from a forged one.
    const c = this.claims.open(KIND, token, 0);
    if (typeof c === 'string') return { refused: `the token is refused: ${c}`, expired: false };
    if (typeof c.link !== 'string' || (c.access !== 'read' && c.access !== 'read-write')) return { refused: 'the token is malformed', expired: false };
    if (c.expires * 1000 <= nowMs) return { refused: `the token is refused: it expired at ${new Date(c.expires * 1000).toISOString()}`, expired: true };
    return { link: c.link, access: c.access, expires: c.expires };
  }
}
