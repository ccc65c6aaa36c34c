import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTVerifyGetKey, type KeyObject } from 'jose';
import type { ZodType } from 'zod';
import { JwtClaims, JwtHeader, shapeProblem } from './jwt-shape.js';

/** Clocks of a client and this server may disagree by this much (seconds) before `exp`, `nbf` and `iat` count. */
export const CLOCK_TOLERANCE_SECONDS = 30;
/** Google accepts tokens signed with a service-account key only when they live at most an hour. */
export const MAX_SELF_SIGNED_LIFETIME_SECONDS = 3600;

/** A token that is refused; `message` says why, for the person reading the 401 or the invalid_grant. */
export class InvalidTokenError extends Error {
  constructor(
    message: string,
    /** `expired`: the token was good once, a client should fetch a new one; `signature`: the key does not match. */
    readonly reason: 'expired' | 'signature' | 'invalid' = 'invalid',
  ) {
    super(message);
    this.name = 'InvalidTokenError';
  }
}

export interface DecodedJwt {
  header: JwtHeader;
  payload: JwtClaims;
}

/** Reads a JWT's header and claims without verifying anything, to decide how to verify it; their types are checked. */
export function decodeUnverified(token: string): DecodedJwt {
  let header: unknown;
  let payload: unknown;
  try {
    header = decodeProtectedHeader(token);
    payload = decodeJwt(token);
  } catch {
    throw new InvalidTokenError('the token is not a well-formed JWT (three base64url parts: header, claims, signature).');
  }
  return { header: shaped(JwtHeader, header, 'header parameters'), payload: shaped(JwtClaims, payload, 'claims') };
}

function shaped<T>(schema: ZodType<T>, value: unknown, part: 'header parameters' | 'claims'): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new InvalidTokenError(shapeProblem(result.error, part));
  return result.data;
}

/**
 * Verifies an RS256 signature and the time claims (`exp` required; `nbf` and `iat` not in the
 * future), with CLOCK_TOLERANCE_SECONDS of slack. jose's errors become InvalidTokenError with a
 * message naming `what` was checked ("the self-signed JWT of ci@p.iam.gserviceaccount.com").
 */
export async function verifyJwt(
  token: string,
  key: KeyObject | JWTVerifyGetKey,
  what: string,
  expect: { issuer?: string; audiences?: readonly string[] } = {},
): Promise<JwtClaims> {
  let payload: JwtClaims;
  try {
    const verified = await jwtVerify(token, key, {
      algorithms: ['RS256'],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['exp'],
      issuer: expect.issuer,
      audience: expect.audiences ? [...expect.audiences] : undefined,
    });
    payload = shaped(JwtClaims, verified.payload, 'claims');
  } catch (error) {
    throw explain(error, what);
  }
  const now = Date.now() / 1000;
  if (typeof payload.iat === 'number' && payload.iat > now + CLOCK_TOLERANCE_SECONDS) {
    throw new InvalidTokenError(`${what} is not valid yet: it was issued at ${isoTime(payload.iat)}, in the future (is a clock wrong?).`);
  }
  return payload;
}

/** Refuses a JWT signed with a service-account key that lives longer than an hour, as Google does. */
export function requireShortLived(payload: JwtClaims, what: string): void {
  const start = typeof payload.iat === 'number' ? payload.iat : Date.now() / 1000;
  if (typeof payload.exp === 'number' && payload.exp - start > MAX_SELF_SIGNED_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS) {
    throw new InvalidTokenError(`${what} must be short-lived: its exp is more than ${MAX_SELF_SIGNED_LIFETIME_SECONDS} seconds after its iat.`);
  }
}

/** The `aud` claim as a list (RFC 7519 §4.1.3 allows one string or an array). */
export function audiencesOf(payload: JwtClaims): string[] {
  return typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
}

/** The `scope` claim (space-separated, as OAuth 2.0 writes it) or `scp` (a list, as some OpenID providers do). */
export function scopesOf(payload: JwtClaims): string[] {
  const claim = payload.scope ?? payload.scp ?? [];
  return (typeof claim === 'string' ? claim.split(' ') : claim).filter((s) => s !== '');
}

export function isoTime(seconds: number): string {
  const date = new Date(seconds * 1000);
  // A claim like 1e20 is a JSON number but no date: say the number rather than throw.
  return Number.isNaN(date.getTime()) ? `${seconds} (seconds since the epoch)` : date.toISOString();
}

function explain(error: unknown, what: string): Error {
  if (error instanceof InvalidTokenError) return error;
  if (error instanceof errors.JWTExpired) {
    const exp = error.payload.exp;
    return new InvalidTokenError(`${what} expired${typeof exp === 'number' ? ` at ${isoTime(exp)}` : ''}.`, 'expired');
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf' && typeof error.payload.nbf === 'number') {
      return new InvalidTokenError(`${what} is not valid before ${isoTime(error.payload.nbf)}.`);
    }
    if (error.claim === 'iss') return new InvalidTokenError(`${what} has the wrong issuer '${String(error.payload.iss)}'.`);
    if (error.claim === 'aud') {
      const aud = error.payload.aud;
      return new InvalidTokenError(`${what} was issued for ${aud === undefined ? 'no audience' : `the audience ${JSON.stringify(aud)}`}, not for this server.`);
    }
    return new InvalidTokenError(`${what} has an invalid '${error.claim}' claim (${error.reason}).`);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return new InvalidTokenError(`the signature of ${what} does not verify.`, 'signature');
  if (error instanceof errors.JOSEAlgNotAllowed) return new InvalidTokenError(`${what} must be signed with RS256.`);
  if (error instanceof errors.JWKSNoMatchingKey) return new InvalidTokenError(`no key of the issuer's JWKS matches ${what} (unknown kid).`);
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) {
    return new InvalidTokenError(`the issuer's JWKS could not be read to verify ${what}: ${error.message}`);
  }
  if (error instanceof errors.JOSEError) return new InvalidTokenError(`${what} is malformed: ${error.message}`);
  if (error instanceof TypeError && /fetch/i.test(error.message)) {
    return new InvalidTokenError(`the issuer's JWKS could not be fetched to verify ${what}: ${error.message}`);
  }
  return error instanceof Error ? error : new Error(String(error));
}
