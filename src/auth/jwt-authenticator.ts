import { ApiError, Code } from '../common/errors.js';
import type { MaybePromise } from '../common/maybe-promise.js';
import type { Store } from '../store/store.js';
import type { JwtClaims } from './jwt-shape.js';
import { audiencesOf, CLOCK_TOLERANCE_SECONDS, decodeUnverified, InvalidTokenError, requireShortLived, scopesOf, verifyJwt, type DecodedJwt } from './jwt-verify.js';
import { CLOUD_PLATFORM_SCOPE, type Authenticator, type Principal } from './principal.js';
import { ServiceAccountJwtVerifier } from './service-account-jwt.js';
import { SERVER_TOKEN_ISSUER, type TokenSigningKey } from './signing-key.js';
import { KeyLiveness, TokenCache, type CachedToken } from './token-cache.js';
import { TrustedIssuers, type TrustedIssuer } from './trusted-issuers.js';

/**
 * The `aud` google-auth-library puts in a self-signed JWT when it has no scopes to send: the
 * service's endpoint (`https://${defaultServicePath}/`). Google treats such a token as granting the
 * service, i.e. the cloud-platform scope.
 */
export const DEFAULT_AUDIENCE = 'https://developerconnect.googleapis.com/';

export interface JwtAuthenticatorOptions {
  store: Store;
  signingKey: TokenSigningKey;
  /** External OpenID Connect providers (`--trusted-issuer`). */
  trustedIssuers?: readonly TrustedIssuer[];
  /** The audiences accepted in trusted issuers' tokens (`--trusted-audience`); required when there are trusted issuers. */
  trustedAudiences?: readonly string[];
  /** Audiences accepted in scope-less self-signed JWTs (a trailing slash does not matter). Default: DEFAULT_AUDIENCE. */
  audiences?: readonly string[];
  /** Verified tokens kept (default 10 000). */
  cacheSize?: number;
  /** How stale the knowledge that a cached token's service-account key is not deleted may be (default 1000 ms). */
  keyRecheckMs?: number;
}

/**
 * `--auth jwt`: accepts `Authorization: Bearer JWT` where the JWT is
 *  - an access token this server signed (`POST /token`, `devconnect-emulator token`), `iss` devconnect-emulator;
 *  - a self-signed JWT of a service-account key (google-auth-library's JWTAccess, used by generated
 *    clients with useJWTAccessWithScope): `iss` = `sub` = the account's email, `kid` = the key;
 *  - an access token of a trusted OpenID Connect provider.
 * Verified tokens are cached until they expire; tokens tied to a service-account key are re-checked
 * against the store at most `keyRecheckMs` apart (see KeyLiveness), so deleting the key revokes them.
 */
export class JwtAuthenticator implements Authenticator {
  private readonly store: Store;
  private readonly signingKey: TokenSigningKey;
  private readonly serviceAccounts: ServiceAccountJwtVerifier;
  private readonly trusted: TrustedIssuers;
  private readonly audiences: Set<string>;
  private readonly cache: TokenCache;
  private readonly keys: KeyLiveness;
  private readonly lastOnConnection = new WeakMap<object, { authorization: string; entry: CachedToken }>();

  constructor(options: JwtAuthenticatorOptions) {
    this.store = options.store;
    this.signingKey = options.signingKey;
    this.serviceAccounts = new ServiceAccountJwtVerifier(options.store);
    this.trusted = new TrustedIssuers(options.trustedIssuers ?? [], options.trustedAudiences ?? []);
    this.audiences = new Set((options.audiences ?? [DEFAULT_AUDIENCE]).map(withoutTrailingSlash));
    this.cache = new TokenCache(options.cacheSize ?? 10_000);
    this.keys = new KeyLiveness(options.store, options.keyRecheckMs ?? 1000);
  }

  authenticate(authorization: string | undefined, connection?: object): MaybePromise<Principal> {
    const now = Date.now();
    // The same header again on a connection: its verification stands while the token has not
    // expired and its key is known to be live; this skips parsing and hashing a ~650-byte token.
    const last = connection && this.lastOnConnection.get(connection);
    if (last && last.authorization === authorization && now < last.entry.expiresAtMs) {
      const keyId = last.entry.saKeyId;
      if (keyId === undefined || this.keys.knownLive(keyId, now) === true) return last.entry.principal;
    }
    return this.authenticateAfresh(authorization, connection, now);
  }

  private async authenticateAfresh(authorization: string | undefined, connection: object | undefined, now: number): Promise<Principal> {
    const token = bearerToken(authorization);
    const entry = await this.verifyOrRecall(token, now);
    if (connection && authorization !== undefined) this.lastOnConnection.set(connection, { authorization, entry });
    return entry.principal;
  }

  /** The cached verification of a token, or a fresh one (then cached). */
  private async verifyOrRecall(token: string, now: number): Promise<CachedToken> {
    const cached = this.cache.get(token, now);
    if (cached) {
      if (cached.saKeyId === undefined || (await this.keys.isLive(cached.saKeyId, now))) return cached;
      // The key is gone: verify afresh, which says so.
      this.cache.delete(token);
    }
    let verified: CachedToken;
    try {
      verified = await this.verify(token, now);
    } catch (error) {
      if (error instanceof InvalidTokenError) throw invalidCredentials(error.message, error.reason === 'expired' ? 'ACCESS_TOKEN_EXPIRED' : 'ACCESS_TOKEN_INVALID');
      throw error;
    }
    this.cache.set(token, verified);
    return verified;
  }

