import { ApiError, Code } from '../common/errors.js';
import { parseRefAdvertisement } from './pkt-line.js';
import type { Upstream } from './upstream.js';

/** How long a git host may take to advertise its refs. */
const TIMEOUT_MS = 10_000;

/**
 * The refs of a repository, read over git's smart-HTTP protocol (`GET …/info/refs?service=git-upload-pack`)
 * from its real host. A host that does not answer is UNAVAILABLE; one that refuses the connection's
 * credentials, or serves no such repository, is FAILED_PRECONDITION: the caller must fix the connection or link.
 */
export async function fetchRefs(upstream: Upstream): Promise<Map<string, string>> {
  const url = `${upstream.repository.href}/info/refs?service=git-upload-pack`;
  const headers: Record<string, string> = { 'user-agent': 'git/devconnect-emulator', accept: 'application/x-git-upload-pack-advertisement' };
  const authorization = await upstream.authorization('read');
  if (authorization) headers.authorization = authorization;
  let response: Response;
  try {
    response = await fetch(url, { headers, signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'follow' });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new ApiError(Code.UNAVAILABLE, `The git host of '${upstream.repository.origin}' did not answer (${cause}).`, { reason: 'GIT_HOST_UNAVAILABLE' });
  }
  const body = Buffer.from(await response.arrayBuffer());
  const where = `${upstream.repository.href}`;
  if (response.status === 401 || response.status === 403) {
    upstream.refused();
    const credential = upstream.credential('read');
    throw new ApiError(
      Code.FAILED_PRECONDITION,
      `The git host refused the connection's credentials for ${where} (HTTP ${response.status}${credential ? `; the credential of ${credential}` : ''}).`,
      { reason: 'GIT_HOST_REFUSED', metadata: credential ? { field: credential } : {} },
    );
  }
  if (response.status === 404) throw new ApiError(Code.FAILED_PRECONDITION, `The git host has no repository at ${where} (HTTP 404).`, { reason: 'GIT_REPOSITORY_NOT_FOUND' });
  if (!response.ok) throw new ApiError(Code.UNAVAILABLE, `The git host answered HTTP ${response.status} for ${where}.`, { reason: 'GIT_HOST_UNAVAILABLE' });
  if (!(response.headers.get('content-type') ?? '').startsWith('application/x-git-upload-pack-advertisement')) {
    throw new ApiError(Code.FAILED_PRECONDITION, `${where} is not served by git's smart-HTTP protocol (no upload-pack advertisement).`, { reason: 'NOT_A_GIT_HOST' });
  }
  try {
    return parseRefAdvertisement(body);
  } catch (error) {
    throw new ApiError(Code.UNAVAILABLE, `The git host's ref advertisement for ${where} could not be read: ${(error as Error).message}.`, { reason: 'GIT_HOST_UNAVAILABLE' });
  }
}
