import { ApiError, Code } from '../common/errors.js';
import type { Connection, UserCredential } from '../gen/google/cloud/developerconnect/v1/developer_connect_pb.js';

/** What a git client may do through a link: clone and fetch, or push as well. */
export type GitAccess = 'read' | 'read-write';

/** A secret's value by its version name (SecretVersions.value). */
export type SecretLookup = (version: string, field: string, resource: string) => string;

/** Where a link's repository is and how this server authenticates to its host. */
export interface Upstream {
  /** The repository's URL (the link's clone_uri), without a trailing slash. */
  repository: URL;
  /** The Authorization header for `access`, or undefined for a host that needs none. */
  authorization(access: GitAccess): string | undefined;
}

/** Providers on the public internet that this server cannot call: there is no network here but loopback and the hosts a user names. */
const PUBLIC_PROVIDERS: Partial<Record<NonNullable<Connection['connectionConfig']['case']>, string>> = {
  githubConfig: 'github.com',
  gitlabConfig: 'gitlab.com',
  bitbucketCloudConfig: 'bitbucket.org',
  secureSourceManagerInstanceConfig: 'Secure Source Manager',
};

/**
 * The upstream of a link: the connection's host, which must serve the link's clone_uri, and its
 * credentials from the secret versions the connection names. A connection whose host this server
 * cannot call is FAILED_PRECONDITION, with what is missing; nothing is invented.
 */
export function upstreamOf(connection: Connection, cloneUri: string, secret: SecretLookup): Upstream {
  const name = connection.name;
  checkEnabled(connection);
  const config = connection.connectionConfig;
  if (config.case === undefined) throw new ApiError(Code.FAILED_PRECONDITION, `Connection '${name}' has no provider configuration.`);
  if (config.case !== 'httpConfig' && config.case !== 'gitlabEnterpriseConfig' && config.case !== 'bitbucketDataCenterConfig') {
    throw notCallable(name, config.case);
  }
  const host = parseHost(config.value.hostUri, name);
  const repository = parseRepository(cloneUri, host, name);
  const field = (path: string) => `${config.case === 'httpConfig' ? 'http_config' : config.case === 'gitlabEnterpriseConfig' ? 'gitlab_enterprise_config' : 'bitbucket_data_center_config'}.${path}`;
  switch (config.case) {
    case 'httpConfig': {
      const auth = config.value.authentication;
      if (auth.case === 'basicAuthentication') {
        const password = auth.value.password.case === 'passwordSecretVersion' ? secret(auth.value.password.value, field('basic_authentication.password_secret_version'), name) : '';
        const header = basic(auth.value.username, password);
        return { repository, authorization: () => header };
      }
      if (auth.case === 'bearerTokenAuthentication' && auth.value.token.case === 'tokenSecretVersion') {
        const header = `Bearer ${secret(auth.value.token.value, field('bearer_token_authentication.token_secret_version'), name)}`;
        return { repository, authorization: () => header };
      }
      return { repository, authorization: () => undefined };
    }
    case 'gitlabEnterpriseConfig':
      // GitLab takes a personal access token as the password of any user name over HTTP.
      return { repository, authorization: userTokens(config.value, field, name, secret, (token) => basic('oauth2', token)) };
    case 'bitbucketDataCenterConfig':
      // Bitbucket Data Center's HTTP access tokens are bearer tokens.
      return { repository, authorization: userTokens(config.value, field, name, secret, (token) => `Bearer ${token}`) };
  }
}

/** A disabled connection is FAILED_PRECONDITION for every method that uses its host. */
export function checkEnabled(connection: Connection): void {
  if (connection.disabled) {
    throw new ApiError(Code.FAILED_PRECONDITION, `Connection '${connection.name}' is disabled: enable it (update disabled=false) to use its repositories.`, {
      reason: 'CONNECTION_DISABLED',
      metadata: { resource: connection.name },
    });
  }
}

/** The Authorization of a provider whose connection holds a read token and a read-write one (UserCredential). */
export function userTokens(
  config: { readAuthorizerCredential?: UserCredential; authorizerCredential?: UserCredential },
  field: (path: string) => string,
  name: string,
  secret: SecretLookup,
  header: (token: string) => string,
): (access: GitAccess) => string {
  return (access) => {
    const credential = access === 'read' ? config.readAuthorizerCredential : config.authorizerCredential;
    const path = access === 'read' ? 'read_authorizer_credential' : 'authorizer_credential';
    if (!credential) throw new ApiError(Code.FAILED_PRECONDITION, `Connection '${name}' has no ${field(path)}.`);
    return header(secret(credential.userTokenSecretVersion, field(`${path}.user_token_secret_version`), name));
  };
}

/** Why a connection to a public provider, or a GitHub Enterprise app, cannot be used here. */
function notCallable(name: string, kind: NonNullable<Connection['connectionConfig']['case']>): ApiError {
  const publicHost = PUBLIC_PROVIDERS[kind];
  if (publicHost) {
    return new ApiError(
      Code.FAILED_PRECONDITION,
      `Connection '${name}' is for ${publicHost}, which devconnect-emulator does not call: use a connection whose host it can reach ` +
        `(httpConfig, gitlabEnterpriseConfig or bitbucketDataCenterConfig with a hostUri, e.g. a git server on loopback).`,
      { reason: 'HOST_NOT_REACHABLE', metadata: { resource: name } },
    );
  }
  return new ApiError(
    Code.FAILED_PRECONDITION,
    `Connection '${name}' is a GitHub Enterprise app connection: its tokens are minted by the GitHub app's installation, which devconnect-emulator does not emulate; ` +
      `use an httpConfig connection with a token for that host instead.`,
    { reason: 'PROVIDER_NOT_SUPPORTED', metadata: { resource: name } },
  );
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** A connection's host_uri as a URL; only http(s) hosts are called. */
export function parseHost(hostUri: string, connection: string): URL {
  const url = URL.canParse(hostUri) ? new URL(hostUri) : undefined;
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
    throw new ApiError(Code.FAILED_PRECONDITION, `Connection '${connection}' has no valid host_uri ('${hostUri}'): an http or https URL is needed.`);
  }
  return url;
}

/** The clone URI as a URL on the connection's host (same origin): a link cannot point the server's credentials elsewhere. */
function parseRepository(cloneUri: string, host: URL, connection: string): URL {
  if (!URL.canParse(cloneUri)) throw new ApiError(Code.FAILED_PRECONDITION, `The link's clone_uri '${cloneUri}' is not a URL.`);
  const url = new URL(cloneUri);
  if (url.origin !== host.origin) {
    throw new ApiError(
      Code.FAILED_PRECONDITION,
      `The link's clone_uri '${cloneUri}' is not on the host of connection '${connection}' (${host.origin}).`,
      { reason: 'CLONE_URI_NOT_ON_HOST', metadata: { resource: connection } },
    );
  }
  url.pathname = url.pathname.replace(/\/+$/, '');
  url.search = '';
  url.hash = '';
  return url;
}
