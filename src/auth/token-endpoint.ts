import type { Store } from '../store/store.js';
import type { CountDenial } from './denials.js';
import { audiencesOf, decodeUnverified, InvalidTokenError, requireShortLived, scopesOf } from './jwt-verify.js';
import { ServiceAccountJwtVerifier, type VerifiedServiceAccountJwt } from './service-account-jwt.js';
import type { TokenSigningKey } from './signing-key.js';

/** RFC 7523 §2.1. */
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Lifetime of the access tokens handed out, as Google's token endpoint gives them. */
export const ACCESS_TOKEN_TTL_SECONDS = 3600;

export interface TokenEndpointResponse {
  status: number;
  /** `Cache-Control: no-store` and `Pragma: no-cache`, which RFC 6749 §5.1 requires on token responses. */
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

export interface TokenEndpointOptions {
  store: Store;
  signingKey: TokenSigningKey;
  /** This server's token URL; an assertion's `aud` must be it or any URL ending in `/token`. */
  tokenUri?: string;
  /** Counts each refusal, as `TOKEN_ENDPOINT_` and its RFC 6749 error code (`TOKEN_ENDPOINT_INVALID_GRANT`). */
  countDenial?: CountDenial;
}

type OAuthError = 'invalid_request' | 'invalid_grant' | 'unsupported_grant_type' | 'invalid_scope';

class TokenRequestError extends Error {
  constructor(
    readonly error: OAuthError,
    message: string,
  ) {
    super(message);
  }
}

/**
 * `POST /token`: the OAuth 2.0 JWT-bearer grant (RFC 7523) of service-account keys, which
 * google-auth-library and Google's other client libraries post to their key file's token URL. The
 * assertion is signed with a key kept in the store (`iss` its email); the answer is an access
 * token signed by this server for `serviceAccount:EMAIL` with the assertion's scopes, which dies
 * with the key. Errors follow RFC 6749 §5.2.
 */
export class TokenEndpoint {
  private readonly signingKey: TokenSigningKey;
  private readonly verifier: ServiceAccountJwtVerifier;
  private readonly tokenUri: string | undefined;
  private readonly countDenial: CountDenial;

  constructor(options: TokenEndpointOptions) {
    this.signingKey = options.signingKey;
    this.verifier = new ServiceAccountJwtVerifier(options.store);
    this.tokenUri = options.tokenUri;
    this.countDenial = options.countDenial ?? (() => {});
  }

  /** Answers one request: its Content-Type header and body (form-encoded, as RFC 6749 has it, or JSON). */
  readonly handle = async (contentType: string | undefined, body: string): Promise<TokenEndpointResponse> => {
    try {
      return respond(200, await this.grant(parameters(contentType, body)));
    } catch (error) {
      if (error instanceof TokenRequestError) {
        this.countDenial(`TOKEN_ENDPOINT_${error.error.toUpperCase()}`);
        return respond(400, { error: error.error, error_description: error.message });
      }
      throw error;
    }
  };

  private async grant(params: Map<string, string>): Promise<Record<string, unknown>> {
    const grantType = params.get('grant_type');
    if (grantType === undefined) throw new TokenRequestError('invalid_request', `grant_type is required; this server supports ${JWT_BEARER_GRANT}.`);
    if (grantType !== JWT_BEARER_GRANT) {
      throw new TokenRequestError('unsupported_grant_type', `grant_type '${grantType}' is not supported; this server supports ${JWT_BEARER_GRANT}.`);
    }
    const assertion = params.get('assertion');
    if (!assertion) throw new TokenRequestError('invalid_request', 'assertion is required: a JWT signed with a service-account key.');

    const { payload, key, email } = await this.verifyAssertion(assertion);
    if (!audiencesOf(payload).some((aud) => aud === this.tokenUri || aud.endsWith('/token'))) {
      throw new TokenRequestError('invalid_grant', `Invalid JWT: the assertion's audience must be this server's token URL${this.tokenUri ? ` (${this.tokenUri})` : ''}.`);
    }
    if (payload.sub !== undefined && payload.sub !== email) {
      throw new TokenRequestError('invalid_grant', `Invalid JWT: 'sub' ${payload.sub} differs from 'iss'; domain-wide delegation is not emulated.`);
    }
    if (payload.target_audience !== undefined) {
      throw new TokenRequestError('invalid_request', 'ID tokens (target_audience) are not issued by this server; ask for an access token with a scope.');
    }
    const scopes = scopesOf(payload);
    if (scopes.length === 0) throw new TokenRequestError('invalid_scope', "Invalid OAuth scope or ID token audience provided: the assertion has no 'scope' claim.");

    const { token } = await this.signingKey.sign({
      member: `serviceAccount:${email}`,
      scopes,
      ttlSeconds: ACCESS_TOKEN_TTL_SECONDS,
      saKeyId: key.keyId,
    });
    return { access_token: token, expires_in: ACCESS_TOKEN_TTL_SECONDS, token_type: 'Bearer' };
  }

  private async verifyAssertion(assertion: string): Promise<VerifiedServiceAccountJwt> {
    try {
      const decoded = decodeUnverified(assertion);
      const what = `the assertion of ${decoded.payload.iss ?? 'no issuer'}`;
      const verified = await this.verifier.verify(assertion, decoded, what);
      requireShortLived(verified.payload, what);
      return verified;
    } catch (error) {
      if (error instanceof InvalidTokenError) throw new TokenRequestError('invalid_grant', `Invalid JWT: ${error.message}`);
      throw error;
    }
  }
}

function respond(status: number, body: Record<string, unknown>): TokenEndpointResponse {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', pragma: 'no-cache' }, body };
}

/** The request's parameters: `application/x-www-form-urlencoded` (RFC 6749 §4.1.3) or a JSON object of strings. */
function parameters(contentType: string | undefined, body: string): Map<string, string> {
  const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (mediaType === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new TokenRequestError('invalid_request', 'the body is not valid JSON.');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TokenRequestError('invalid_request', 'the body must be a JSON object.');
    const params = new Map<string, string>();
    for (const [name, value] of Object.entries(parsed)) {
      if (typeof value !== 'string') throw new TokenRequestError('invalid_request', `parameter ${name} must be a string.`);
      params.set(name, value);
    }
    return params;
  }
  if (mediaType === 'application/x-www-form-urlencoded' || mediaType === '') {
    const form = new URLSearchParams(body);
    const params = new Map<string, string>();
    for (const name of new Set(form.keys())) {
      // RFC 6749 §3.2: parameters must not be repeated.
      if (form.getAll(name).length > 1) throw new TokenRequestError('invalid_request', `parameter ${name} is repeated.`);
      params.set(name, form.get(name)!);
    }
    return params;
  }
  throw new TokenRequestError('invalid_request', `Content-Type ${mediaType} is not supported; send application/x-www-form-urlencoded.`);
}