  private async verify(token: string, now: number): Promise<CachedToken> {
    const decoded = decodeUnverified(token);
    const issuer = decoded.payload.iss;
    if (issuer === SERVER_TOKEN_ISSUER) return this.verifyServerToken(token, decoded, now);
    if (issuer !== undefined && this.trusted.has(issuer)) {
      const { payload, member } = await this.trusted.verify(token, issuer);
      return { principal: { member, scopes: scopesOf(payload) }, expiresAtMs: acceptedUntil(payload) };
    }
    if (issuer?.includes('@')) return this.verifySelfSigned(token, decoded, now);
    const accepted = [SERVER_TOKEN_ISSUER, 'service-account emails', ...this.trusted.issuers].join(', ');
    throw new InvalidTokenError(
      issuer !== undefined ? `the token's issuer '${issuer}' is not trusted by this server (it accepts ${accepted}).` : `the token has no 'iss' claim.`,
    );
  }

  private async verifyServerToken(token: string, decoded: DecodedJwt, now: number): Promise<CachedToken> {
    if (decoded.header.kid !== this.signingKey.kid) {
      throw new InvalidTokenError(
        `the access token was signed by a server key (kid ${decoded.header.kid ?? 'none'}) this server does not have; was it issued for another data directory?`,
      );
    }
    const payload = await verifyJwt(token, this.signingKey.publicKey, 'the access token', { issuer: SERVER_TOKEN_ISSUER });
    const member = payload.sub;
    if (member === undefined || !member.includes(':')) throw new InvalidTokenError(`the access token's 'sub' is not an IAM member such as user:alice@example.com.`);
    const saKeyId = payload.sa_key_id;
    if (saKeyId !== undefined) {
      const key = await this.store.getServiceAccountKey(saKeyId);
      if (!key || key.deleteTime) {
        throw new InvalidTokenError(`the access token was issued for service-account key ${saKeyId}, which ${key ? 'was deleted' : 'does not exist'}.`);
      }
      this.keys.record(key.keyId, true, now);
      return { principal: { member, scopes: scopesOf(payload) }, expiresAtMs: acceptedUntil(payload), saKeyId: key.keyId };
    }
    return { principal: { member, scopes: scopesOf(payload) }, expiresAtMs: acceptedUntil(payload) };
  }

  private async verifySelfSigned(token: string, decoded: DecodedJwt, now: number): Promise<CachedToken> {
    const what = `the self-signed JWT of ${decoded.payload.iss ?? 'no issuer'}`;
    const { payload, key, email } = await this.serviceAccounts.verify(token, decoded, what);
    if (payload.sub !== email) throw new InvalidTokenError(`${what} must have 'sub' equal to 'iss' (the service account's email).`);
    requireShortLived(payload, what);
    let scopes = scopesOf(payload);
    if (scopes.length === 0) {
      if (!audiencesOf(payload).some((aud) => this.audiences.has(withoutTrailingSlash(aud)))) {
        throw new InvalidTokenError(`${what} has no 'scope' claim and its audience is not ${[...this.audiences].map((a) => `${a}/`).join(' or ')}.`);
      }
      scopes = [CLOUD_PLATFORM_SCOPE];
    }
    this.keys.record(key.keyId, true, now);
    return { principal: { member: `serviceAccount:${email}`, scopes }, expiresAtMs: acceptedUntil(payload), saKeyId: key.keyId };
  }
}

/** The token of `Authorization: Bearer TOKEN` (the scheme is case-insensitive, RFC 6750 §2.1). */
function bearerToken(authorization: string | undefined): string {
  if (authorization === undefined || authorization.trim() === '') {
    throw new ApiError(
      Code.UNAUTHENTICATED,
      'Request is missing required authentication credential. Expected OAuth 2 access token in an Authorization: Bearer header ' +
        '(get one with `devconnect-emulator token --principal user:you@example.com`, or use a service-account key file).',
      { reason: 'CREDENTIALS_MISSING', domain: 'googleapis.com', metadata: { service: 'developerconnect.googleapis.com' } },
    );
  }
  const match = /^bearer +(\S+) *$/i.exec(authorization);
  if (!match) {
    const scheme = authorization.trim().split(/\s+/)[0];
    throw invalidCredentials(`the Authorization header must be 'Bearer TOKEN', not '${scheme} …'.`, 'ACCESS_TOKEN_TYPE_UNSUPPORTED');
  }
  return match[1]!;
}

function invalidCredentials(detail: string, reason: string): ApiError {
  return new ApiError(Code.UNAUTHENTICATED, `Request had invalid authentication credentials: ${detail}`, {
    reason,
    domain: 'googleapis.com',
    metadata: { service: 'developerconnect.googleapis.com' },
  });
}

/** `exp` plus the clock tolerance, as verifyJwt applies it. */
function acceptedUntil(payload: JwtClaims): number {
  return ((payload.exp ?? 0) + CLOCK_TOLERANCE_SECONDS) * 1000;
}

function withoutTrailingSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}
