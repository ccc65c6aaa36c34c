/**
 * A real git host for tests: Debian's `git http-backend` (a CGI program) behind a few lines of
 * node:http, serving bare repositories made with real commits, branches and tags. Optionally it
 * requires HTTP Basic credentials, so a test can see whose credentials reach it, and serves another
 * API on the same origin, as GitHub Enterprise serves its REST API beside its repositories.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

export interface GitHost {
  url: string;
  root: string;
  /** Runs git with a clean environment (no user config, no prompts). */
  git(args: string[], cwd?: string): string;
  /** Makes `NAME.git` with a commit on main, a branch `dev` and a tag `v1.0`. */
  createRepository(name: string): void;
  /** The Authorization headers git's requests carried, in order. */
  authorizations: (string | undefined)[];
  stop(): Promise<void>;
}

export const gitEnvironment = (home: string): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: home,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
});

export interface GitHostOptions {
  /** The credentials git's requests must carry; a set of passwords holds tokens the test issues and revokes as it goes. */
  basicAuth?: { username: string; password: string | ReadonlySet<string> };
  /** Answers the requests that are not git's (resolving true for those it answered); the others go to git. */
  api?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
  /** The port on 127.0.0.1; a free one when not given. */
  port?: number;
}

export async function startGitHost(options: GitHostOptions = {}): Promise<GitHost> {
  const root = mkdtempSync(join(tmpdir(), 'git-host-'));
  const env = gitEnvironment(root);
  const git = (args: string[], cwd = root) => execFileSync('git', args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const authorizations: (string | undefined)[] = [];
  const accepted = (authorization: string | undefined): boolean => {
    const required = options.basicAuth;
    if (!required) return true;
    const match = /^Basic (\S+)$/.exec(authorization ?? '');
    const decoded = match ? Buffer.from(match[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const [username, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
    return colon >= 0 && username === required.username && (typeof required.password === 'string' ? password === required.password : required.password.has(password));
  };

  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    if (options.api && (await options.api(req, res))) return;
    authorizations.push(req.headers.authorization);
    if (!accepted(req.headers.authorization)) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git host"' }).end('credentials required\n');
      return;
    }
    runBackend(root, req, res);
  };
  const server: Server = createServer((req, res) => {
    serve(req, res).catch((error: unknown) => res.writeHead(500).end(`${String(error)}\n`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    root,
    git,
    authorizations,
    createRepository(name) {
      const bare = join(root, `${name}.git`);
      git(['init', '--quiet', '--bare', '-b', 'main', bare]);
      git(['config', 'http.receivepack', 'true'], bare);
      const work = mkdtempSync(join(root, 'work-'));
      git(['init', '--quiet', '-b', 'main'], work);
      writeFileSync(join(work, 'README.md'), `# ${name}\n`);
      git(['add', 'README.md'], work);
      git(['commit', '--quiet', '-m', 'first'], work);
      git(['tag', 'v1.0'], work);
      git(['branch', 'dev'], work);
      git(['push', '--quiet', bare, 'main', 'dev', 'v1.0'], work);
      rmSync(work, { recursive: true, force: true });
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** One request through git http-backend, as a CGI program (RFC 3875). */
function runBackend(root: string, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://host');
  const child = spawn(HTTP_BACKEND, [], {
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      REQUEST_METHOD: req.method ?? 'GET',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_USER: 'tester',
      REMOTE_ADDR: '127.0.0.1',
      HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
      HTTP_GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
    },
  });
  req.pipe(child.stdin);
  let head = Buffer.alloc(0);
  let headerDone = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headerDone) return void res.write(chunk);
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    headerDone = true;
    let status = 200;
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
      else res.setHeader(name, value);
    }
    res.writeHead(status);
    res.write(head.subarray(end + 4));
  });
  child.stdout.on('end', () => res.end());
  child.on('error', () => res.writeHead(500).end());
}
