import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';

/**
 * Where `npm run build` puts the console's bundle (scripts/build-console.mjs). The path is the same
 * from src/console (tests, through tsx) and dist/console (the CLI): the project root's dist/.
 */
const BUNDLE_DIR = new URL('../../dist/console/web/', import.meta.url);

/** The files of the bundle, by the name the page asks for under /console/assets/. */
const ASSETS: Readonly<Record<string, string>> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  'icon.svg': 'image/svg+xml',
};

/**
 * No inline script or style, nothing from another origin, no plugins, no framing; HTML sinks take
 * only lit-html's policy, which lets through nothing but the templates' own static text.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  'trusted-types lit-html',
].join('; ');

/** Headers on every console response. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** The bundle's files, read once from dist/. */
export class ConsoleAssets {
  private readonly cache = new Map<string, Promise<Buffer>>();

  /** Serves `index.html` (every page of the console is the same document) or a file of /console/assets/. */
  async serve(res: ServerResponse, file: string, head: boolean): Promise<void> {
    const type = file === 'index.html' ? 'text/html; charset=utf-8' : ASSETS[file];
    if (type === undefined) {
      res.writeHead(404, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' }).end('Not found.\n');
      return;
    }
    let body: Buffer;
    try {
      body = await this.read(file);
    } catch {
      res
        .writeHead(503, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' })
        .end('The console has not been built: run `npm run build` (it bundles src/console/web into dist/console/web).\n');
      return;
    }
    // The bundle changes only with a build, which restarts the server; the page itself is never cached
    // so a new build's asset names are always picked up.
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': body.length, 'cache-control': 'no-cache' });
    res.end(head ? undefined : body);
  }

  private read(file: string): Promise<Buffer> {
    let body = this.cache.get(file);
    if (!body) {
      body = readFile(new URL(file, BUNDLE_DIR));
      // A failed read is not remembered: the bundle may be built while the server runs.
      body.catch(() => this.cache.delete(file));
      this.cache.set(file, body);
    }
    return body;
  }
}
