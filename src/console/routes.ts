import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { denialReasonOf, type CountDenial } from '../auth/denials.js';
import type { MethodTable } from '../api/methods.js';
import { CLOUD_PLATFORM_SCOPE, type Authenticator, type Authorizer } from '../auth/principal.js';
import type { TokenSigningKey } from '../auth/signing-key.js';
import { ApiError, Code } from '../common/errors.js';
import type { OperationChange } from '../engine/engine.js';
import { errorJson, httpStatusOf, toStatus } from '../transport/status.js';
import { ConsoleAssets, SECURITY_HEADERS } from './assets.js';
import { OperationEventStreams } from './event-stream.js';
import { isSameOriginJson } from './same-origin.js';
import {
  clearedSessionCookie,
  CONSOLE_PREFIX,
  credentialsOf,
  LOGIN_SESSION_SECONDS,
  type LoginCodes,
  overTls,
  secondsUntilExpiry,
  sessionCookie,
  sessionTokenOf,
} from './session.js';

const MAX_BODY_BYTES = 16 * 1024;

export interface ConsoleOptions {
  auth: 'jwt' | 'none';
  engine: { watch(listener: (change: OperationChange) => void): () => void };
  methods: MethodTable;
  authenticator: Authenticator;
  authorizer: Authorizer;
  /** Under `jwt`: the member the one-time login code signs in, the key its token is signed with, and the codes. */
  owner?: { member: string; signingKey: TokenSigningKey; loginCodes: LoginCodes };
  /** The base URL clients reach this server at (known once it listens). */
  publicUrl: () => string;
  log: Logger;
  /** Counts a wrong or spent login code (CONSOLE_LOGIN_CODE_INVALID) and every refusal answered with an ErrorInfo reason. */
  countDenial: CountDenial;
}

/** What `GET /console/api/session` answers: who the page acts as, and the token it sends to the REST API. */
export interface SessionInfo {
  auth: 'jwt' | 'none';
  principal?: string;
  token?: string;
}

/**
 * The web console under /console/: the page (a bundle built from src/console/web), its sign-in and
 * sign-out, and its event stream. The page reads and changes everything through the public REST API
 * with the caller's bearer token, so every action takes the same methods, IAM checks and logs as any
 * client's call; nothing here reads the store.
 *
 * Why the page holds the token rather than the REST API accepting the cookie: the API then keeps
 * taking credentials from the `Authorization` header only, so no cross-site request can ever act
 * through it, and only the two small endpoints here that ride on the cookie need CSRF checks.
 */
export class ConsoleRoutes {
  private readonly assets = new ConsoleAssets();
  private readonly streams: OperationEventStreams;
  /** The code of the login link this node printed. */
  private readonly loginCode: string | undefined;

  constructor(private readonly options: ConsoleOptions) {
    this.streams = new OperationEventStreams(options);
    this.loginCode = options.auth === 'jwt' && options.owner ? options.owner.loginCodes.issue() : undefined;
  }

  static matches(url: string): boolean {
    return url === CONSOLE_PREFIX || url.startsWith(`${CONSOLE_PREFIX}/`) || url.startsWith(`${CONSOLE_PREFIX}?`);
  }

  /** The path to open the console at: under `jwt`, the one-time login URL of the owner. */
  get entryPath(): string {
    return this.loginCode ? `${CONSOLE_PREFIX}/login?code=${this.loginCode}` : `${CONSOLE_PREFIX}/`;
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.route(req, res).catch((error: unknown) => this.fail(res, error));
  };

  /** Ends every event stream, so shutting down does not wait for browsers to go away. */
  close(): void {
    this.streams.close();
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://console');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const read = method === 'GET' || method === 'HEAD';
    if (path === CONSOLE_PREFIX) return redirect(res, `${CONSOLE_PREFIX}/`);
    if (path === `${CONSOLE_PREFIX}/login` && read) return this.login(req, res, url.searchParams.get('code') ?? '');
    if (path === `${CONSOLE_PREFIX}/api/session`) {
      if (read) return json(res, 200, await this.session(req, res));
      if (method === 'POST') return this.signIn(req, res);
    }
    if (path === `${CONSOLE_PREFIX}/api/logout` && method === 'POST') return this.signOut(req, res);
    if (path === `${CONSOLE_PREFIX}/api/events` && read) {
      return this.streams.serve(req, res, credentialsOf(req), url.searchParams.get('parent') ?? '');
    }
    if (path.startsWith(`${CONSOLE_PREFIX}/api/`)) throw new ApiError(Code.NOT_FOUND, `No console method serves ${method} ${path}.`);
    if (!read) throw new ApiError(Code.UNIMPLEMENTED, `The console's pages take GET, not ${method}.`);
    const asset = path.startsWith(`${CONSOLE_PREFIX}/assets/`) ? path.slice(`${CONSOLE_PREFIX}/assets/`.length) : 'index.html';
    return this.assets.serve(res, asset, method === 'HEAD');
  }

