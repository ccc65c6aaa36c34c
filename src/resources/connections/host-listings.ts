import { ApiError, Code } from '../../common/errors.js';
import type { Connection, GitHubEnterpriseConfig } from '../../gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import {
  bitbucketRepositories,
  githubAppInstallations,
  githubAppJwt,
  githubInstallationToken,
  githubRepositories,
  gitlabProjects,
  type GitHubInstallation,
  type HostApi,
  type RepositoryPage,
} from '../../git/host-apis.js';
import { checkEnabled, parseHost, userTokens, type SecretLookup } from '../../git/upstream.js';

/** FetchLinkableGitRepositories' page size when none is asked for: "Defaults to 20" (its proto). */
export const DEFAULT_LINKABLE_PAGE = 20;
/** Larger page sizes are coerced down (AIP-158) to the hosts' own largest page (GitLab's and GitHub's 100). */
export const MAX_LINKABLE_PAGE = 100;
/** One page of ours reads at most this many pages of the host; past them it ends early, with a token to go on. */
const MAX_HOST_CALLS = 5;
/** The field of a GitHub Enterprise connection whose secret signs its app's JWT. */
const KEY_FIELD = 'github_enterprise_config.private_key_secret_version';

/** Repositories of a connection's host from a position on (see RepositoryPage). */
export type RepositoryLister = (after: string | undefined, limit: number) => Promise<RepositoryPage>;

/**
 * How the repositories of a connection are listed: with its host's own API and its read credential
 * (GitLab Enterprise, Bitbucket Data Center) or its GitHub app's installation (GitHub Enterprise).
 * Undefined for the kinds of connection whose host this server cannot list (a generic git host has
 * no such API; public providers are not called). A disabled connection, or a credential the
 * connection lacks, is FAILED_PRECONDITION before any host is called.
 */
export function repositoryLister(connection: Connection, secret: SecretLookup, signal: AbortSignal): { list: RepositoryLister; host: string } | undefined {
  checkEnabled(connection);
  const name = connection.name;
  const config = connection.connectionConfig;
  switch (config.case) {
    case 'gitlabEnterpriseConfig': {
      const field = (path: string) => `gitlab_enterprise_config.${path}`;
      const host = hostApi(config.value.hostUri, 'GitLab Enterprise', name, signal);
      const token = userTokens(config.value, field, name, secret, (t) => t)('read');
      return { host: host.base, list: (after, limit) => gitlabProjects(host, token, field('read_authorizer_credential.user_token_secret_version'), after, limit) };
    }
    case 'bitbucketDataCenterConfig': {
      const field = (path: string) => `bitbucket_data_center_config.${path}`;
      const host = hostApi(config.value.hostUri, 'Bitbucket Data Center', name, signal);
      const token = userTokens(config.value, field, name, secret, (t) => t)('read');
      return { host: host.base, list: (after, limit) => bitbucketRepositories(host, token, field('read_authorizer_credential.user_token_secret_version'), after, limit) };
    }
    case 'githubEnterpriseConfig': {
      const app = githubApp(config.value, name, secret, signal);
      const installation = config.value.appInstallationId;
      if (installation === 0n) {
        throw new ApiError(
          Code.FAILED_PRECONDITION,
          `Connection '${name}' has no github_enterprise_config.app_installation_id: install the app, then set it (FetchGitHubInstallations lists the app's installations).`,
          { reason: 'APP_NOT_INSTALLED', metadata: { resource: name } },
        );
      }
      // One installation token serves every host page of this call; the next call mints its own.
      let token: Promise<string> | undefined;
      const list: RepositoryLister = async (after) => {
        token ??= app.jwt().then((jwt) => githubInstallationToken(app.host, jwt, KEY_FIELD, installation, 'github_enterprise_config.app_installation_id'));
        return githubRepositories(app.host, await token, `the installation token of the app (made with ${KEY_FIELD})`, after);
      };
      return { host: app.host.base, list };
    }
    default:
      return undefined;
  }
}

/**
 * One page of FetchLinkableGitRepositories: up to `size` clone URIs from position `after`, read
 * from as many pages of the host as it takes (at most MAX_HOST_CALLS), and the position to go on
 * from, undefined at the end of the host's listing.
 */
export async function linkablePage(list: RepositoryLister, after: string | undefined, size: number): Promise<{ cloneUris: string[]; next?: string }> {
  const cloneUris: string[] = [];
  let position = after;
  for (let calls = 0; calls < MAX_HOST_CALLS && cloneUris.length < size; calls++) {
    const page = await list(position, size - cloneUris.length);
    const taken = page.repositories.slice(0, size - cloneUris.length);
    cloneUris.push(...taken.map((repository) => repository.cloneUri));
    if (taken.length < page.repositories.length) return { cloneUris, next: taken.at(-1)?.after ?? position };
    // A host that names the same position again would page forever: its listing ends here.
    if (page.next === undefined || page.next === position) return { cloneUris };
    position = page.next;
  }
  return { cloneUris, next: position };
}

/** The installations of a GitHub Enterprise connection's app; undefined for other kinds of connection. */
export async function gitHubInstallations(connection: Connection, secret: SecretLookup, signal: AbortSignal): Promise<GitHubInstallation[] | undefined> {
  const config = connection.connectionConfig;
  if (config.case !== 'githubEnterpriseConfig') return undefined;
  checkEnabled(connection);
  const app = githubApp(config.value, connection.name, secret, signal);
  return githubAppInstallations(app.host, await app.jwt(), KEY_FIELD);
}

/** A GitHub Enterprise connection's host and the JWT of its app, from app_id and the private key's secret version. */
function githubApp(config: GitHubEnterpriseConfig, name: string, secret: SecretLookup, signal: AbortSignal): { host: HostApi; jwt: () => Promise<string> } {
  const host = hostApi(config.hostUri, 'GitHub Enterprise', name, signal);
  const missing = (field: string, why: string) =>
    new ApiError(Code.FAILED_PRECONDITION, `Connection '${name}' has no github_enterprise_config.${field}, ${why}.`, { reason: 'GITHUB_APP_INCOMPLETE', metadata: { resource: name } });
  if (config.appId === 0n) throw missing('app_id', "the GitHub app's id, which its JWT names");
  if (config.privateKeySecretVersion === '') throw missing('private_key_secret_version', "the secret version of the app's private key, which signs its JWT");
  const pem = secret(config.privateKeySecretVersion, KEY_FIELD, name);
  return { host, jwt: () => githubAppJwt(config.appId, pem, KEY_FIELD) };
}

function hostApi(hostUri: string, kind: string, connection: string, signal: AbortSignal): HostApi {
  const url = parseHost(hostUri, connection);
  const base = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  return { base, label: `The ${kind} host ${base}`, signal };
}
