/** The CLI's way to a running server's REST API: its address, the caller's token, and its AIP-193 errors. */

export interface ServerOptions {
  server: string;
  token?: string;
}

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

/** A JSON object as the server sends it (proto3 JSON). */
export type Json = Record<string, unknown>;

/** A non-2xx answer, from its AIP-193 body `{"error": {"code", "message", "status", "details"}}`. */
export class ServerError extends Error {
  constructor(
    /** The google.rpc.Code's name (`NOT_FOUND`), or `HTTP 502` when the body had none. */
    readonly status: string,
    /** The server's own message. */
    readonly serverMessage: string,
    readonly httpStatus: number,
  ) {
    super(`${status}: ${serverMessage}`);
  }
}

/**
 * One REST call: `path` (with its query) under the server's base URL, a bearer token from `--token`
 * or $DEVCONNECT_TOKEN when there is one, `body` as JSON when given. Resolves to the JSON answer; a
 * non-2xx answer throws a ServerError, an unreachable server or a body that is not JSON an Error.
 */
export async function callServer(options: ServerOptions, method: string, path: string, body?: unknown): Promise<Json> {
  const url = `${options.server.replace(/\/+$/, '')}${path}`;
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  const token = options.token ?? process.env.DEVCONNECT_TOKEN;
  if (token) headers.authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new Error(`cannot reach ${options.server}: ${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message}`, { cause: error });
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new Error(`${method} ${path} answered HTTP ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`${method} ${path} answered HTTP ${response.status} with JSON that is not an object: ${text.slice(0, 200)}`);
  }
  if (!response.ok) {
    const error = (json as { error?: { status?: unknown; message?: unknown } }).error;
    const status = typeof error?.status === 'string' ? error.status : `HTTP ${response.status}`;
    throw new ServerError(status, typeof error?.message === 'string' ? error.message : text, response.status);
  }
  return json as Json;
}
