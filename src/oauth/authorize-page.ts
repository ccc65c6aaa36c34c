import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OAuthTickets } from './tickets.js';

/** Where StartOAuth's auth_uri points: this server's own authorization page. */
export const AUTHORIZE_PATH = '/oauth/authorize';
const MAX_FORM_BYTES = 16 * 1024;

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * The authorization page of the OAuth provider that AccountConnectors talk to here. There is no
 * GitHub or GitLab to send a person to, so the server plays the provider: GET shows what is asked
 * (the connector, the scopes) with an Authorize button; POST issues an authorization code bound to
 * the ticket and the PKCE challenge, and redirects to `redirect_uri` (loopback only, as a native app's
 * would be, RFC 8252) or shows the code to paste into FinishOAuth.
 */
export class AuthorizePage {
  constructor(private readonly tickets: OAuthTickets) {}

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method === 'GET') return this.show(new URL(req.url ?? '/', 'http://page').searchParams, res);
    if (req.method !== 'POST') return page(res, 405, 'Method not allowed', '<p>Use GET or POST.</p>');
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > MAX_FORM_BYTES) req.destroy();
    });
    req.on('end', () => this.decide(new URLSearchParams(body), res));
  };

  private show(query: URLSearchParams, res: ServerResponse): void {
    const ticket = query.get('state') ?? '';
    const challenge = query.get('code_challenge') ?? '';
    const claims = this.tickets.readTicket(ticket);
    if ('code' in claims) return page(res, 400, 'Invalid request', `<p>${escapeHtml(claims.description)}</p>`);
    if (query.get('code_challenge_method') !== 'S256' || challenge === '') {
      return page(res, 400, 'Invalid request', '<p>A PKCE code_challenge with code_challenge_method S256 is required.</p>');
    }
    const redirect = query.get('redirect_uri') ?? '';
    if (redirect !== '' && !loopback(redirect)) return page(res, 400, 'Invalid request', '<p>redirect_uri must be a loopback http URL.</p>');
    const scopes = (query.get('scope') ?? '').split(/[ ,]+/).filter((s) => s !== '');
    const hidden = (name: string, value: string) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
    page(
      res,
      200,
      'Authorize access',
      `<p><strong>${escapeHtml(claims.member)}</strong> is asked to connect an account to <code>${escapeHtml(claims.connector)}</code>.</p>
<p>Scopes: ${scopes.length > 0 ? scopes.map((s) => `<code>${escapeHtml(s)}</code>`).join(', ') : 'none'}</p>
<form method="post" action="${AUTHORIZE_PATH}">${hidden('state', ticket)}${hidden('code_challenge', challenge)}${hidden('redirect_uri', redirect)}
<button name="decision" value="allow" autofocus>Authorize</button> <button name="decision" value="deny">Deny</button></form>`,
    );
  }

  private decide(form: URLSearchParams, res: ServerResponse): void {
    const ticket = form.get('state') ?? '';
    const claims = this.tickets.readTicket(ticket);
    if ('code' in claims) return page(res, 400, 'Invalid request', `<p>${escapeHtml(claims.description)}</p>`);
    const redirect = form.get('redirect_uri') ?? '';
    if (redirect !== '' && !loopback(redirect)) return page(res, 400, 'Invalid request', '<p>redirect_uri must be a loopback http URL.</p>');
    const allowed = form.get('decision') === 'allow';
    const params = allowed ? { code: this.tickets.issueCode(ticket, form.get('code_challenge') ?? ''), state: ticket } : { error: 'access_denied', state: ticket };
    if (redirect !== '') {
      const target = new URL(redirect);
      for (const [name, value] of Object.entries(params)) target.searchParams.set(name, value);
      res.writeHead(303, { location: target.href, 'cache-control': 'no-store' }).end();
      return;
    }
    if (!allowed) return page(res, 200, 'Access denied', '<p>No code was issued.</p>');
    page(res, 200, 'Authorized', `<p>Finish with FinishOAuth, giving this code and ticket:</p><p>code: <code id="code">${escapeHtml(params.code ?? '')}</code></p><p>ticket: <code id="ticket">${escapeHtml(ticket)}</code></p>`);
  }
}

function loopback(uri: string): boolean {
  if (!URL.canParse(uri)) return false;
  const url = new URL(uri);
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

function page(res: ServerResponse, status: number, title: string, body: string): void {
  res
    .writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
    })
    .end(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)} · devconnect-emulator</title>` +
        `<style>body{font:16px system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}code{word-break:break-all}button{font-size:1rem;padding:.4rem 1rem}</style></head>` +
        `<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`,
    );
}
