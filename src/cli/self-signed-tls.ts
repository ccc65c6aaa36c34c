import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generate } from 'selfsigned';

export interface SelfSignedTls {
  cert: Buffer;
  key: Buffer;
  /** The certificate's file: what a client trusts (GRPC_DEFAULT_SSL_ROOTS_FILE_PATH, NODE_EXTRA_CA_CERTS, curl --cacert). */
  certPath: string;
}

/** Made anew this long before it expires, so a certificate a client trusts does not lapse mid-session. */
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;
const VALID_FOR_MS = 825 * 24 * 3600 * 1000;

/**
 * `serve --tls self-signed`: a certificate for localhost, 127.0.0.1 and ::1, kept in
 * `<dataDir>/tls` so that clients trust it once and it survives restarts; made on first use, and
 * again when it is near its end or unreadable.
 */
export async function selfSignedTls(dataDir: string): Promise<SelfSignedTls> {
  const dir = resolve(dataDir, 'tls');
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  if (existsSync(certPath) && existsSync(keyPath) && usable(readFileSync(certPath))) {
    return { cert: readFileSync(certPath), key: readFileSync(keyPath), certPath };
  }
  const now = new Date();
  const pems = await generate([{ name: 'commonName', value: 'devconnect-emulator (localhost)' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + VALID_FOR_MS),
    extensions: [
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] },
    ],
  });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(keyPath, pems.private, { mode: 0o600 });
  writeFileSync(certPath, pems.cert);
  return { cert: Buffer.from(pems.cert), key: Buffer.from(pems.private), certPath };
}

function usable(pem: Buffer): boolean {
  try {
    return new Date(new X509Certificate(pem).validTo).getTime() - Date.now() > RENEW_BEFORE_MS;
  } catch {
    return false;
  }
}