  /**
   * `GET /console/login?code=…`: the code `serve` printed becomes the owner's session cookie, once.
   * A GET because it is a link to open from a terminal; it is safe as one since it does nothing
   * without the secret code, and spends it.
   */
  private async login(req: IncomingMessage, res: ServerResponse, code: string): Promise<void> {
    const owner = this.options.owner;
    if (!this.loginCode || !owner) return redirect(res, `${CONSOLE_PREFIX}/`);
    if (!(await owner.loginCodes.spend(code))) {
      this.options.countDenial('CONSOLE_LOGIN_CODE_INVALID');
      res
        .writeHead(401, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        .end(
          '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>Login link not valid</title>' +
            '<link rel="icon" href="/console/assets/icon.svg" type="image/svg+xml"><link rel="stylesheet" href="/console/assets/app.css"></head>' +
            '<body><main><h1>This login link is not valid</h1><p>A login link works once, within a day of the server start that printed it. ' +
            `<a href="${CONSOLE_PREFIX}/">Open the console</a> and sign in with an access token instead.</p></main></body></html>`,
        );
      return;
    }
    const { token } = await owner.signingKey.sign({ member: owner.member, scopes: [CLOUD_PLATFORM_SCOPE], ttlSeconds: LOGIN_SESSION_SECONDS });
    this.options.log.info({ member: owner.member }, 'console login code used');
    res.setHeader('set-cookie', sessionCookie(token, LOGIN_SESSION_SECONDS, overTls(req)));
    redirect(res, `${CONSOLE_PREFIX}/`);
  }

  private async session(req: IncomingMessage, res: ServerResponse): Promise<SessionInfo> {
    const auth = this.options.auth;
    if (auth === 'none') return { auth, principal: (await this.options.authenticator.authenticate(undefined)).member };
    const token = sessionTokenOf(req);
    if (token === undefined) return { auth };
    try {
      const principal = await this.options.authenticator.authenticate(`Bearer ${token}`);
      return { auth, principal: principal.member, token };
    } catch {
      // An expired or revoked token: the page asks for a new one.
      res.setHeader('set-cookie', clearedSessionCookie(overTls(req)));
      return { auth };
    }
  }

  /** `POST /console/api/session` `{"token": "…"}`: a pasted access token becomes the session, if the server accepts it. */
  private async signIn(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requireSameOrigin(req);
    if (this.options.auth === 'none') return json(res, 200, await this.session(req, res));
    const body = parseJsonObject(await readBody(req));
    const token = typeof body.token === 'string' ? body.token.trim().replace(/^Bearer\s+/i, '') : '';
    if (token === '') throw ApiError.invalidArgument('Paste an access token, for example one from `devconnect-emulator token`.', 'token');
    const principal = await this.options.authenticator.authenticate(`Bearer ${token}`);
    if (!principal.scopes.includes(CLOUD_PLATFORM_SCOPE)) {
      throw new ApiError(Code.PERMISSION_DENIED, `This token lacks the scope ${CLOUD_PLATFORM_SCOPE}, which every method requires.`, {
        reason: 'ACCESS_TOKEN_SCOPE_INSUFFICIENT',
        domain: 'googleapis.com',
      });
    }
    res.setHeader('set-cookie', sessionCookie(token, secondsUntilExpiry(token), overTls(req)));
    json(res, 200, { auth: 'jwt', principal: principal.member, token } satisfies SessionInfo);
  }

  private signOut(req: IncomingMessage, res: ServerResponse): void {
    this.requireSameOrigin(req);
    res.setHeader('set-cookie', clearedSessionCookie(overTls(req)));
    json(res, 200, { auth: this.options.auth } satisfies SessionInfo);
  }

  private requireSameOrigin(req: IncomingMessage): void {
    if (isSameOriginJson(req, this.options.publicUrl())) return;
    throw new ApiError(Code.PERMISSION_DENIED, 'Cross-site request refused: the console accepts this only from its own pages, as JSON.', { reason: 'CSRF_CHECK_FAILED' });
  }

  private fail(res: ServerResponse, error: unknown): void {
    const denial = denialReasonOf(error);
    if (denial !== undefined) this.options.countDenial(denial);
    const status = toStatus(error, this.options.log);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    json(res, httpStatusOf(status.code), errorJson(status));
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { ...SECURITY_HEADERS, location, 'cache-control': 'no-store' }).end();
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(ApiError.invalidArgument(`The request body is larger than ${MAX_BODY_BYTES} bytes.`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw ApiError.invalidArgument('The body must be a JSON object.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw ApiError.invalidArgument('The body must be a JSON object.');
  return value as Record<string, unknown>;
}
