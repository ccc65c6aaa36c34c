import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { ServiceAccountKeyRecord, Store } from '../store/store.js';

/** Where a key file sends its JWT-bearer grant unless told otherwise: `serve`'s default address. */
export const DEFAULT_TOKEN_URI = 'http://127.0.0.1:8080/token';

const EMAIL_DOMAIN = 'iam.gserviceaccount.com';
/** A service account's ID as Google accepts it: 6-30 characters, a letter first, no hyphen last. */
const ACCOUNT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
/** Project IDs as Google forms them (lowercase letters, digits, hyphens, a letter first), without the 6-character minimum so short test projects work. */
const PROJECT_ID = /^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * A service-account key file in the format Google's IAM hands out (`gcloud iam service-accounts
 * keys create`), which google-auth-library and every Google client library read from
 * GOOGLE_APPLICATION_CREDENTIALS. Only `token_uri` differs: it points at this emulator.
 */
export interface ServiceAccountKeyFile {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  /** PKCS#8 PEM. */
  private_key: string;
  client_email: string;
  client_id: string;
  auth_uri: string;
  token_uri: string;
  auth_provider_x509_cert_url: string;
  client_x509_cert_url: string;
  universe_domain: string;
}

/** `NAME@PROJECT.iam.gserviceaccount.com`, after checking both parts the way Google does. */
export function serviceAccountEmail(project: string, name: string): string {
  if (!PROJECT_ID.test(project)) {
    throw new Error(`project '${project}' is not a project ID: use lowercase letters, digits and hyphens, starting with a letter.`);
  }
  if (!ACCOUNT_ID.test(name)) {
    throw new Error(`service account name '${name}' must be 6-30 characters of lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen.`);
  }
  return `${name}@${project}.${EMAIL_DOMAIN}`;
}

/**
 * The numeric `client_id` of a service account. Google gives each account a fixed 21-digit ID;
 * deriving it from the email keeps it the same for every key of the account.
 */
export function serviceAccountClientId(email: string): string {
  const digest = BigInt('0x' + createHash('sha256').update(email).digest('hex'));
  return '1' + (digest % 10n ** 20n).toString().padStart(20, '0');
}

export interface CreatedServiceAccountKey {
  record: ServiceAccountKeyRecord;
  /** The key file's content: the only copy of the private key. */
  keyFile: ServiceAccountKeyFile;
}

/** Creates an RSA 2048 key for `NAME@PROJECT.iam.gserviceaccount.com`; the store keeps only the public half. */
export async function createServiceAccountKey(
  store: Store,
  request: { project: string; name: string; tokenUri?: string },
): Promise<CreatedServiceAccountKey> {
  const email = serviceAccountEmail(request.project, request.name);
  const tokenUri = request.tokenUri ?? DEFAULT_TOKEN_URI;
  if (!URL.canParse(tokenUri)) throw new Error(`token URI '${tokenUri}' is not a URL.`);
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  // Google's private_key_id: 40 hex digits.
  const keyId = randomBytes(20).toString('hex');
  const record = await store.createServiceAccountKey({
    keyId,
    project: request.project,
    email,
    publicKeyPem: publicKey,
    createTime: new Date(),
  });
  return {
    record,
    keyFile: {
      type: 'service_account',
      project_id: request.project,
      private_key_id: keyId,
      private_key: privateKey,
      client_email: email,
      client_id: serviceAccountClientId(email),
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: tokenUri,
      auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
      client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(email)}`,
      universe_domain: 'googleapis.com',
    },
  };
}
