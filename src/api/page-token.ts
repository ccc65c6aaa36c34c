import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ApiError } from '../common/errors.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

/** AIP-158: 0 means the default; larger than the maximum is coerced down; negative is an error. */
export function pageSize(requested: number): number {
  if (requested < 0) throw ApiError.badField('page_size', `page_size must not be negative (got ${requested}).`);
  if (requested === 0) return DEFAULT_PAGE_SIZE;
  return Math.min(requested, MAX_PAGE_SIZE);
}

/**
 * Opaque page tokens (AIP-158): a store cursor bound to the query it came from and signed, so a
 * forged token or one from another query (other parent or filter) is rejected, not misread.
 */
export class PageTokens {
  constructor(private readonly key: Buffer) {}

  issue(query: string, cursor: string | undefined): string {
    if (cursor === undefined) return '';
    const payload = Buffer.from(JSON.stringify({ q: digest(query), c: cursor })).toString('base64url');
    return `${payload}.${this.sign(payload)}`;
  }

  /** Returns the cursor of a token issued for `query`; '' (the first page) returns undefined. */
  read(query: string, token: string): string | undefined {
    if (token === '') return undefined;
    const [payload = '', signature = '', ...rest] = token.split('.');
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(signature);
    if (rest.length > 0 || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw ApiError.badField('page_token', 'page_token is not a token this server issued.');
    }
    const body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { q: string; c: string };
    if (body.q !== digest(query)) {
      throw ApiError.badField('page_token', 'page_token was issued for a different request: parent, filter and order_by must stay the same between pages.');
    }
    return body.c;
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}

function digest(query: string): string {
  return createHash('sha256').update(query).digest('base64url').slice(0, 22);
}
