import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { ConnectionsApi } from './api/connections.js';
import { LocationsApi } from './api/locations.js';
import { MethodTable } from './api/methods.js';
import { OperationsApi } from './api/operations.js';
import { PageTokens } from './api/page-token.js';
import { AllowEverything, NoAuthentication } from './auth/none.js';
import { Engine } from './engine/engine.js';
import { services } from './proto/registry.js';
import { SqliteStore } from './store/sqlite.js';
import type { Store } from './store/store.js';
import { createGrpcServer } from './transport/grpc.js';
import { DualProtocolListener } from './transport/listener.js';
import { RestTransport } from './transport/rest.js';

export interface ServerOptions {
  host: string;
  port: number;
  /** Directory of the SQLite file and server secrets; ':memory:' keeps nothing. */
  dataDir: string;
  operationDelayMs: number;
  /** Only `none` so far: every call acts as `noAuthPrincipal` with every permission. */
  auth?: 'none';
  /** The principal of `--auth none` (default `user:dev@localhost`). */
  noAuthPrincipal?: string;
  logger?: Logger;
}

export interface RunningServer {
  host: string;
  port: number;
  /** `http://host:port`, for REST clients. */
  url: string;
  engine: Engine;
  store: Store;
  close(): Promise<void>;
}

/** Opens the store, recovers unfinished operations, then serves gRPC and REST on one address. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const log = options.logger ?? pino({ level: 'silent' });
  const store = SqliteStore.open(options.dataDir);
  const engine = new Engine(store, log.child({ component: 'engine' }));
  const tokens = new PageTokens(secret(options.dataDir, 'page-token.key'));
  const authenticator = new NoAuthentication(options.noAuthPrincipal ?? 'user:dev@localhost');
  const methods = new MethodTable(
    {
      operations: new OperationsApi(engine, tokens),
      locations: new LocationsApi(tokens),
      connections: new ConnectionsApi(engine, store, tokens, { operationDelayMs: options.operationDelayMs }),
    },
    new AllowEverything(),
  );
  const recovered = await engine.recover();
  if (recovered.resumed + recovered.failed > 0) log.info(recovered, 'recovered unfinished operations');

  const { server: grpcServer } = createGrpcServer(services, methods, authenticator, log.child({ component: 'grpc' }));
  const rest = new RestTransport(services, methods, authenticator, log.child({ component: 'rest' }));
  const listener = new DualProtocolListener(grpcServer, rest.handle);
  const address = await listener.listen(options.host, options.port);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closing: Promise<void> | undefined;
  return {
    host: address.address,
    port: address.port,
    url: `http://${host}:${address.port}`,
    engine,
    store,
    close: () => {
      closing ??= (async () => {
        await listener.close(5_000);
        await engine.stop();
        await store.close();
      })();
      return closing;
    },
  };
}

/** A 32-byte secret kept in the data directory, created on first start, so tokens outlive restarts. */
function secret(dataDir: string, file: string): Buffer {
  if (dataDir === ':memory:') return randomBytes(32);
  const dir = join(dataDir, 'secrets');
  const path = join(dir, file);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(path, randomBytes(32), { mode: 0o600, flag: 'wx' });
  }
  return readFileSync(path);
}
