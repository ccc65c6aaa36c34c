/**
 * The page's only way to the server's data: the public REST API, as the signed-in caller. The
 * bearer token lives in this object's memory (it came from the session endpoint), never in storage.
 */

/** An AIP-193 error answer, or a network failure (httpStatus 0). */
export class ApiFailure extends Error {
  constructor(
    readonly httpStatus: number,
    /** The google.rpc.Code name: `PERMISSION_DENIED`, … */
    readonly status: string,
    message: string,
    readonly details: readonly unknown[] = [],
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

export interface Operation {
  name: string;
  done?: boolean;
  metadata?: OperationMetadata;
  error?: { code?: number; message?: string; details?: unknown[] };
  response?: Record<string, unknown>;
}

export interface OperationMetadata {
  createTime?: string;
  endTime?: string;
  target?: string;
  verb?: string;
  statusMessage?: string;
  requestedCancellation?: boolean;
  apiVersion?: string;
}

export interface SessionInfo {
  auth: 'jwt' | 'none';
  principal?: string;
  token?: string;
}

type Json = Record<string, unknown>;

export class Api {
  constructor(
    private readonly token: string | undefined,
    /** Told when the server no longer takes the credential (it expired or was revoked). */
    private readonly onUnauthenticated: () => void,
  ) {}

  get<T = Json>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  post<T = Json>(path: string, body: unknown = {}): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  delete<T = Json>(path: string): Promise<T> {
    return this.call<T>('DELETE', path);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
    } catch (error) {
      throw new ApiFailure(0, 'UNAVAILABLE', `The server could not be reached (${error instanceof Error ? error.message : String(error)}).`);
    }
    const text = await response.text();
    const parsed = parse(text);
    if (response.ok) return (parsed ?? {}) as T;
    const error = isObject(parsed) && isObject(parsed.error) ? parsed.error : undefined;
    if (response.status === 401) this.onUnauthenticated();
    throw new ApiFailure(
      response.status,
      typeof error?.status === 'string' ? error.status : `HTTP ${response.status}`,
      typeof error?.message === 'string' ? error.message : text.slice(0, 300) || response.statusText,
      Array.isArray(error?.details) ? error.details : [],
    );
  }
}

function parse(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The console's own endpoints: who the page acts as, sign in with a pasted token, sign out. */
export const session = {
  async read(): Promise<SessionInfo> {
    const response = await fetch('/console/api/session', { cache: 'no-store' });
    if (!response.ok) throw new ApiFailure(response.status, `HTTP ${response.status}`, 'The console could not read its session.');
    return (await response.json()) as SessionInfo;
  },
  async signIn(token: string): Promise<SessionInfo> {
    return consolePost('/console/api/session', { token });
  },
  async signOut(): Promise<SessionInfo> {
    return consolePost('/console/api/logout', {});
  },
};

async function consolePost(path: string, body: unknown): Promise<SessionInfo> {
  const response = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const parsed = parse(await response.text());
  if (response.ok) return parsed as SessionInfo;
  const error = isObject(parsed) && isObject(parsed.error) ? parsed.error : undefined;
  throw new ApiFailure(response.status, String(error?.status ?? response.status), typeof error?.message === 'string' ? error.message : 'The request failed.');
}
