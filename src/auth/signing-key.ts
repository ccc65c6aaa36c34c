import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, SignJWT } from 'jose';

/** The `iss` of every access token this server signs. */
export const SERVER_TOKEN_ISSUER = 'devconnect-emulator';
/** The file in `<dataDir>/secrets` holding the server's RS256 private key (PKCS#8 PEM). */
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
 * thumbprint of the public key, so it is stable for as long as the key file is.
 */
export class TokenSigningKey {
  private constructor(
    readonly kid: string,
    private readonly privateKey: KeyObject,
    readonly publicKey: KeyObject,
  ) {}

  /**
   * The key of a data directory (`<dataDir>/secrets/token-signing-key.pem`), created on first use.
   * The server and the `token` command may both open a new data directory at once: the file
   * appears atomically (written aside, then hard-linked into place), and the loser of the race reads the winner's key.
   */
  static async load(dataDir: string): Promise<TokenSigningKey> {
    if (dataDir === ':memory:') return TokenSigningKey.fromPem(newPrivateKeyPem());
    const dir = join(dataDir, 'secrets');
    const path = join(dir, SIGNING_KEY_FILE);
    if (!existsSync(path)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const aside = `${path}.${randomBytes(6).toString('hex')}.tmp`;
      writeFileSync(aside, newPrivateKeyPem(), { mode: 0o600, flag: 'wx' });
      try {
        linkSync(aside, path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      } finally {
        unlinkSync(aside);
      }
    }
    return TokenSigningKey.fromPem(readFileSync(path, 'utf8'));
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
