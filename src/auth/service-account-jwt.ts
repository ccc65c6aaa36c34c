import { createPublicKey, type KeyObject } from 'node:crypto';
import type { ServiceAccountKeyRecord, Store } from '../store/store.js';
import type { JwtClaims } from './jwt-shape.js';
import { InvalidTokenError, verifyJwt, type DecodedJwt } from './jwt-verify.js';

export interface VerifiedServiceAccountJwt {
  payload: JwtClaims;
  key: ServiceAccountKeyRecord;
  /** The `iss`: the service account's email. */
  email: string;
}

/**
 * Verifies JWTs signed with a service-account key: the self-signed access tokens of Google's
 * client libraries and the assertions of the JWT-bearer grant. `iss` names the account; the header's
 * `kid` names the key (google-auth-library sends it for self-signed tokens but not in grant
 * assertions, where every key of the account is tried). Keys are read from the store on every
 * call, so a key deleted by another process is refused at once.
 */
export class ServiceAccountJwtVerifier {
  /** Public keys by key id: a key's PEM never changes, so parsing it once is enough. */
  private readonly publicKeys = new Map<string, KeyObject>();

  constructor(private readonly store: Store) {}

  async verify(token: string, decoded: DecodedJwt, what: string): Promise<VerifiedServiceAccountJwt> {
    const email = decoded.payload.iss;
    if (email === undefined || email === '') throw new InvalidTokenError(`${what} has no 'iss' claim naming the service account.`);
    const kid = decoded.header.kid;
    if (kid !== undefined) {
      const key = await this.store.getServiceAccountKey(kid);
      if (!key) throw new InvalidTokenError(`${what} names key ${kid} (kid), which is not a service-account key of this emulator.`);
      if (key.deleteTime) throw new InvalidTokenError(`service-account key ${kid} of ${key.email} was deleted at ${key.deleteTime.toISOString()}.`);
      if (key.email !== email) throw new InvalidTokenError(`key ${kid} (kid) belongs to ${key.email}, not to the token's issuer ${email}.`);
      return { payload: await verifyJwt(token, this.publicKey(key), what), key, email };
    }
    const keys = await this.store.listServiceAccountKeys(email);
    if (keys.length === 0) throw new InvalidTokenError(`service account ${email} has no keys that are not deleted.`);
    for (const key of keys) {
      try {
        return { payload: await verifyJwt(token, this.publicKey(key), what), key, email };
      } catch (error) {
        // jose checks the signature before the claims: any other failure is this key's verdict.
        if (!(error instanceof InvalidTokenError) || error.reason !== 'signature') throw error;
      }
    }
    throw new InvalidTokenError(`the signature of ${what} verifies with no key of ${email} that is not deleted.`);
  }

  private publicKey(key: ServiceAccountKeyRecord): KeyObject {
    let publicKey = this.publicKeys.get(key.keyId);
    if (!publicKey) {
      publicKey = createPublicKey(key.publicKeyPem);
      this.publicKeys.set(key.keyId, publicKey);
    }
    return publicKey;
  }
}
