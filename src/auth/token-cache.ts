import type { Store } from '../store/store.js';
import type { Principal } from './principal.js';

export interface CachedToken {
  principal: Principal;
  /** When the token stops being accepted (its `exp` plus the clock tolerance), in epoch milliseconds. */
  expiresAtMs: number;
  /** The service-account key the token depends on: it is refused once that key is deleted. */
  saKeyId?: string;
}

/**
 * Verified tokens by their exact text, so a client that sends the same token on every call (as
 * Google's libraries do for an hour) pays for an RSA verification once. Bounded: the least
 * recently used token goes first; an expired one goes when it is next looked up.
 */
export class TokenCache {
  private readonly entries = new Map<string, CachedToken>();

  constructor(private readonly capacity: number) {}

  get(token: string, now: number): CachedToken | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    this.entries.delete(token);
    if (now >= entry.expiresAtMs) return undefined;
    this.entries.set(token, entry);
    return entry;
  }

  set(token: string, entry: CachedToken): void {
    this.entries.delete(token);
    this.entries.set(token, entry);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  delete(token: string): void {
    this.entries.delete(token);
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Whether service-account keys are still live, for cached tokens. The store is the truth, and a
 * key may be deleted by another process (the CLI writes the SQLite file directly), so no
 * in-process notification can be relied on: each key is re-read from the store when its last
 * reading is older than `maxAgeMs`. A deleted key is therefore refused at most `maxAgeMs` after
 * its deletion, at the cost of one primary-key read per key in use per `maxAgeMs`.
 */
export class KeyLiveness {
  private readonly readings = new Map<string, { live: boolean; at: number }>();

  constructor(
    private readonly store: Store,
    private readonly maxAgeMs: number,
  ) {}

  async isLive(keyId: string, now: number): Promise<boolean> {
    return this.knownLive(keyId, now) ?? this.reread(keyId, now);
  }

  /** The reading of a key when it is recent enough, without touching the store; undefined otherwise. */
  knownLive(keyId: string, now: number): boolean | undefined {
    const reading = this.readings.get(keyId);
    return reading && now - reading.at < this.maxAgeMs ? reading.live : undefined;
  }

  private async reread(keyId: string, now: number): Promise<boolean> {
    const key = await this.store.getServiceAccountKey(keyId);
    const live = key !== undefined && key.deleteTime === undefined;
    this.record(keyId, live, now);
    return live;
  }

  /** Records a reading taken at `at` (by a full verification, which read the key from the store). */
  record(keyId: string, live: boolean, at: number): void {
    // Readings of keys no longer in use would pile up: start over rather than track their use.
    if (this.readings.size >= 10_000 && !this.readings.has(keyId)) this.readings.clear();
    this.readings.set(keyId, { live, at });
  }
}
