import { create, fromBinary } from '@bufbuild/protobuf';
import type { CallContext } from '../../api/context.js';
import type { CustomMethod, ResourceDeps } from '../../api/resource-module.js';
import { ApiError, Code } from '../../common/errors.js';
import { parseByPattern } from '../../common/names.js';
import {
  ConnectionSchema,
  DeveloperConnect,
  FetchGitHubInstallationsResponseSchema,
  FetchLinkableGitRepositoriesResponseSchema,
  type Connection,
  type FetchGitHubInstallationsRequest,
  type FetchLinkableGitRepositoriesRequest,
} from '../../gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { DEFAULT_LINKABLE_PAGE, gitHubInstallations, linkablePage, MAX_LINKABLE_PAGE, repositoryLister } from './host-listings.js';

const CONNECTION_PATTERN = 'projects/{project}/locations/{location}/connections/{connection}';

/** The public providers whose own APIs would list a connection's repositories or app installations, for the messages below. */
const PUBLIC_PROVIDER: Partial<Record<NonNullable<Connection['connectionConfig']['case']>, string>> = {
  githubConfig: 'github.com',
  gitlabConfig: 'gitlab.com',
  bitbucketCloudConfig: 'bitbucket.org',
  secureSourceManagerInstanceConfig: 'Secure Source Manager',
};

/**
 * The connection methods that ask a provider's own API what it holds: the repositories a connection
 * may link, and a GitHub app's installations. They are read from the connection's host where this
 * server can call it (GitLab Enterprise, Bitbucket Data Center, GitHub Enterprise: see
 * src/git/host-apis.ts). A generic git host has no such API, and public providers are not called:
 * those answer FAILED_PRECONDITION naming what would have to be called, rather than a made-up list.
 */
export function providerMethods(deps: ResourceDeps): CustomMethod[] {
  async function load(name: string): Promise<Connection> {
    parseByPattern(name, CONNECTION_PATTERN, 'connection');
    const record = await deps.store.getResource(name);
    if (!record || record.collection !== 'connections') throw ApiError.notFound(`Connection '${name}' was not found.`, name);
    return fromBinary(ConnectionSchema, record.data);
  }
  const refuse = (connection: Connection, what: string) =>
    new ApiError(
      Code.FAILED_PRECONDITION,
      `Connection '${connection.name}': ${what} would be read from ${PUBLIC_PROVIDER[connection.connectionConfig.case ?? 'httpConfig'] ?? 'its provider'}, which devconnect-emulator does not call. ` +
        'Link repositories by their clone URI with CreateGitRepositoryLink.',
      { reason: 'PROVIDER_API_NOT_EMULATED', metadata: { resource: connection.name } },
    );
  const secret = (version: string, field: string, resource: string) => deps.secrets.value(version, field, resource);

  async function fetchLinkableGitRepositories(request: FetchLinkableGitRepositoriesRequest, context: CallContext) {
    const connection = await load(request.connection);
    if (request.pageSize < 0) throw ApiError.badField('page_size', `page_size must not be negative (got ${request.pageSize}).`);
    const size = request.pageSize === 0 ? DEFAULT_LINKABLE_PAGE : Math.min(request.pageSize, MAX_LINKABLE_PAGE);
    const lister = repositoryLister(connection, secret, context.signal);
    if (!lister) {
      if (connection.connectionConfig.case === 'httpConfig') {
        throw new ApiError(Code.FAILED_PRECONDITION, `Connection '${connection.name}' is to a generic HTTP git host, which has no API that lists its repositories; link them by their clone URI.`, {
          reason: 'PROVIDER_HAS_NO_LISTING',
          metadata: { resource: connection.name },
        });
      }
      throw refuse(connection, 'its linkable repositories');
    }
    // The token holds a position in the host's listing, bound to the connection and the host it came from.
    const query = `fetchLinkableGitRepositories|${connection.name}|${connection.connectionConfig.case}|${lister.host}`;
    const page = await linkablePage(lister.list, deps.tokens.read(query, request.pageToken), size);
    return create(FetchLinkableGitRepositoriesResponseSchema, {
      linkableGitRepositories: page.cloneUris.map((cloneUri) => ({ cloneUri })),
      nextPageToken: deps.tokens.issue(query, page.next),
    });
  }

  async function fetchGitHubInstallations(request: FetchGitHubInstallationsRequest, context: CallContext) {
    const connection = await load(request.connection);
    const kind = connection.connectionConfig.case;
    if (kind !== 'githubConfig' && kind !== 'githubEnterpriseConfig') {
      throw new ApiError(Code.FAILED_PRECONDITION, `Connection '${connection.name}' is not a GitHub connection: it has no GitHub app installations.`, {
        reason: 'NOT_A_GITHUB_CONNECTION',
        metadata: { resource: connection.name },
      });
    }
    const installations = await gitHubInstallations(connection, secret, context.signal);
    if (!installations) throw refuse(connection, 'the GitHub app installations of its account');
    return create(FetchGitHubInstallationsResponseSchema, { installations });
  }

  return [
    {
      method: DeveloperConnect.method.fetchLinkableGitRepositories,
      permission: 'developerconnect.connections.fetchLinkableGitRepositories',
      on: 'connection',
      run: (request, context) => fetchLinkableGitRepositories(request as FetchLinkableGitRepositoriesRequest, context),
    },
    {
      method: DeveloperConnect.method.fetchGitHubInstallations,
      permission: 'developerconnect.connections.fetchGitHubInstallations',
      on: 'connection',
      run: (request, context) => fetchGitHubInstallations(request as FetchGitHubInstallationsRequest, context),
    },
  ];
}
