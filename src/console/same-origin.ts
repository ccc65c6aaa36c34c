import type { IncomingMessage } from 'node:http';

/**
 * CSRF defence for the console's own requests that change state (sign in, sign out). The REST
 * API itself needs none: it takes credentials only from the `Authorization` header, which a page
 * of another origin cannot make a browser send. These requests ride on the session cookie, so
 * they must come from a page of this origin (OWASP's "verifying origin with standard headers"
 * plus a content type no HTML form can send without a CORS preflight, which is never granted):
 * - `Sec-Fetch-Site`, when the browser sends it, must be `same-origin` (SameSite=Strict does not
 *   stop another port of the same host, which is the same *site*);
 * - `Origin` must be present and be this server's origin, as the request addressed it or as
 *   `--public-url` names it;
 * - the body must be declared `application/json`.
 */
export function isSameOriginJson(req: IncomingMessage, publicUrl: string): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return false;
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (origin === undefined || host === undefined) return false;
  const own = [`http://${host}`, `https://${host}`];
  if (URL.canParse(publicUrl)) own.push(new URL(publicUrl).origin);
  if (!own.includes(origin)) return false;
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  return type === 'application/json';
}
