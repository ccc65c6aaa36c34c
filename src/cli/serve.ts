import { readFileSync } from 'node:fs';
import { basename, relative } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import { parseTrustedIssuer, type TrustedIssuer } from '../auth/trusted-issuers.js';
import { startServer } from '../server.js';
import { databaseUrlOption } from './database-url.js';
import { durationOption } from './duration.js';
import { portOption } from './port.js';
import { selfSignedTls } from './self-signed-tls.js';

/** How this CLI was started, so printed hints can be pasted as they are (from a clone it is not on PATH). */
function selfCommand(): string {
  const script = process.argv[1] ?? '';
  return basename(script) === 'main.js' ? `node ${relative(process.cwd(), script) || script}` : 'devconnect-emulator';
}

interface ServeFlags {
  host: string;
  port: number;
  dataDir: string;
  databaseUrl?: string;
  lease: number;
  operationRetention: number;
  requestIdRetention: number;
  operationDelay: number;
  insightsDiscoveryDelay: number;
  auth: 'jwt' | 'none';
  principal: string;
  owner: string;
  trustedIssuer: TrustedIssuer[];
  trustedAudience: string[];
  iamPolicy?: string;
  secretsFile?: string;
  fixtures?: string;
  faults?: string;
  locations?: string[];
  publicUrl?: string;
  tls?: 'self-signed';
  tlsCert?: string;
  tlsKey?: string;
  metricsPort?: number;
  idleTimeout: number;
  maxConnections: number;
  logLevel: string;
}

