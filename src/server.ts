import type { IncomingMessage, ServerResponse } from 'node:http';
import { fromBinary } from '@bufbuild/protobuf';
import { pino, type Logger } from 'pino';
import { IamPolicyApi } from './api/iam-policy.js';
import { KnownLocations, LocationsApi } from './api/locations.js';
import { MethodTable } from './api/methods.js';
import { OperationsApi } from './api/operations.js';
import { PageTokens } from './api/page-token.js';
import { loadFixtures } from './api/fixtures.js';
import type { ResourceDeps } from './api/resource-module.js';
import { SecretVersions } from './api/secrets.js';
import { StandardMethods } from './api/standard-methods.js';
import { JwtAuthenticator } from './auth/jwt-authenticator.js';
import { AllowEverything, NoAuthentication } from './auth/none.js';
import type { Authenticator, Authorizer } from './auth/principal.js';
import { randomKey, serverSecret } from './auth/server-secrets.js';
import { TokenSigningKey } from './auth/signing-key.js';
import { TokenEndpoint } from './auth/token-endpoint.js';
import type { TrustedIssuer } from './auth/trusted-issuers.js';
import { Engine } from './engine/engine.js';
import { FaultsEndpoint } from './faults/endpoint.js';
import { loadFaultFile } from './faults/file.js';
import { FaultRules } from './faults/rules.js';
import { ConnectionSchema, GitRepositoryLinkSchema, type Connection, type GitRepositoryLink } from './gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { InstallationTokens } from './git/github-app.js';
import { GitTokens } from './git/link-tokens.js';
import { GIT_PROXY_PREFIX, GitProxy } from './git/proxy.js';
import { listenForMetrics, ObservabilityEndpoints } from './metrics/endpoints.js';
import { Metrics } from './metrics/metrics.js';
import { Readiness } from './metrics/readiness.js';
import { AUTHORIZE_PATH, AuthorizePage } from './oauth/authorize-page.js';
import { ConsoleRoutes } from './console/routes.js';
import { LoginCodes } from './console/session.js';
import { OAuthTickets } from './oauth/tickets.js';
import { bootstrapOwner, IamAuthorizer } from './iam/authorizer.js';
import { IamPolicies } from './iam/policies.js';
import { applyPolicyFile, loadPolicyFile } from './iam/policy-file.js';
import { services } from './proto/registry.js';
import { RESOURCES } from './resources/index.js';
import { InsightsDiscovery } from './resources/insights-configs/discovery.js';
import { openStore } from './store/open.js';
import type { Store } from './store/store.js';
import { connectionLimits } from './transport/connection-limits.js';
import { createGrpcServer } from './transport/grpc.js';
import { DualProtocolListener, type TlsOptions } from './transport/listener.js';
import { RestTransport } from './transport/rest.js';

const DAY_MS = 24 * 3600_000;

export interface ServerOptions {
  host: string;
  port: number;
  /** Directory of the SQLite file and server secrets; ':memory:' keeps nothing. */
  dataDir: string;
  /**
   * A PostgreSQL URL (postgres://…): the store, the server's secrets included, is kept there
   * instead of in the SQLite file, so several nodes can share it.
   */
  databaseUrl?: string;
  /** How long a node holds an operation it runs without renewing its lease (`--lease`); default 10 s. */
  leaseMs?: number;
  /** Done operations are deleted this long after they end (`--operation-retention`); default 30 days. */
  operationRetentionMs?: number;
  /** Request ids (AIP-155) are forgotten this long after their request (`--request-id-retention`); default 24 h. */
  requestIdRetentionMs?: number;
  operationDelayMs: number;
  /** How long an InsightsConfig stays PENDING, discovering, after a write that starts discovery (`--insights-discovery-delay`); default 2 s. */
  insightsDiscoveryDelayMs?: number;
  /** `jwt` (default): bearer tokens and IAM policies. `none`: every call acts as `noAuthPrincipal` with every permission. */
  auth?: 'jwt' | 'none';
  /** The principal of `--auth none` (default `user:dev@localhost`). */
  noAuthPrincipal?: string;
  /** With `jwt`: the member made owner of every project on the first start (default `user:admin@localhost`). */
  owner?: string;
  /** With `jwt`: external OpenID Connect providers whose access tokens are accepted (`--trusted-issuer`). */
  trustedIssuers?: readonly TrustedIssuer[];
  /** With `jwt`: the `aud` values accepted in trusted issuers' tokens (`--trusted-audience`); needed with any trusted issuer. */
  trustedAudiences?: readonly string[];
  /** With `jwt`: a policy file applied at start (`--iam-policy`). */
  iamPolicyFile?: string;
  /** `--locations`: the location ids offered (default: Developer Connect's regions). */
  locations?: readonly string[];
  /** `--fixtures`: resources to seed at start (see src/api/fixtures.ts). */
  fixturesFile?: string;
  /** `--secrets-file`: the values of the Secret Manager versions connections name (JSON: version name → value). */
  secretsFile?: string;
  /** The base URL clients reach this server at, for the URIs it hands out (git_proxy_uri); default `http://HOST:PORT`. */
  publicUrl?: string;
  /** Also accept TLS on the same port (plaintext stays accepted): gRPC clients send credentials only over TLS. */
  tls?: TlsOptions;
  /**
   * `--idle-timeout`: how long a connection may stay silent, take to send a request's headers or the
   * HTTP/2 handshake, or stay open with no call in progress (default 30 s).
   */
  idleTimeoutMs?: number;
  /** `--max-connections`: connections beyond it are closed as they arrive (default 1024). */
  maxConnections?: number;
  /**
   * `--metrics-port`: also serve /metrics, /healthz and /readyz on this port of `host` (0 picks a
   * free one). Under `jwt`, /metrics is served there only; under `none`, on the API port too.
   */
  metricsPort?: number;
  /** `--faults`: fault rules (JSON or YAML) in force from the start; more come through `/emulator/v1/faults`. */
  faultsFile?: string;
  logger?: Logger;
}

