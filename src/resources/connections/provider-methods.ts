import { fromBinary } from '@bufbuild/protobuf';
import type { CustomMethod, ResourceDeps } from '../../api/resource-module.js';
import { ApiError, Code } from '../../common/errors.js';
import { parseByPattern } from '../../common/names.js';
import {
  ConnectionSchema,
  DeveloperConnect,
  type Connection,
  type FetchGitHubInstallationsRequest,
  type FetchLinkableGitRepositoriesRequest,
} from '../../gen/google/cloud/developerconnect/v1/developer_connect_pb.js';

const CONNECTION_PATTERN = 'projects/{project}/locations/{location}/connections/{connection}';

/** Where each kind of connection lists its repositories or app installations, for the messages below. */
const PROVIDER: Record<NonNullable<Connection['connectionConfig']['case']>, string> = {
  githubConfig: 'github.com',
  githubEnterpriseConfig: 'a GitHub Enterprise app',
  gitlabConfig: 'gitlab.com',
  gitlabEnterpriseConfig: "a GitLab Enterprise host's project API",
  bitbucketDataCenterConfig: "a Bitbucket Data Center host's repository API",
  bitbucketCloudConfig: 'bitbucket.org',
  secureSourceManagerInstanceConfig: 'Secure Source Manager',
  httpConfig: 'a generic HTTP git host',
};

/**
 * The connection methods that ask a provider's own API what it holds: the repositories a connection
 * may link, and a GitHub account's app installations. This server reaches only git's smart-HTTP
 * protocol on hosts it can call (see src/git), not these APIs, so each answers FAILED_PRECONDITION
 * naming what it would have to call, rather than a made-up list. Repositories are linked by their
 * clone URI (CreateGitRepositoryLink) instead.
 */
export function providerMethods(deps: ResourceDeps): CustomMethod[] {
  async function load(name: string): Promise<Connection> {
    parseByPattern(name, CONNECTION_PATTERN, 'connection');
    const record = await deps.store.getResource(name);
    if (!record || record.collection !== 'connections') throw ApiError.notFound(`Connection '${name}' was not found.`, name);
    return fromBinary(ConnectionSchema, record.data);
  }
  const refuse = (connection: Connection, what: string, provider: string) =>
    new ApiError(
      Code.FAILED_PRECONDITION,
      `Connection '${connection.name}': ${what} would be read from ${provider}, which devconnect-emulator does not call. ` +
        'Link repositories by their clone URI with CreateGitRepositoryLink.',
      { reason: 'PROVIDER_API_NOT_EMULATED', metadata: { resource: connection.name } },
    );
  const providerOf = (connection: Connection) => PROVIDER[connection.connectionConfig.case ?? 'httpConfig'];

  return [
    {
      method: DeveloperConnect.method.fetchLinkableGitRepositories,
      permission: 'developerconnect.connections.fetchLinkableGitRepositories',
      on: 'connection',
      run: async (request) => {
        const connection = await load((request as FetchLinkableGitRepositoriesRequest | FetchGitHubInstallationsRequest).connection);
        if (connection.connectionConfig.case === 'httpConfig') {
          throw new ApiError(Code.FAILED_PRECONDITION, `Connection '${connection.name}' is to a generic HTTP git host, which has no API that lists its repositories; link them by their clone URI.`, {
            reason: 'PROVIDER_HAS_NO_LISTING',
            metadata: { resource: connection.name },
          });
        }
        throw refuse(connection, 'its linkable repositories', providerOf(connection));
      },
    },
    {
      method: DeveloperConnect.method.fetchGitHubInstallations,
      permission: 'developerconnect.connections.fetchGitHubInstallations',
      on: 'connection',
      run: async (request) => {
        const connection = await load((request as FetchLinkableGitRepositoriesRequest | FetchGitHubInstallationsRequest).connection);
        const kind = connection.connectionConfig.case;
        if (kind !== 'githubConfig' && kind !== 'githubEnterpriseConfig') {
          throw new ApiError(Code.FAILED_PRECONDITION, `Connection '${connection.name}' is not a GitHub connection: it has no GitHub app installations.`, {
            reason: 'NOT_A_GITHUB_CONNECTION',
            metadata: { resource: connection.name },
          });
        }
        throw refuse(connection, 'the GitHub app installations of its account', providerOf(connection));
      },
    },
  ];
}
