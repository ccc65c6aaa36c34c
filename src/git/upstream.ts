import { ApiError, Code } from '../common/errors.js';
import type { Connection, UserCredential } from '../gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { appInstallation, githubApp, KEY_FIELD, type InstallationTokens } from './github-app.js';
import type { HostApi } from './host-apis.js';

/** What a git client may do through a link: clone and fetch, or push as well. */
export type GitAccess = 'read' | 'read-write';

/** A secret's value by its version name (SecretVersions.value). */
export type SecretLookup = (version: string, field: string, resource: string) => string;

/** What the server authenticates to git hosts with, and the caller's signal for the calls that takes. */
export interface HostCredentials {
  secret: SecretLookup;
  /** GitHub Enterprise apps' installation tokens, minted on the host and reused until they near their end. */
  installationTokens: InstallationTokens;
  signal: AbortSignal;
}

/** Where a link's repository is and how this server authenticates to its host. */
export interface Upstream {
  /** The repository's URL (the link's clone_uri), without a trailing slash. */
  repository: URL;
  /**
   * The Authorization header for `access`, or undefined for a host that needs none. It may call a
   * host for it (a GitHub app's installation token), failing as the host API calls do (host-api-call.ts).
   */
  authorization(access: GitAccess): Promise<string | undefined>;
  /** The connection field whose secret the Authorization of `access` comes from, named when the host refuses it. */
  credential(access: GitAccess): string | undefined;
  /** Told that the host refused the Authorization given last: a credential held in memory is dropped, so that the next request gets a fresh one. */
  refused(): void;
}

/** Providers on the public internet that this server cannot call: there is no network here but loopback and the hosts a user names. */
const PUBLIC_PROVIDERS = {
  githubConfig: 'github.com',
  gitlabConfig: 'gitlab.com',
  bitbucketCloudConfig: 'bitbucket.org',
  secureSourceManagerInstanceConfig: 'Secure Source Manager',
} as const satisfies Partial<Record<NonNullable<Connection['connectionConfig']['case']>, string>>;

/**
 * The upstream of a link: the connection's host, which must serve the link's clone_uri, and its
 * credentials from the secret versions the connection names. A connection whose host this server
 * cannot call is FAILED_PRECONDITION, with what is missing; nothing is invented.
 */
export function upstreamOf(connection: Connection, cloneUri: string, credentials: HostCredentials): Upstream {
  const name = connection.name;
  const secret = credentials.secret;
  checkEnabled(connection);
  const config = connection.connectionConfig;
  if (config.case === undefined) throw new ApiError(Code.FAILED_PRECONDITION, `Connection '${name}' has no provider configuration.`);
  if (config.case !== 'httpConfig' && config.case !== 'gitlabEnterpriseConfig' && config.case !== 'bitbucketDataCenterConfig' && config.case !== 'githubEnterpriseConfig') {
    throw notCallable(name, config.case);
  }
  const host = parseHost(config.value.hostUri, name);
  const repository = parseRepository(cloneUri, host, name);
  const fixed = (header: string | undefined, field?: string): Upstream => ({
    repository,
    authorization: async () => header,
    credential: () => field,
    refused: () => undefined,
  });
  switch (config.case) {
    case 'httpConfig': {
      const field = (path: string) => `http_config.${path}`;
      const auth = config.value.authentication;
      if (auth.case === 'basicAuthentication') {
        const passwordField = field('basic_authentication.password_secret_version');
        const password = auth.value.password.case === 'passwordSecretVersion' ? secret(auth.value.password.value, passwordField, name) : '';
        return fixed(basic(auth.value.username, password), passwordField);
      }
      if (auth.case === 'bearerTokenAuthentication' && auth.value.token.case === 'tokenSecretVersion') {
        const tokenField = field('bearer_token_authentication.token_secret_version');
        return fixed(`Bearer ${secret(auth.value.token.value, tokenField, name)}`, tokenField);
      }
      return fixed(undefined);
    }
    case 'gitlabEnterpriseConfig': {
      // GitLab takes a personal access token as the password of any user name over HTTP.
      const field = (path: string) => `gitlab_enterprise_config.${path}`;
      const header = userTokens(config.value, field, name, secret, (token) => basic('oauth2', token));
      return { repository, authorization: async (access) => header(access), credential: (access) => userTokenField(field, access), refused: () => undefined };
    }
    case 'bitbucketDataCenterConfig': {
      // Bitbucket Data Center's HTTP access tokens are bearer tokens.
      const field = (path: string) => `bitbucket_data_center_config.${path}`;
      const header = userTokens(config.value, field, name, secret, (token) => `Bearer ${token}`);
      return { repository, authorization: async (access) => header(access), credential: (access) => userTokenField(field, access), refused: () => undefined };
    }
    case 'githubEnterpriseConfig': {
      // A GitHub app reads and writes through its installation's token, sent over git's HTTP as the
      // password of user x-access-token (GitHub's "Authenticating as a GitHub App installation").
      // What the installation may do is the app's permissions on the host: a read-write token gets the same one.
      const app = githubApp(config.value, name, secret, hostApi(config.value.hostUri, 'GitHub Enterprise', name, credentials.signal));
      const installation = appInstallation(config.value, name);
      const tokens = credentials.installationTokens;
      let given: string | undefined;
      return {
        repository,
        authorization: async () => {
          given = await tokens.token(app, installation);
          return basic('x-access-token', given);
        },
        credential: () => `the installation token of the app (made with ${KEY_FIELD})`,
        refused: () => {
          if (given !== undefined) tokens.refused(app, installation, given);
        },
      };
    }
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
    if (!credential) throw new ApiError(Code.FAILED_PRECONDITION, `Connection '${name}' has no ${field(access === 'read' ? 'read_authorizer_credential' : 'authorizer_credential')}.`);
    return header(secret(credential.userTokenSecretVersion, userTokenField(field, access), name));
  };
}

function userTokenField(field: (path: string) => string, access: GitAccess): string {
  return field(`${access === 'read' ? 'read_authorizer_credential' : 'authorizer_credential'}.user_token_secret_version`);
}

/** Why a connection to a public provider cannot be used here. */
function notCallable(name: string, kind: keyof typeof PUBLIC_PROVIDERS): ApiError {
  return new ApiError(
    Code.FAILED_PRECONDITION,
    `Connection '${name}' is for ${PUBLIC_PROVIDERS[kind]}, which devconnect-emulator does not call: use a connection whose host it can reach ` +
      `(httpConfig, gitlabEnterpriseConfig, bitbucketDataCenterConfig or githubEnterpriseConfig with a hostUri, e.g. a git server on loopback).`,
    { reason: 'HOST_NOT_REACHABLE', metadata: { resource: name } },
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

/** A connection's host as the API clients of host-apis.ts call it: its base URL and a name for messages ("The GitLab Enterprise host …"). */
export function hostApi(hostUri: string, kind: string, connection: string, signal: AbortSignal): HostApi {
  const url = parseHost(hostUri, connection);
  const base = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  return { base, label: `The ${kind} host ${base}`, signal };
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
