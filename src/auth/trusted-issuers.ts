import { createRemoteJWKSet, type JWTPayload, type JWTVerifyGetKey } from 'jose';
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
 * when an unknown `kid` appears, by jose's remote key set). The caller is `user:EMAIL` (or
 * `serviceAccount:EMAIL` for a Google service account), else `user:SUB`; scopes come from `scope`.
 */
export class TrustedIssuers {
  private readonly keySets = new Map<string, JWTVerifyGetKey>();

  constructor(issuers: readonly TrustedIssuer[]) {
    for (const { issuer, jwksUrl } of issuers) this.keySets.set(issuer, createRemoteJWKSet(new URL(jwksUrl)));
  }

  has(issuer: string): boolean {
    return this.keySets.has(issuer);
  }

  get issuers(): string[] {
    return [...this.keySets.keys()];
  }

  async verify(token: string, issuer: string): Promise<{ payload: JWTPayload; member: string }> {
    const keySet = this.keySets.get(issuer);
    if (!keySet) throw new InvalidTokenError(`the token's issuer '${issuer}' is not trusted by this server.`);
    const what = `the access token of ${issuer}`;
    const payload = await verifyJwt(token, keySet, what, issuer);
    return { payload, member: memberOf(payload, what) };
  }
}

function memberOf(payload: JWTPayload, what: string): string {
  const email = payload.email;
  if (typeof email === 'string' && email !== '') {
    return email.endsWith('.gserviceaccount.com') ? `serviceAccount:${email}` : `user:${email}`;
  }
  if (typeof payload.sub === 'string' && payload.sub !== '') return `user:${payload.sub}`;
  throw new InvalidTokenError(`${what} names no caller: it has neither an 'email' nor a 'sub' claim.`);
}
