import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, SignJWT } from 'jose';
import type { SecretStore } from '../store/store.js';
import { serverSecret } from './server-secrets.js';

/** The `iss` of every access token this server signs. */
export const SERVER_TOKEN_ISSUER = 'devconnect-emulator';
/** The name of the server's RS256 private key (PKCS#8 PEM) among its secrets, and of its file in `<dataDir>/secrets` before those moved into the database. */
export const SIGNING_KEY_FILE = 'token-signing-key.pem';

export interface ServerTokenRequest {
  /** The IAM member the token speaks for, e.g. `user:alice@example.com`; becomes `sub`. */
  member: string;
  scopes: readonly string[];
  ttlSeconds: number;
  /** The service-account key the token was exchanged for: the token dies with that key. */
  saKeyId?: string;
}

export interface ServerToken {
  token: string;
  expiresAt: Date;
}

/** The claims of a server-signed access token beyond the registered ones. */
export interface ServerTokenClaims {
  scope?: string;
  sa_key_id?: string;
}

/**
 * The server's own RS256 key pair: it signs the access tokens of `POST /token` and of the `token`
 * command, and the authenticator verifies them with the public half. The `kid` is the RFC 7638
 * thumbprint of the public key, so it is stable for as long as the stored key is.
 */
export class TokenSigningKey {
  private constructor(
    readonly kid: string,
    private readonly privateKey: KeyObject,
    readonly publicKey: KeyObject,
  ) {}

  /**
   * The server's key, kept in the store (every node of a cluster signs with it), made on first use.
   * `dataDir`: a SQLite data directory whose key file, from before keys moved into the database, is adopted.
   */
  static async load(store: SecretStore, dataDir?: string): Promise<TokenSigningKey> {
    const pem = await serverSecret(store, SIGNING_KEY_FILE, () => Buffer.from(newPrivateKeyPem()), dataDir);
    return TokenSigningKey.fromPem(pem.toString('utf8'));
  }

  static async fromPem(privateKeyPem: string): Promise<TokenSigningKey> {
    const privateKey = createPrivateKey(privateKeyPem);
    if (privateKey.asymmetricKeyType !== 'rsa') throw new Error(`the token signing key must be an RSA key, not ${privateKey.asymmetricKeyType}`);
    const publicKey = createPublicKey(privateKey);
    const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
    return new TokenSigningKey(kid, privateKey, publicKey);
  }

  /** Signs an access token: `iss` devconnect-emulator, `sub` the member, `scope` space-separated, `iat`, `exp`. */
  async sign(request: ServerTokenRequest): Promise<ServerToken> {
    if (!Number.isFinite(request.ttlSeconds) || request.ttlSeconds <= 0) throw new Error('a token lifetime must be positive');
    const iat = Math.floor(Date.now() / 1000);
    const exp = iat + Math.ceil(request.ttlSeconds);
    const claims: ServerTokenClaims = { scope: request.scopes.join(' ') };
    if (request.saKeyId !== undefined) claims.sa_key_id = request.saKeyId;
    const token = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: this.kid })
      .setIssuer(SERVER_TOKEN_ISSUER)
      .setSubject(request.member)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(this.privateKey);
    return { token, expiresAt: new Date(exp * 1000) };
  }
}

function newPrivateKeyPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}
