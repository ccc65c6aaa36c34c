import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { denialReasonOf, type CountDenial } from '../auth/denials.js';
import { CLOUD_PLATFORM_SCOPE, type Authenticator, type Authorizer } from '../auth/principal.js';
import { ApiError, Code } from '../common/errors.js';
import { ROOT_RESOURCE } from '../iam/policies.js';
import { errorJson, httpStatusOf, toStatus } from '../transport/status.js';
import type { FaultRules } from './rules.js';

export const FAULTS_PATH = '/emulator/v1/faults';
const MAX_BODY_BYTES = 64 * 1024;
/**
 * What managing fault rules takes: rules change how the server answers everyone, so they need the
 * power to change the root policy, which only roles/owner grants, on the root policy itself.
 */
const MANAGE_PERMISSION = 'resourcemanager.projects.setIamPolicy';

/**
 * The fault rules over REST, on the API's port: `GET` lists them with how often each fired, `POST`
 * adds one and answers it with its id, `DELETE` clears them; `GET` and `DELETE …/{id}` one of them.
 * Errors are AIP-193 JSON, like the API's. Credentials are checked first, so a caller without them
 * learns nothing, not even whether a rule exists.
 */
export class FaultsEndpoint {
  constructor(
    private readonly options: { rules: FaultRules; authenticator: Authenticator; authorizer: Authorizer; log: Logger; countDenial: CountDenial },
  ) {}

  static matches(url: string): boolean {
    return url === FAULTS_PATH || url.startsWith(`${FAULTS_PATH}/`) || url.startsWith(`${FAULTS_PATH}?`);
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.route(req).then(
      (body) => send(res, 200, body),
      (error: unknown) => this.fail(res, error),
    );
  };

  private async route(req: IncomingMessage): Promise<object> {
    await this.authorize(req);
    const { rules } = this.options;
    const path = (req.url ?? '').split('?')[0] ?? '';
    const method = req.method ?? 'GET';
    if (path === FAULTS_PATH) {
      if (method === 'GET') return { faults: rules.list() };
      if (method === 'POST') return rules.add(parseJson(await readBody(req)));
      if (method === 'DELETE') {
        rules.clear();
        return {};
      }
    }
    const id = path.startsWith(`${FAULTS_PATH}/`) ? decodeURIComponent(path.slice(FAULTS_PATH.length + 1)) : undefined;
    if (id !== undefined && !id.includes('/')) {
      if (method === 'GET') return rules.get(id) ?? notFound(id);
      if (method === 'DELETE') return rules.remove(id) ? {} : notFound(id);
    }
    throw new ApiError(Code.NOT_FOUND, `No method serves ${method} ${path}.`, { reason: 'METHOD_NOT_FOUND' });
  }

  /** The API's own checks: a credential with the cloud-platform scope, then roles/owner on the root policy. */
  private async authorize(req: IncomingMessage): Promise<void> {
    const principal = await this.options.authenticator.authenticate(req.headers.authorization, req.socket);
    if (!principal.scopes.includes(CLOUD_PLATFORM_SCOPE)) {
      throw new ApiError(Code.PERMISSION_DENIED, 'Request had insufficient authentication scopes.', { reason: 'ACCESS_TOKEN_SCOPE_INSUFFICIENT', domain: 'googleapis.com' });
    }
    try {
      await this.options.authorizer.check(principal, MANAGE_PERMISSION, ROOT_RESOURCE);
    } catch (error) {
      if (!(error instanceof ApiError && error.code === Code.PERMISSION_DENIED)) throw error;
      throw new ApiError(
        Code.PERMISSION_DENIED,
        `Managing fault rules needs roles/owner on the root policy ('${ROOT_RESOURCE}'), which ${principal.member} does not have: the rules change how the server answers everyone.`,
        { reason: 'IAM_PERMISSION_DENIED', domain: 'iam.googleapis.com', metadata: { permission: MANAGE_PERMISSION, resource: ROOT_RESOURCE } },
      );
    }
  }

  private fail(res: ServerResponse, error: unknown): void {
    const denial = denialReasonOf(error);
    if (denial !== undefined) this.options.countDenial(denial);
    const status = toStatus(error, this.options.log);
    // RFC 6750 §3.1: a refused credential is answered with a Bearer challenge, as the API answers it.
    if (status.code === Code.UNAUTHENTICATED && !res.headersSent) {
      const missing = error instanceof ApiError && error.errorInfo?.reason === 'CREDENTIALS_MISSING';
      res.setHeader('www-authenticate', missing ? 'Bearer realm="devconnect-emulator"' : 'Bearer realm="devconnect-emulator", error="invalid_token"');
    }
    send(res, httpStatusOf(status.code), errorJson(status));
  }
}

function notFound(id: string): never {
  throw ApiError.notFound(`Fault rule '${id}' was not found.`, `${FAULTS_PATH}/${id}`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw ApiError.invalidArgument(`The body is not JSON: ${(error as Error).message}. Send one fault rule as a JSON object.`);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the limit the rest is drained and dropped, so the error can still be answered.
      if (size > MAX_BODY_BYTES) return reject(ApiError.invalidArgument(`The request body is larger than ${MAX_BODY_BYTES} bytes.`));
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
