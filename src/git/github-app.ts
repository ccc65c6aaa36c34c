import { ApiError, Code } from '../common/errors.js';
import type { GitHubEnterpriseConfig } from '../gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { githubAppJwt, githubInstallationToken, type HostApi } from './host-apis.js';
import type { SecretLookup } from './upstream.js';

/** The field of a GitHub Enterprise connection whose secret signs its app's JWT, and so stands behind every token of the app. */
export const KEY_FIELD = 'github_enterprise_config.private_key_secret_version';
const INSTALLATION_FIELD = 'github_enterprise_config.app_installation_id';
/**
 * A cached installation token is renewed this long before its expires_at (GitHub's live an hour):
 * a git request that starts with it must not meet its end.
 */
const RENEW_BEFORE_MS = 5 * 60_000;

/** A GitHub Enterprise connection's app: its host, and the JWT it authenticates as itself with. */
export interface GitHubApp {
  host: HostApi;
  /** The connection's name, for messages and to key its installation tokens. */
  connection: string;
  appId: bigint;
  /** The secret version of the app's private key. */
  keyVersion: string;
  jwt(): Promise<string>;
}

/**
 * The app of a GitHub Enterprise connection, from app_id and the private key's secret version.
 * Either missing, or a key this server has no value of, is FAILED_PRECONDITION before any host is called.
 */
export function githubApp(config: GitHubEnterpriseConfig, connection: string, secret: SecretLookup, host: HostApi): GitHubApp {
  const missing = (field: string, why: string) =>
    new ApiError(Code.FAILED_PRECONDITION, `Connection '${connection}' has no github_enterprise_config.${field}, ${why}.`, {
      reason: 'GITHUB_APP_INCOMPLETE',
      metadata: { resource: connection },
    });
  if (config.appId === 0n) throw missing('app_id', "the GitHub app's id, which its JWT names");
  if (config.privateKeySecretVersion === '') throw missing('private_key_secret_version', "the secret version of the app's private key, which signs its JWT");
  const pem = secret(config.privateKeySecretVersion, KEY_FIELD, connection);
  return { host, connection, appId: config.appId, keyVersion: config.privateKeySecretVersion, jwt: () => githubAppJwt(config.appId, pem, KEY_FIELD) };
}

/** The installation of the app a GitHub Enterprise connection acts through; FAILED_PRECONDITION while the app is not installed. */
export function appInstallation(config: GitHubEnterpriseConfig, connection: string): bigint {
  if (config.appInstallationId === 0n) {
    throw new ApiError(
      Code.FAILED_PRECONDITION,
      `Connection '${connection}' has no ${INSTALLATION_FIELD}: install the app, then set it (FetchGitHubInstallations lists the app's installations).`,
      { reason: 'APP_NOT_INSTALLED', metadata: { resource: connection } },
    );
  }
  return config.appInstallationId;
}

/** A fresh installation access token of `installation`, minted with the app's JWT. */
export async function mintInstallationToken(app: GitHubApp, installation: bigint): Promise<{ token: string; expiresAt?: Date }> {
  return githubInstallationToken(app.host, await app.jwt(), KEY_FIELD, installation, INSTALLATION_FIELD);
}

/**
 * The installation tokens the git methods and the git proxy send to GitHub Enterprise, one per
 * connection and installation, reused until RENEW_BEFORE_MS before their expires_at as GitHub
 * recommends: a `git clone` through the proxy is several requests, and each would otherwise mint one.
 * The key holds everything the token follows from (host, app, key, installation), so a connection
 * changed to another host or app never sends a token of the old one. Only memory: a restarted server
 * mints again.
 */
export class InstallationTokens {
  private readonly tokens = new Map<string, { token: string; renewAt: number }>();

  async token(app: GitHubApp, installation: bigint): Promise<string> {
    const key = cacheKey(app, installation);
    const cached = this.tokens.get(key);
    if (cached && cached.renewAt > Date.now()) return cached.token;
    const minted = await mintInstallationToken(app, installation);
    this.dropExpired();
    const renewAt = (minted.expiresAt?.getTime() ?? 0) - RENEW_BEFORE_MS;
    // A token without an expires_at, or one about to end, serves this request only.
    if (renewAt > Date.now()) this.tokens.set(key, { token: minted.token, renewAt });
    else this.tokens.delete(key);
    return minted.token;
  }

  /** Forgets `token` after the host refused it (revoked, or the installation suspended), so that the next request mints another. */
  refused(app: GitHubApp, installation: bigint, token: string): void {
    const key = cacheKey(app, installation);
    if (this.tokens.get(key)?.token === token) this.tokens.delete(key);
  }

  private dropExpired(): void {
    const now = Date.now();
    for (const [key, entry] of this.tokens) if (entry.renewAt <= now) this.tokens.delete(key);
  }
}

function cacheKey(app: GitHubApp, installation: bigint): string {
  return JSON.stringify([app.connection, app.host.base, String(app.appId), app.keyVersion, String(installation)]);
}