function collectIssuer(text: string, previous: TrustedIssuer[]): TrustedIssuer[] {
  try {
    return [...previous, parseTrustedIssuer(text)];
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function positiveInteger(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number.');
  return n;
}

/** A duration above 0: with none, stalled sockets would never be closed. */
function idleTimeout(text: string): number {
  const ms = durationOption(text);
  if (ms === 0) throw new InvalidArgumentError('expected a duration above 0, such as 30s: without one, stalled sockets would never be closed.');
  return ms;
}

function collect(text: string, previous: string[]): string[] {
  return [...previous, text];
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve Developer Connect v1 over gRPC and REST on one address')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 picks a free one)', portOption, 8080)
    .option('--data-dir <dir>', 'where state is kept (SQLite)', './.devconnect-emulator')
    .addOption(databaseUrlOption('keep state, secrets included, in this PostgreSQL database (postgres://…) instead of SQLite in --data-dir, so several nodes can share it'))
    .option('--operation-retention <duration>', 'done operations are deleted this long after they end (once per cluster)', durationOption, 30 * 24 * 3600_000)
    .option('--request-id-retention <duration>', 'a request_id is remembered this long: a retry within it gets the first operation back (AIP-155)', durationOption, 24 * 3600_000)
    .option('--lease <duration>', 'how long a node holds an operation it runs without renewing its lease; with several nodes, another takes over the operations of a node that died after this long', durationOption, 10_000)
    .option('--operation-delay <duration>', 'how long every mutating operation runs, cancellably, before it commits (e.g. 500ms, 30s); with 0s it is returned already done', durationOption, 0)
    .option('--insights-discovery-delay <duration>', 'how long an insights config stays PENDING, discovering, after a create or a change of what it discovers', durationOption, 2_000)
    .addOption(new Option('--auth <mode>', 'jwt: bearer tokens and IAM policies; none: every request acts as --principal with every permission').choices(['jwt', 'none']).default('jwt'))
    .option('--principal <member>', 'the principal of --auth none', 'user:dev@localhost')
    .option('--owner <member>', 'with --auth jwt: who is made owner of every project on the first start', 'user:admin@localhost')
    .option('--trusted-issuer <issuer=jwks-url>', 'with --auth jwt: accept access tokens of this OpenID Connect provider (repeatable)', collectIssuer, [])
    .option('--trusted-audience <aud>', "with --trusted-issuer: an 'aud' accepted in its tokens (repeatable; required, so tokens minted for other apps are refused)", collect, [])
    .option('--iam-policy <file>', 'with --auth jwt: apply the policies and groups of this file at start')
    .option('--secrets-file <file>', 'JSON object of Secret Manager version name → value, for the secrets connections name (git host passwords and tokens)')
    .option('--locations <ids>', "the locations offered, comma-separated (default: Developer Connect's regions)", (text: string) => text.split(',').map((l) => l.trim()).filter((l) => l !== ''))
    .option('--fixtures <file>', 'JSON of resources to seed at start, by collection (e.g. insightsConfigs, deploymentEvents): see the README')
    .option('--faults <file>', 'fault rules (JSON or YAML) in force from the start, to test clients against failures: see the README')
    .option('--public-url <url>', 'the base URL clients reach this server at, for URIs it hands out (git_proxy_uri); default http://HOST:PORT')
    .addOption(new Option('--tls <mode>', 'self-signed: also accept TLS on the same port, with a certificate for localhost made and kept in --data-dir/tls (prints what clients need to trust it)').choices(['self-signed']))
    .option('--tls-cert <file>', 'PEM certificate chain: also accept TLS on the same port (gRPC clients send credentials only over TLS)')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--metrics-port <port>', 'also serve /metrics, /healthz and /readyz on this port of --host; under --auth jwt, /metrics is served here only', portOption)
    .option('--idle-timeout <duration>', 'close a connection silent this long, one this slow to send its request headers or HTTP/2 handshake, and one with no call in progress for this long (a long WaitOperation is a call in progress)', idleTimeout, 30_000)
    .option('--max-connections <n>', 'connections open at once; beyond it, new ones are closed as they arrive', positiveInteger, 1024)
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'))
    .action(async (opts: ServeFlags) => {
      const logger = pino({ level: opts.logLevel }, pino.destination(2));
      if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw new Error('--tls-cert and --tls-key go together.');
      if (opts.tls && opts.tlsCert) throw new Error('--tls self-signed and --tls-cert are alternatives: give one.');
      const selfSigned = opts.tls === 'self-signed' ? await selfSignedTls(opts.dataDir) : undefined;
      const tls = selfSigned ?? (opts.tlsCert && opts.tlsKey ? { cert: readFileSync(opts.tlsCert), key: readFileSync(opts.tlsKey) } : undefined);
      const server = await startServer({
        tls,
        host: opts.host,
        port: opts.port,
        dataDir: opts.dataDir,
        databaseUrl: opts.databaseUrl,
        leaseMs: opts.lease,
        operationRetentionMs: opts.operationRetention,
        requestIdRetentionMs: opts.requestIdRetention,
        operationDelayMs: opts.operationDelay,
        insightsDiscoveryDelayMs: opts.insightsDiscoveryDelay,
        auth: opts.auth,
        noAuthPrincipal: opts.principal,
        owner: opts.owner,
        trustedIssuers: opts.trustedIssuer,
        trustedAudiences: opts.trustedAudience,
        iamPolicyFile: opts.iamPolicy,
        secretsFile: opts.secretsFile,
        fixturesFile: opts.fixtures,
        faultsFile: opts.faults,
        locations: opts.locations,
        publicUrl: opts.publicUrl,
        metricsPort: opts.metricsPort,
        idleTimeoutMs: opts.idleTimeout,
        maxConnections: opts.maxConnections,
        logger,
      });
      if (opts.auth === 'none') {
        process.stderr.write(
          `WARNING: --auth none: every request is accepted without credentials and acts as ${opts.principal} with every permission.\n`,
        );
      }
      process.stdout.write(
        `devconnect-emulator serving gRPC and REST on ${server.url}${tls ? ' (TLS accepted too)' : ''} (data in ${opts.databaseUrl ? 'PostgreSQL' : opts.dataDir}, --auth ${opts.auth})\n`,
      );
      if (server.metricsUrl) process.stdout.write(`Metrics and health on ${server.metricsUrl} (/metrics, /healthz, /readyz)\n`);
      const store = opts.databaseUrl ? ' --database-url "$DATABASE_URL"' : ` --data-dir ${opts.dataDir}`;
      process.stdout.write(
        `Point gcloud at it (a named configuration; your active one is left as it is) with:\n` +
          `  ${selfCommand()} gcloud-config --server ${opts.publicUrl ?? server.url}${opts.auth === 'jwt' ? `${store} --role roles/owner` : ''} --project my-project\n`,
      );
      if (selfSigned) {
        process.stdout.write(
          `TLS with a self-signed certificate (${selfSigned.certPath}). Google's gRPC clients trust it with:\n` +
            `  export GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=${selfSigned.certPath}\n` +
            `(Node's fetch and https: NODE_EXTRA_CA_CERTS=${selfSigned.certPath}; curl: --cacert ${selfSigned.certPath}.) ` +
            `A client that does not trust it retries UNAVAILABLE for minutes, which looks like a hang.\n`,
        );
      }
      if (server.createdOwner) {
        process.stdout.write(
          `Created the owner ${server.createdOwner} (roles/owner on every project). Get a token for it with:\n` +
            `  ${selfCommand()} token ${opts.databaseUrl ? '--database-url "$DATABASE_URL"' : `--data-dir ${opts.dataDir}`} --principal ${server.createdOwner}\n`,
        );
      }
      process.stdout.write(
        opts.auth === 'jwt'
          ? `Web console: open this one-time login link (it signs this browser in as the owner, once):\n  ${server.consoleUrl}\n`
          : `Web console: ${server.consoleUrl}\n`,
      );
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'shutting down');
        server.close().then(
          () => process.exit(0),
          (error: unknown) => {
            logger.error({ err: error }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
}
