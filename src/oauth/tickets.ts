import { createHash, createHmac, randomBytes } from 'node:crypto';
import { SignedClaims } from '../auth/signed-claims.js';

/** How long a StartOAuth ticket and an authorization code are good for. */
export const TICKET_TTL_SECONDS = 600;
export const CODE_TTL_SECONDS = 120;

export interface Ticket {
  /** The AccountConnector whose flow it is. */
  connector: string;
  /** The IAM member who started it: only they may finish it. */
  member: string;
  /** Epoch seconds. */
  expires: number;
}

interface Code {
  ticket: string;
  /** The PKCE challenge the authorize page was given (RFC 7636 §4.2). */
  challenge: string;
  expires: number;
}

/**
 * The OAuth flow of AccountConnectors without state on the server: a ticket is the connector and the
 * caller, signed; the PKCE code verifier is derived from the ticket with the server's key (never
 * sent to the browser), its S256 challenge goes to the authorize page; the code the page issues is
 * the ticket and that challenge, signed. FinishOAuth checks that the code came from this server,
 * for this ticket, and that the challenge matches the verifier: so any node, also after a restart,
 * can finish a flow that another started.
 */
export class OAuthTickets {
  private readonly claims: SignedClaims;

  constructor(private readonly key: Buffer) {
    this.claims = new SignedClaims(key, 'oauth');
  }

  start(connector: string, member: string, nowMs = Date.now()): { ticket: string; codeChallenge: string } {
    const ticket = this.claims.seal('t', { connector, member, expires: Math.floor(nowMs / 1000) + TICKET_TTL_SECONDS, nonce: randomBytes(9).toString('base64url') });
    return { ticket, codeChallenge: s256(this.verifier(ticket)) };
  }

  /** The code the authorize page hands back for a ticket and the challenge it was shown. */
  issueCode(ticket: string, challenge: string, nowMs = Date.now()): string {
    return this.claims.seal('c', { ticket, challenge, expires: Math.floor(nowMs / 1000) + CODE_TTL_SECONDS } satisfies Code);
  }

  /** The ticket's claims, or an RFC 6749 §5.2 error (`invalid_request`). */
  readTicket(ticket: string, nowMs = Date.now()): Ticket | { code: string; description: string } {
    const c = this.claims.open('t', ticket, nowMs);
    if (typeof c === 'string' || typeof c.connector !== 'string' || typeof c.member !== 'string') {
      return { code: 'invalid_request', description: `The ticket is refused: ${typeof c === 'string' ? c : 'it is malformed'}.` };
    }
    return { connector: c.connector, member: c.member, expires: c.expires };
  }

  /** Checks a code against its ticket and PKCE; undefined when it is good, the `invalid_grant` error otherwise. */
  checkCode(code: string, ticket: string, nowMs = Date.now()): { code: string; description: string } | undefined {
    const c = this.claims.open('c', code, nowMs);
    if (typeof c === 'string') return { code: 'invalid_grant', description: `The authorization code is refused: ${c}.` };
    if (c.ticket !== ticket) return { code: 'invalid_grant', description: 'The authorization code was issued for another ticket.' };
    if (s256(this.verifier(ticket)) !== c.challenge) return { code: 'invalid_grant', description: 'PKCE verification failed: the code was issued for another code challenge.' };
    return undefined;
  }

  /** A provider access token for FetchAccessToken: the connector, the caller and the scopes, signed; an hour. */
  mintAccessToken(connector: string, member: string, scopes: readonly string[], nowMs = Date.now()): { token: string; expires: Date } {
    const expires = Math.floor(nowMs / 1000) + 3600;
    return { token: this.claims.seal('a', { connector, member, scopes, expires }), expires: new Date(expires * 1000) };
  }

  /** The PKCE code verifier of a ticket: derived with the server's key, never sent anywhere. */
  private verifier(ticket: string): string {
    return createHmac('sha256', this.key).update(`pkce-verifier.${ticket}`).digest('base64url');
  }
}

/** RFC 7636 §4.2: BASE64URL(SHA256(verifier)). */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}
