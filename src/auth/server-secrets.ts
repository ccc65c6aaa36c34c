import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SecretStore } from '../store/store.js';

/**
 * One of the server's secrets, kept in the store so that every node of a cluster has the same. Made
 * by `make` on first use. `dataDir`: a SQLite data directory, where versions before the secrets moved
 * into the database kept them as files (`secrets/<name>`); such a file is adopted, so tokens and
 * page tokens handed out before the upgrade stay valid.
 */
export async function serverSecret(store: SecretStore, name: string, make: () => Uint8Array, dataDir?: string): Promise<Buffer> {
  const legacy = dataDir && dataDir !== ':memory:' ? join(dataDir, 'secrets', name) : undefined;
  const initial = legacy && existsSync(legacy) ? readFileSync(legacy) : make();
  return Buffer.from(await store.ensureSecret(name, initial));
}

/** A 32-byte key for HMACs and sealed tokens. */
export function randomKey(): Uint8Array {
  return randomBytes(32);
}