export interface RunningServer {
  host: string;
  port: number;
  /** `http://host:port`, for REST clients. */
  url: string;
  /** `http://host:port` of `--metrics-port`, when given. */
  metricsUrl?: string;
  engine: Engine;
  store: Store;
  /** With `jwt`: the owner created by this start, when the data directory was new. */
  createdOwner?: string;
  /** Where to open the web console: under `jwt`, the owner's one-time login URL. */
  consoleUrl: string;
  close(): Promise<void>;
}

/** Opens the store, recovers unfinished operations, then serves gRPC and REST on one address. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const log = options.logger ?? pino({ level: 'silent' });
  // Options are checked before anything is opened.
  const locations = new KnownLocations(options.locations);
  const limits = connectionLimits({ idleTimeoutMs: options.idleTimeoutMs, maxConnections: options.maxConnections });
  const metrics = new Metrics();
  const faults = new FaultRules();
  if (options.faultsFile) log.info({ loaded: loadFaultFile(options.faultsFile, faults) }, 'loaded fault rules');
  const store = await openStore(options, { onCommit: metrics.commitObserver(options.databaseUrl ? 'postgres' : 'sqlite') });
  const engine = new Engine(store, log.child({ component: 'engine' }), {
    leaseMs: options.leaseMs,
    observer: metrics,
    wrapHandler: faults.wrapHandler,
    retention: { operationsMs: options.operationRetentionMs ?? 30 * DAY_MS, requestIdsMs: options.requestIdRetentionMs ?? DAY_MS },
  });
  metrics.countRunningOperations(() => engine.runningCount);
  // A SQLite data directory may still hold the secrets as files, from before they moved into the database.
  const legacyDir = options.databaseUrl ? undefined : options.dataDir;
  const secret = (name: string) => serverSecret(store, name, randomKey, legacyDir);
  const tokens = new PageTokens(await secret('page-token.key'));
  const signingKey = await TokenSigningKey.load(store, legacyDir);
  const policies = new IamPolicies(store);
  const auth = await authentication(options, store, signingKey, policies).catch(async (error: unknown) => {
    await store.close();
    throw error;
  });
  let publicUrl = options.publicUrl ?? '';
  const secrets = options.secretsFile ? SecretVersions.fromFile(options.secretsFile) : new SecretVersions();
  const gitTokens = new GitTokens(await secret('git-token.key'));
  const oauth = new OAuthTickets(await secret('oauth.key'));
  const installationTokens = new InstallationTokens();
  const deps: ResourceDeps = { store, tokens, secrets, gitTokens, installationTokens, oauth, locations, applyChange: (change) => store.applyResourceChange(change), publicUrl: () => publicUrl };
  const resourceMethods = RESOURCES.flatMap((module) => new StandardMethods(module, engine, deps, { operationDelayMs: options.operationDelayMs }).entries());
  const methods = new MethodTable(
    {
      operations: new OperationsApi(engine, tokens),
      locations: new LocationsApi(tokens, locations),
      iamPolicy: new IamPolicyApi(policies, auth.authorizer),
    },
    resourceMethods,
    auth.authorizer,
    faults,
  );
  const recovered = await engine.recover();
  if (recovered.resumed + recovered.failed > 0) log.info(recovered, 'recovered unfinished operations');

  const { server: grpcServer, setServing } = createGrpcServer(services, methods, auth.authenticator, log.child({ component: 'grpc' }), metrics, limits);
  // Assertions are accepted for any audience ending in /token: the server's own URL is not known before it listens.
  const tokenEndpoint = new TokenEndpoint({ store, signingKey, countDenial: metrics.countDenial });
  const rest = new RestTransport(services, methods, auth.authenticator, log.child({ component: 'rest' }), tokenEndpoint.handle, metrics);
  const gitProxy = new GitProxy({
    tokens: gitTokens,
    lookup: (link) => linkWithConnection(store, link),
    secret: (version, field, resource) => secrets.value(version, field, resource),
    installationTokens,
    log: log.child({ component: 'git-proxy' }),
    countDenial: metrics.countDenial,
  });
  const authorizePage = new AuthorizePage(oauth);
  const faultsEndpoint = new FaultsEndpoint({
    rules: faults,
    authenticator: auth.authenticator,
    authorizer: auth.authorizer,
    log: log.child({ component: 'faults' }),
    countDenial: metrics.countDenial,
  });
  const consoleRoutes = new ConsoleRoutes({
    auth: options.auth ?? 'jwt',
    engine,
    methods,
    authenticator: auth.authenticator,
    authorizer: auth.authorizer,
    owner: auth.owner === undefined ? undefined : { member: auth.owner, signingKey, loginCodes: new LoginCodes(await secret('console-login.key'), store) },
    publicUrl: () => publicUrl,
    log: log.child({ component: 'console' }),
    countDenial: metrics.countDenial,
  });
  // gRPC health follows /readyz. The probe reads the unique index of operations for a name no
  // operation has: one lookup, and it needs the database.
  const readiness = new Readiness({ probe: () => store.getOperation('readyz'), onChange: setServing });
  const endpoints = new ObservabilityEndpoints(metrics, readiness, log.child({ component: 'metrics' }));
  // Under jwt, /metrics (which names methods, verbs and denial reasons) is not for anyone who can reach the API port.
  const metricsOnApiPort = options.auth === 'none';
  const http = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const observability = ObservabilityEndpoints.pathOf(url);
    if (observability) return endpoints.handle(req, res, observability, { metrics: metricsOnApiPort });
    if (url.startsWith(GIT_PROXY_PREFIX)) return gitProxy.handle(req, res);
    if (url === AUTHORIZE_PATH || url.startsWith(`${AUTHORIZE_PATH}?`)) return authorizePage.handle(req, res);
    if (ConsoleRoutes.matches(url)) return consoleRoutes.handle(req, res);
    if (FaultsEndpoint.matches(url)) return faultsEndpoint.handle(req, res);
    rest.handle(req, res);
  };
  const listener = new DualProtocolListener(grpcServer, http, options.tls, limits);
  const address = await listener.listen(options.host, options.port);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  publicUrl ||= `http://${host}:${address.port}`;
  // Fixtures load once the server's URL is known: the fields derived from it (a connection's action URI) are stored.
  if (options.fixturesFile) {
    const file = options.fixturesFile;
    log.info(
      {
        loaded: await loadFixtures(store, RESOURCES, file, publicUrl).catch(async (error: unknown) => {
          await listener.close(0);
          await engine.stop();
          await store.close();
          throw error;
        }),
      },
      'loaded fixtures',
    );
  }
  const metricsListener =
    options.metricsPort === undefined
      ? undefined
      : await listenForMetrics(endpoints, options.host, options.metricsPort).catch(async (error: unknown) => {
          await listener.close(0);
          await engine.stop();
          await store.close();
          throw error;
        });
  readiness.start();
  const discovery = new InsightsDiscovery(store, { delayMs: options.insightsDiscoveryDelayMs ?? 2_000, log: log.child({ component: 'insights-discovery' }) });
  discovery.start();

  let closing: Promise<void> | undefined;
  return {
    host: address.address,
    port: address.port,
    url: `http://${host}:${address.port}`,
    metricsUrl: metricsListener && `http://${host}:${metricsListener.address.port}`,
    engine,
    store,
    createdOwner: auth.createdOwner,
    consoleUrl: publicUrl.replace(/\/+$/, '') + consoleRoutes.entryPath,
    close: () => {
      closing ??= (async () => {
        readiness.shutdown();
        consoleRoutes.close();
        await listener.close(5_000);
        await metricsListener?.close();
        faults.stop();
        await discovery.stop();
        await engine.stop();
        await store.close();
      })();
      return closing;
    },
  };
}

/** The authenticator and authorizer of the chosen mode; with `jwt`, policies are loaded and the first owner made. */
async function authentication(
  options: ServerOptions,
  store: Store,
  signingKey: TokenSigningKey,
  policies: IamPolicies,
): Promise<{ authenticator: Authenticator; authorizer: Authorizer; owner?: string; createdOwner?: string }> {
  if (options.auth === 'none') {
    return { authenticator: new NoAuthentication(options.noAuthPrincipal ?? 'user:dev@localhost'), authorizer: new AllowEverything() };
  }
  // Made first: it refuses a configuration it cannot serve safely before anything is written.
  const authenticator = new JwtAuthenticator({ store, signingKey, trustedIssuers: options.trustedIssuers, trustedAudiences: options.trustedAudiences });
  if (options.iamPolicyFile) await applyPolicyFile(store, loadPolicyFile(options.iamPolicyFile));
  const owner = options.owner ?? 'user:admin@localhost';
  const created = await bootstrapOwner(store, owner);
  return {
    authenticator,
    authorizer: new IamAuthorizer(policies),
    owner,
    createdOwner: created ? owner : undefined,
  };
}

/** A link and its connection, decoded, for the git proxy. */
async function linkWithConnection(store: Store, name: string): Promise<{ link: GitRepositoryLink; connection: Connection } | undefined> {
  const link = await store.getResource(name);
  const connection = link && (await store.getResource(link.parent));
  if (!link || !connection) return undefined;
  return { link: fromBinary(GitRepositoryLinkSchema, link.data), connection: fromBinary(ConnectionSchema, connection.data) };
}
