import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import type { JwtClaims } from './jwt-shape.js';
import { InvalidTokenError, verifyJwt } from './jwt-verify.js';

/** An external OpenID Connect provider whose access tokens the server accepts (`--trusted-issuer ISSUER=JWKS_URL`). */
export interface TrustedIssuer {
  /** The exact `iss` of its tokens. */
  issuer: string;
  /** Where its signing keys are published (the `jwks_uri` of its discovery document). */
  jwksUrl: string;
}

/** Parses the value of `--trusted-issuer`: `ISSUER=JWKS_URL`, split at the first `=` followed by a URL. */
export function parseTrustedIssuer(text: string): TrustedIssuer {
  const match = /^(.+?)=(https?:\/\/.+)$/.exec(text.trim());
  if (!match || !URL.canParse(match[2]!)) {
    throw new Error(`'${text}' is not ISSUER=JWKS_URL, e.g. https://issuer.example.com=https://issuer.example.com/.well-known/jwks.json`);
  }
  return { issuer: match[1]!, jwksUrl: match[2]! };
}

/**
 * Verifies access tokens of trusted issuers against their published JWKS (fetched on first use and
 * when an unknown `kid` appears, by jose's remote key set).
 *
 * A token counts only when its `aud` names one of `audiences` (`--trusted-audience`): an issuer
 * mints tokens for many applications, and one that a user gave to another app must not be
 * replayable here as that user (the confused deputy). For the same reason there is no default:
 * trusting an issuer without naming an audience is refused.
 *
 * The caller is `user:EMAIL` (or `serviceAccount:EMAIL` for a Google service account) only when
 * the issuer says `email_verified: true`; otherwise it is `user:SUB`, the identity the issuer does
 * vouch for, so an unverified address never acts as the person who owns it.
 */
export class TrustedIssuers {
  private readonly keySets = new Map<string, JWTVerifyGetKey>();
  private readonly audiences: readonly string[];

  constructor(issuers: readonly TrustedIssuer[], audiences: readonly string[]) {
    if (issuers.length > 0 && audiences.length === 0) {
      throw new Error(
        'a trusted issuer needs at least one trusted audience (--trusted-audience AUD): without one, a token the issuer minted for any ' +
          'other application would be accepted here as its user.',
      );
    }
    for (const { issuer, jwksUrl } of issuers) this.keySets.set(issuer, createRemoteJWKSet(new URL(jwksUrl)));
    this.audiences = audiences;
  }

  has(issuer: string): boolean {
    return this.keySets.has(issuer);
  }

  get issuers(): string[] {
    return [...this.keySets.keys()];
  }

  async verify(token: string, issuer: string): Promise<{ payload: JwtClaims; member: string }> {
    const keySet = this.keySets.get(issuer);
    if (!keySet) throw new InvalidTokenError(`the token's issuer '${issuer}' is not trusted by this server.`);
    const what = `the access token of ${issuer}`;
    const payload = await verifyJwt(token, keySet, what, { issuer, audiences: this.audiences });
    return { payload, member: memberOf(payload, what) };
  }
}

function memberOf(payload: JwtClaims, what: string): string {
  const email = payload.email;
  if (email !== undefined && email !== '' && payload.email_verified === true) {
    return email.endsWith('.gserviceaccount.com') ? `serviceAccount:${email}` : `user:${email}`;
  }
  if (payload.sub !== undefined && payload.sub !== '') return `user:${payload.sub}`;
  throw new InvalidTokenError(`${what} names no caller: it has no 'sub' claim, and no 'email' with 'email_verified' true.`);
}
