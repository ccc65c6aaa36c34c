import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Small tokens whose content is their meaning (`KIND.<claims>.<signature>`, base64url JSON and
 * HMAC-SHA256 with a key of the data directory): what the server hands out and later takes back
 * without keeping any state, so they survive a restart and any node can check them. `purpose`
 * separates the uses of one key. Used by git proxy tokens and the OAuth flow's tickets and codes.
 */
export class SignedClaims {
  constructor(
    private readonly key: Buffer,
    private readonly purpose: string,
  ) {}

  seal<T extends { expires: number }>(kind: string, claims: T): string {
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${kind}.${payload}.${this.sign(kind, payload)}`;
  }

  /** The claims of a token of this kind that this server sealed and that has not expired; otherwise why not. */
  open(kind: string, text: string, nowMs = Date.now()): (Record<string, unknown> & { expires: number }) | string {
    const [k, payload = '', signature = '', ...rest] = text.split('.');
    if (k !== kind || rest.length > 0) return 'it is not one this server issued';
    const expected = Buffer.from(this.sign(kind, payload));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'it is not one this server issued';
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return 'it is malformed';
    }
    if (typeof claims !== 'object' || claims === null) return 'it is malformed';
    const expires = (claims as { expires?: unknown }).expires;
    if (typeof expires !== 'number') return 'it is malformed';
    if (expires * 1000 <= nowMs) return `it expired at ${new Date(expires * 1000).toISOString()}`;
    return claims as Record<string, unknown> & { expires: number };
  }

  private sign(kind: string, payload: string): string {
    return createHmac('sha256', this.key).update(`${this.purpose}.${kind}.${payload}`).digest('base64url');
  }
}
