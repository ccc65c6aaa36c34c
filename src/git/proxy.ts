import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from 'pino';
import type { CountDenial } from '../auth/denials.js';
import { ApiError, Code } from '../common/errors.js';
import type { Connection, GitRepositoryLink } from '../gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import type { InstallationTokens } from './github-app.js';
import type { GitTokens } from './link-tokens.js';
import { upstreamOf, type GitAccess, type SecretLookup } from './upstream.js';

/** The path under which links' git_proxy_uri are served, on the API's own port. */
export const GIT_PROXY_PREFIX = '/git-proxy/';
/** `projects/*\/locations/*\/connections/*\/gitRepositoryLinks/*`: eight segments. */
const LINK_SEGMENTS = 8;
/** Request headers a git client sends that the host needs; credentials are this server's, not the client's. */
const FORWARDED_REQUEST = ['content-type', 'content-encoding', 'accept', 'accept-encoding', 'git-protocol', 'user-agent', 'content-length', 'transfer-encoding'];
const FORWARDED_RESPONSE = ['content-type', 'content-encoding', 'cache-control', 'expires', 'pragma', 'transfer-encoding', 'content-length'];

/** The git proxy URI of a link: what `git clone` is pointed at, with a token as the password. */
export function gitProxyUri(publicUrl: string, link: string): string {
  return `${publicUrl}${GIT_PROXY_PREFIX}${link}`;
}

export interface GitProxyOptions {
  tokens: GitTokens;
  /** The link and its connection, or undefined when either does not exist. */
  lookup(link: string): Promise<{ link: GitRepositoryLink; connection: Connection } | undefined>;
  secret: SecretLookup;
  /** GitHub Enterprise apps' installation tokens, shared with the git methods. */
  installationTokens: InstallationTokens;
  log: Logger;
  /**
   * Counts each token refused (GIT_PROXY_TOKEN_INVALID, _EXPIRED, _OTHER_LINK) and each push with a read
   * token (GIT_PROXY_READ_ONLY). A request with no credentials is not counted: git sends its first
   * request without them and answers the 401's Basic challenge, so every clone would count one.
   */
  countDenial: CountDenial;
}

/**
 * Serves links' git_proxy_uri: git's smart-HTTP requests (`info/refs`, `git-upload-pack`,
 * `git-receive-pack`) are checked against the token of FetchReadToken (clone, fetch) or
 * FetchReadWriteToken (push too), sent as the password of HTTP Basic authentication, and then
 * forwarded to the link's clone_uri with the connection's own credentials, streaming both ways.
 */
export class GitProxy {
  constructor(private readonly options: GitProxyOptions) {}

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.serve(req, res).catch((error: unknown) => {
      // UNAVAILABLE is the host (or its token exchange) not answering: the proxy is its gateway.
      if (error instanceof ApiError) return reply(res, error.code === Code.NOT_FOUND ? 404 : error.code === Code.UNAVAILABLE ? 502 : 403, error.message);
      this.options.log.error({ err: error }, 'git proxy failed');
      reply(res, 502, 'The git proxy could not reach the repository host.');
    });
  };

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const segments = url.pathname.slice(GIT_PROXY_PREFIX.length).split('/');
    const linkName = segments.slice(0, LINK_SEGMENTS).join('/');
    const rest = segments.slice(LINK_SEGMENTS).join('/');
    if (segments.length <= LINK_SEGMENTS || !/^projects\/[^/]+\/locations\/[^/]+\/connections\/[^/]+\/gitRepositoryLinks\/[^/]+$/.test(linkName)) {
      return reply(res, 404, `No git repository link at ${url.pathname}.`);
    }
    const access: GitAccess = rest === 'git-receive-pack' || url.searchParams.get('service') === 'git-receive-pack' ? 'read-write' : 'read';
    const password = basicPassword(req.headers.authorization);
    if (password === undefined) {
      res.setHeader('www-authenticate', 'Basic realm="devconnect-emulator git proxy"');
      return reply(res, 401, 'Authenticate with the token of FetchReadToken (or FetchReadWriteToken to push) as the password.');
    }
    const claims = this.options.tokens.verify(password);
    if ('refused' in claims) {
      this.options.countDenial(claims.expired ? 'GIT_PROXY_TOKEN_EXPIRED' : 'GIT_PROXY_TOKEN_INVALID');
      res.setHeader('www-authenticate', 'Basic realm="devconnect-emulator git proxy"');
      return reply(res, 401, `${claims.refused[0]!.toUpperCase()}${claims.refused.slice(1)}.`);
    }
    if (claims.link !== linkName) {
      this.options.countDenial('GIT_PROXY_TOKEN_OTHER_LINK');
      return reply(res, 403, `The token was minted for ${claims.link}, not for ${linkName}.`);
    }
    if (access === 'read-write' && claims.access !== 'read-write') {
      this.options.countDenial('GIT_PROXY_READ_ONLY');
      return reply(res, 403, 'A push needs the token of FetchReadWriteToken; this one is read-only.');
    }
    const found = await this.options.lookup(linkName);
    if (!found) return reply(res, 404, `Git repository link '${linkName}' was not found.`);
    if (!found.connection.gitProxyConfig?.enabled) {
      return reply(res, 403, `The git proxy is not enabled on connection '${found.connection.name}' (set git_proxy_config.enabled).`);
    }
    // A credential the upstream mints (a GitHub app's installation token) stops being asked for when git goes away.
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    const upstream = upstreamOf(found.connection, found.link.cloneUri, { secret: this.options.secret, installationTokens: this.options.installationTokens, signal: gone.signal });
    const target = new URL(`${upstream.repository.href}/${rest}${url.search}`);
    const headers: Record<string, string | string[]> = {};
    for (const name of FORWARDED_REQUEST) {
      const value = req.headers[name];
      if (value !== undefined) headers[name] = value;
    }
    const authorization = await upstream.authorization(access);
    if (authorization) headers.authorization = authorization;
    await new Promise<void>((resolve, reject) => {
      const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
      const outbound = send(target, { method: req.method, headers }, (upstreamRes) => {
        const status = upstreamRes.statusCode ?? 502;
        // The host's own challenge would ask the client for the host's credentials: answer ours instead.
        if (status === 401) {
          upstreamRes.resume();
          upstream.refused();
          reply(res, 502, "The repository host refused the connection's credentials.");
          return resolve();
        }
        for (const name of FORWARDED_RESPONSE) {
          const value = upstreamRes.headers[name];
          if (value !== undefined) res.setHeader(name, value);
        }
        res.writeHead(status);
        upstreamRes.pipe(res);
        upstreamRes.on('end', resolve);
        upstreamRes.on('error', reject);
      });
      outbound.on('error', reject);
      req.pipe(outbound);
    });
  }
}

function basicPassword(authorization: string | undefined): string | undefined {
  const match = /^basic +(\S+)$/i.exec(authorization ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

function reply(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${message}\n`);
}
