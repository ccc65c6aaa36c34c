import { createPrivateKey } from 'node:crypto';
import { SignJWT } from 'jose';
import { z } from 'zod';
import { ApiError, Code } from '../common/errors.js';
import { callHostApi, hasNextLink } from './host-api-call.js';

/**
 * Clients of the REST APIs of the git hosts a connection may name (GitLab, Bitbucket Data Center,
 * GitHub Enterprise): the repositories a credential sees, and a GitHub app's installations. Each
 * listing is read in pages from a position (`after`), and says for every repository the position
 * just after it, so that a page of Developer Connect may end anywhere in a page of the host.
 */

/** Repositories of a host from a position on, and where the host's listing goes on after them. */
export interface RepositoryPage {
  repositories: { cloneUri: string; after: string }[];
  /** The position after the host's page, or undefined when the host has no more. */
  next?: string;
}

/** What every call of a host needs: its API's base, a name for messages and the caller's signal. */
export interface HostApi {
  /** The host's URL (its host_uri), without a trailing slash. */
  base: string;
  /** "The GitLab Enterprise host https://gitlab.example.com", the subject of messages. */
  label: string;
  signal: AbortSignal;
}

/** Neither GitLab nor GitHub serves more than 100 items a page. */
const HOST_PAGE_MAX = 100;

/**
 * The projects a GitLab personal access token is a member of: `GET /api/v4/projects` with keyset
 * pagination by id (GitLab's "Pagination" docs), so projects created between pages shift nothing.
 * The position is the last project's id (`id_after`).
 */
export async function gitlabProjects(host: HostApi, token: string, credential: string, after: string | undefined, limit: number): Promise<RepositoryPage> {
  const query = new URLSearchParams({ membership: 'true', simple: 'true', pagination: 'keyset', order_by: 'id', sort: 'asc', per_page: String(Math.min(limit, HOST_PAGE_MAX)) });
  if (after !== undefined) query.set('id_after', after);
  const { body, headers } = await callHostApi(
    { host: host.label, url: `${host.base}/api/v4/projects?${query}`, headers: { 'private-token': token, accept: 'application/json' }, credential, signal: host.signal },
    z.array(z.object({ id: z.number().int(), http_url_to_repo: z.string() })),
  );
  const repositories = body.map((project) => ({ cloneUri: project.http_url_to_repo, after: String(project.id) }));
  return { repositories, next: hasNextLink(headers) ? (repositories.at(-1)?.after ?? after) : undefined };
}

const bitbucketPage = z.object({
  values: z.array(z.object({ links: z.object({ clone: z.array(z.object({ href: z.string(), name: z.string() })).optional() }).optional() })),
  isLastPage: z.boolean(),
  nextPageStart: z.number().int().nullish(),
});

/**
 * The repositories a Bitbucket Data Center HTTP access token may read: `GET /rest/api/1.0/repos`,
 * paged by `start` (an index into the listing) and `limit`. Its clone URI is the `http` one of
 * `links.clone`; a repository that offers none (HTTP access turned off) cannot be linked and is left out.
 */
export async function bitbucketRepositories(host: HostApi, token: string, credential: string, after: string | undefined, limit: number): Promise<RepositoryPage> {
  const start = Number(after ?? 0);
  const { body } = await callHostApi(
    {
      host: host.label,
      url: `${host.base}/rest/api/1.0/repos?start=${start}&limit=${limit}`,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      credential,
      signal: host.signal,
    },
    bitbucketPage,
  );
  const repositories = body.values.flatMap((repository, index) => {
    const http = repository.links?.clone?.find((link) => link.name === 'http');
    return http ? [{ cloneUri: http.href, after: String(start + index + 1) }] : [];
  });
  return { repositories, next: body.isLastPage ? undefined : String(body.nextPageStart ?? start + body.values.length) };
}

/** The GitHub API's headers, with a bearer token (an app JWT or an installation token). */
function githubHeaders(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' };
}

/**
 * The JWT a GitHub app authenticates as itself with (GitHub's "Generating a JSON Web Token for a
 * GitHub App"): RS256 with the app's private key, `iss` the app's id, issued a minute in the past
 * against clock drift and valid for less than GitHub's ten-minute maximum.
 */
