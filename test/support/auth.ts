import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, type JWTPayload } from 'jose';
import { createServiceAccountKey, type ServiceAccountKeyFile } from '../../src/auth/service-account-keys.js';
import { SIGNING_KEY_FILE, TokenSigningKey } from '../../src/auth/signing-key.js';
import { SqliteStore } from '../../src/store/sqlite.js';

export const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';

export function newRsaPrivateKeyPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** A data directory with a SQLite store, a server signing key whose PEM the test knows (to forge tokens), and helpers. */
export interface AuthFixture {
  dataDir: string;
  store: SqliteStore;
  signingKey: TokenSigningKey;
  signingKeyPem: string;
  newKey(name?: string, project?: string): Promise<ServiceAccountKeyFile>;
  close(): Promise<void>;
}

export async function authFixture(): Promise<AuthFixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'devconnect-auth-'));
  const signingKeyPem = newRsaPrivateKeyPem();
  mkdirSync(join(dataDir, 'secrets'), { mode: 0o700 });
  writeFileSync(join(dataDir, 'secrets', SIGNING_KEY_FILE), signingKeyPem, { mode: 0o600 });
  const store = SqliteStore.open(dataDir);
  const signingKey = await TokenSigningKey.load(store, dataDir);
  return {
    dataDir,
    store,
    signingKey,
    signingKeyPem,
    newKey: async (name = 'ci-runner', project = 'demo-project') =>
      (await createServiceAccountKey(store, { project, name, tokenUri: 'http://127.0.0.1:1/token' })).keyFile,
    close: async () => {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const epochSeconds = (): number => Math.floor(Date.now() / 1000);

/** Signs `claims` (over defaults: iss = sub = client_email, iat now, exp in an hour) with a private key PEM, as jws does. */
export async function signJwt(privateKeyPem: string, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  const iat = epochSeconds();
  return new SignJWT({ iat, exp: iat + 3600, ...claims })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...header })
    .sign(createPrivateKey(privateKeyPem));
}

/** A self-signed JWT the way google-auth-library's JWTAccess makes it (with a scope claim unless overridden). */
export function selfSignedJwt(keyFile: ServiceAccountKeyFile, claims: JWTPayload = {}, header: Record<string, unknown> = {}): Promise<string> {
  return signJwt(
    keyFile.private_key,
    { iss: keyFile.client_email, sub: keyFile.client_email, scope: CLOUD_PLATFORM, ...claims },
    { kid: keyFile.private_key_id, ...header },
  );
}

/** A JWT-bearer grant assertion the way google-auth-library's gtoken makes it: no kid, aud Google's token URL. */
export function grantAssertion(keyFile: ServiceAccountKeyFile, claims: JWTPayload = {}): Promise<string> {
  return signJwt(keyFile.private_key, { iss: keyFile.client_email, scope: CLOUD_PLATFORM, aud: 'https://oauth2.googleapis.com/token', ...claims });
}
