import type { ZodType } from 'zod';
import { ApiError, Code } from '../common/errors.js';

/** How long a host's API may take to answer one request. */
const TIMEOUT_MS = 10_000;
/** The largest answer read from a host's API: a page of a listing is far smaller. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface HostApiRequest {
  /** Who is called, as the subject of a message: "The GitLab Enterprise host https://gitlab.example.com". */
  host: string;
  url: string;
  method?: 'GET' | 'POST';
  headers: Record<string, string>;
  /** The connection field whose credential the request carries, named when the host refuses it. */
  credential: string;
  /** What a 404 means for this request, when it means more than "not this kind of host". */
  notFound?: string;
  /** The caller's signal: the call stops when the client goes away. */
  signal: AbortSignal;
}

export interface HostApiAnswer<T> {
  body: T;
  headers: Headers;
}

/**
 * One call of a git host's REST API (GitLab's, Bitbucket Data Center's, GitHub Enterprise's), its
 * JSON answer checked against `shape`. The answers are mapped as the git methods map a git host's
 * (smart-http.ts): a host that does not answer, or answers 5xx or 429, is UNAVAILABLE (worth a
 * retry); one that refuses the credential, has no such API or answers something else than the
 * API's JSON is FAILED_PRECONDITION, naming what the connection must change. Redirects are not
 * followed: they would carry the connection's credential to another address.
 */
export async function callHostApi<T>(request: HostApiRequest, shape: ZodType<T>): Promise<HostApiAnswer<T>> {
  const method = request.method ?? 'GET';
  const what = `${method} ${new URL(request.url).pathname}`;
  let response: Response;
  let text: string;
  try {
    response = await fetch(request.url, {
      method,
      headers: { 'user-agent': 'devconnect-emulator', ...request.headers },
      redirect: 'manual',
      signal: AbortSignal.any([request.signal, AbortSignal.timeout(TIMEOUT_MS)]),
    });
    text = await readText(response);
  } catch (error) {
    request.signal.throwIfAborted();
    if (error instanceof ApiError) throw error;
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new ApiError(Code.UNAVAILABLE, `${request.host} did not answer ${what} (${cause}).`, { reason: 'GIT_HOST_UNAVAILABLE' });
  }
  const status = response.status;
  if (status === 401 || status === 403) {
    throw new ApiError(Code.FAILED_PRECONDITION, `${request.host} refused the credential of ${request.credential} (HTTP ${status} on ${what}${hostMessage(text)}).`, {
      reason: 'GIT_HOST_REFUSED',
      metadata: { field: request.credential },
    });
  }
  if (status === 404) {
    throw new ApiError(Code.FAILED_PRECONDITION, request.notFound ?? `${request.host} has no ${what} (HTTP 404): is host_uri the address of such a host?`, {
      reason: 'NOT_A_HOST_API',
    });
  }
  if (status >= 300 && status < 400) {
    throw new ApiError(
      Code.FAILED_PRECONDITION,
      `${request.host} redirected ${what} to ${response.headers.get('location') ?? 'another address'} (HTTP ${status}): set host_uri to the address the host serves its API on.`,
      { reason: 'NOT_A_HOST_API' },
    );
  }
  if (status >= 500 || status === 429) {
    throw new ApiError(Code.UNAVAILABLE, `${request.host} answered HTTP ${status} to ${what}${hostMessage(text)}.`, { reason: 'GIT_HOST_UNAVAILABLE' });
  }
  if (!response.ok) {
    throw new ApiError(Code.FAILED_PRECONDITION, `${request.host} answered HTTP ${status} to ${what}${hostMessage(text)}.`, { reason: 'NOT_A_HOST_API' });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ApiError(Code.FAILED_PRECONDITION, `${request.host} did not answer ${what} with JSON: is host_uri the address of such a host?`, { reason: 'NOT_A_HOST_API' });
  }
  const parsed = shape.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw new ApiError(Code.FAILED_PRECONDITION, `${request.host} answered ${what} with JSON this server cannot read${where}: ${issue?.message ?? 'unexpected shape'}.`, {
      reason: 'NOT_A_HOST_API',
    });
  }
  return { body: parsed.data, headers: response.headers };
}

/** Whether a response's Link header (RFC 8288, as GitHub and GitLab page) names a next page. */
export function hasNextLink(headers: Headers): boolean {
  return /<[^>]*>\s*;[^,]*\brel="?next"?/i.test(headers.get('link') ?? '');
}

/** The body as text, refused beyond MAX_BODY_BYTES. */
async function readText(response: Response): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw new ApiError(Code.FAILED_PRECONDITION, `The host's answer to ${response.url} is larger than ${MAX_BODY_BYTES} bytes, which no page of its API should be.`, { reason: 'NOT_A_HOST_API' });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The start of what the host said, when it is short and printable, to help the reader of an error. */
function hostMessage(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line !== '' && line.length <= 200 ? `: ${line}` : '';
}