export async function githubAppJwt(appId: bigint, privateKeyPem: string, keyField: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  try {
    return await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuer(String(appId))
      .setIssuedAt(now - 60)
      .setExpirationTime(now + 540)
      .sign(createPrivateKey(privateKeyPem));
  } catch (error) {
    throw new ApiError(Code.FAILED_PRECONDITION, `${keyField} is not a GitHub app's RSA private key in PEM (${(error as Error).message}).`, {
      reason: 'INVALID_PRIVATE_KEY',
      metadata: { field: keyField },
    });
  }
}

/**
 * An installation access token of a GitHub app: `POST /api/v3/app/installations/{id}/access_tokens`
 * with the app's JWT, and when it expires (`expires_at`, undefined if the host does not say).
 */
export async function githubInstallationToken(
  host: HostApi,
  appJwt: string,
  credential: string,
  installationId: bigint,
  installationField: string,
): Promise<{ token: string; expiresAt?: Date }> {
  const { body } = await callHostApi(
    {
      host: host.label,
      url: `${host.base}/api/v3/app/installations/${installationId}/access_tokens`,
      method: 'POST',
      headers: githubHeaders(appJwt),
      credential,
      notFound: `${host.label} has no installation ${installationId} of the app (${installationField}); FetchGitHubInstallations lists the app's installations.`,
      signal: host.signal,
    },
    z.object({ token: z.string().min(1), expires_at: z.string().nullish() }),
  );
  const expiresAt = body.expires_at ? new Date(body.expires_at) : undefined;
  return { token: body.token, expiresAt: expiresAt && !Number.isNaN(expiresAt.getTime()) ? expiresAt : undefined };
}

/**
 * The repositories an installation of a GitHub app may access: `GET /api/v3/installation/repositories`,
 * paged by page number. The position is `PAGE:INDEX` (the page, the index of the next repository in
 * it), always with pages of 100 so that a page number means the same repositories on every call.
 */
export async function githubRepositories(host: HostApi, installationToken: string, credential: string, after: string | undefined): Promise<RepositoryPage> {
  const [page = 1, skip = 0] = (after ?? '1:0').split(':').map(Number);
  const { body, headers } = await callHostApi(
    {
      host: host.label,
      url: `${host.base}/api/v3/installation/repositories?per_page=${HOST_PAGE_MAX}&page=${page}`,
      headers: githubHeaders(installationToken),
      credential,
      signal: host.signal,
    },
    z.object({ repositories: z.array(z.object({ clone_url: z.string() })) }),
  );
  const last = body.repositories.length - 1;
  const repositories = body.repositories
    .map((repository, index) => ({ cloneUri: repository.clone_url, after: index === last ? `${page + 1}:0` : `${page}:${index + 1}` }))
    .slice(skip);
  return { repositories, next: hasNextLink(headers) ? `${page + 1}:0` : undefined };
}

/** An installation of a GitHub app, as FetchGitHubInstallations answers it. */
export interface GitHubInstallation {
  id: bigint;
  /** The login of the user or organization it is installed on. */
  name: string;
  /** "user" or "organization". */
  type: string;
}

/** At most this many pages of installations are read: 5,000 installations. */
const MAX_INSTALLATION_PAGES = 50;

/** Every installation of a GitHub app: `GET /api/v3/app/installations` with the app's JWT, every page. */
export async function githubAppInstallations(host: HostApi, appJwt: string, credential: string): Promise<GitHubInstallation[]> {
  const installations: GitHubInstallation[] = [];
  for (let page = 1; page <= MAX_INSTALLATION_PAGES; page++) {
    const { body, headers } = await callHostApi(
      { host: host.label, url: `${host.base}/api/v3/app/installations?per_page=${HOST_PAGE_MAX}&page=${page}`, headers: githubHeaders(appJwt), credential, signal: host.signal },
      z.array(z.object({ id: z.number().int(), account: z.object({ login: z.string(), type: z.string() }).nullish() })),
    );
    for (const installation of body) {
      installations.push({ id: BigInt(installation.id), name: installation.account?.login ?? '', type: installation.account?.type.toLowerCase() ?? '' });
    }
    if (!hasNextLink(headers)) break;
  }
  return installations;
}
