import type { Connection } from '../../gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { appInstallation, githubApp, KEY_FIELD, mintInstallationToken } from '../../git/github-app.js';
import {
  bitbucketRepositories,
  githubAppInstallations,
  githubRepositories,
  gitlabProjects,
  type GitHubInstallation,
  type RepositoryPage,
} from '../../git/host-apis.js';
import { checkEnabled, hostApi, userTokens, type SecretLookup } from '../../git/upstream.js';

/** FetchLinkableGitRepositories' page size when none is asked for: "Defaults to 20" (its proto). */
export const DEFAULT_LINKABLE_PAGE = 20;
/** Larger page sizes are coerced down (AIP-158) to the hosts' own largest page (GitLab's and GitHub's 100). */
export const MAX_LINKABLE_PAGE = 100;
/** One page of ours reads at most this many pages of the host; past them it ends early, with a token to go on. */
const MAX_HOST_CALLS = 5;

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
      const app = githubApp(config.value, name, secret, hostApi(config.value.hostUri, 'GitHub Enterprise', name, signal));
      const installation = appInstallation(config.value, name);
      // One installation token serves every host page of this call; the next call mints its own.
      let token: Promise<string> | undefined;
      const list: RepositoryLister = async (after) => {
        token ??= mintInstallationToken(app, installation).then((minted) => minted.token);
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
  const app = githubApp(config.value, connection.name, secret, hostApi(config.value.hostUri, 'GitHub Enterprise', connection.name, signal));
  return githubAppInstallations(app.host, await app.jwt(), KEY_FIELD);
}
