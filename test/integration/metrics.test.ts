/**
 * Metrics and health (#9): a real server scraped as Prometheus scrapes it, after calls over REST
 * and gRPC, and denials on every surface (the API, POST /token, the git proxy used by real git,
 * /emulator/v1/faults, the console); /healthz and /readyz, with gRPC health in step, while
 * PostgreSQL is down and while the server shuts down.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { DurationSchema } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { JWT_BEARER_GRANT } from '../../src/auth/token-endpoint.js';
import { issueToken } from '../../src/cli/token.js';
import {
  ConnectionSchema,
  GetConnectionRequestSchema,
  ListConnectionsRequestSchema,
  ListConnectionsResponseSchema,
} from '../../src/gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { OperationSchema, WaitOperationRequestSchema } from '../../src/gen/google/longrunning/operations_pb.js';
import { gitEnvironment, startGitHost, type GitHost } from '../support/git-host.js';
import { admin, ownPostgres } from '../support/postgres.js';
import { histogram, moved, scrape, seriesKey, valueOf, type Exposition } from '../support/prometheus.js';
import { createConnection, PARENT, rest, startTestServer, untilDone, type TestServer } from '../support/server.js';

const require = createRequire(import.meta.url);
const DEVELOPER_CONNECT = 'google.cloud.developerconnect.v1.DeveloperConnect';
const OPERATIONS = 'google.longrunning.Operations';

/** One unary gRPC call with protobuf-es messages; resolves with the response or the gRPC status code. */
function unary<I extends DescMessage, O extends DescMessage>(
  address: string,
  path: string,
  input: I,
  output: O,
  request: MessageShape<I>,
  token?: string,
): Promise<MessageShape<O> | grpc.status> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return new Promise<MessageShape<O> | grpc.status>((resolve) => {
    client.makeUnaryRequest(
      path,
      (m: MessageShape<I>) => Buffer.from(toBinary(input, m)),
      (b: Buffer) => fromBinary(output, b),
      request,
      metadata,
      (error, response) => resolve(error ? error.code : (response as MessageShape<O>)),
    );
  }).finally(() => client.close());
}

function getConnection(server: TestServer, name: string, token?: string) {
  return unary(`127.0.0.1:${server.port}`, `/${DEVELOPER_CONNECT}/GetConnection`, GetConnectionRequestSchema, ConnectionSchema, create(GetConnectionRequestSchema, { name }), token);
}

type HealthStatus = 'SERVING' | 'NOT_SERVING' | 'UNKNOWN' | 'SERVICE_UNKNOWN';
interface HealthClient extends grpc.Client {
  check(request: { service: string }, callback: (error: grpc.ServiceError | null, response: { status: HealthStatus }) => void): void;
  watch(request: { service: string }): grpc.ClientReadableStream<{ status: HealthStatus }>;
}

function healthClient(server: TestServer): HealthClient {
  const root = dirname(require.resolve('grpc-health-check/package.json'));
  const definition = protoLoader.loadSync(join(root, 'proto/health/v1/health.proto'), { includeDirs: [root], enums: String });
  const Health = (grpc.loadPackageDefinition(definition) as unknown as { grpc: { health: { v1: { Health: new (address: string, credentials: grpc.ChannelCredentials) => HealthClient } } } }).grpc
    .health.v1.Health;
  return new Health(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
}

function check(client: HealthClient, service: string): Promise<HealthStatus> {
  return new Promise((resolve, reject) => client.check({ service }, (error, response) => (error ? reject(error) : resolve(response.status))));
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

/** The series of `devconnect_rpc_requests_total` of one call. */
function rpc(service: string, method: string, code: string, transport: 'grpc' | 'rest'): string {
  return seriesKey({ service, method, code, transport });
}

describe('/metrics after calls over REST and gRPC', () => {
  let server: TestServer;
  let first: Exposition;
  let last: Exposition;

  before(async () => {
    server = await startTestServer();
    first = await scrape(server.url);
    const op = await createConnection(server.url, 'counted');
    assert.equal(op.done, true, 'with no --operation-delay the create is done at once');
    const connection = `${PARENT}/connections/counted`;
    assert.equal((await rest(server.url, 'GET', `/v1/${connection}`)).status, 200);
    assert.equal((await rest(server.url, 'GET', `/v1/${PARENT}/connections/missing`)).status, 404);
    assert.equal((await rest(server.url, 'GET', `/v1/${String(op.name)}`)).status, 200);
    assert.equal((await rest(server.url, 'GET', '/v1/no/such/route')).status, 404);
    const viaGrpc = await getConnection(server, connection);
    assert.equal(typeof viaGrpc === 'object' && viaGrpc.name, connection);
    assert.equal(await getConnection(server, `${PARENT}/connections/missing`), grpc.status.NOT_FOUND);
    const listed = await unary(
      `127.0.0.1:${server.port}`,
      `/${DEVELOPER_CONNECT}/ListConnections`,
      ListConnectionsRequestSchema,
      ListConnectionsResponseSchema,
      create(ListConnectionsRequestSchema, { parent: PARENT }),
    );
    assert.equal(typeof listed === 'object' && listed.connections.length, 1);
    last = await scrape(server.url);
  });
  after(() => server.stop());

  test('devconnect_rpc_requests_total moved by exactly the calls made, by service, method, code and transport', () => {
    // The unknown route named no method, and scrapes are no calls: neither is counted.
    assert.deepEqual(moved(first, last, 'devconnect_rpc_requests_total'), {
      [rpc(DEVELOPER_CONNECT, 'CreateConnection', 'OK', 'rest')]: 1,
      [rpc(DEVELOPER_CONNECT, 'GetConnection', 'OK', 'rest')]: 1,
      [rpc(DEVELOPER_CONNECT, 'GetConnection', 'NOT_FOUND', 'rest')]: 1,
      [rpc(OPERATIONS, 'GetOperation', 'OK', 'rest')]: 1,
      [rpc(DEVELOPER_CONNECT, 'GetConnection', 'OK', 'grpc')]: 1,
      [rpc(DEVELOPER_CONNECT, 'GetConnection', 'NOT_FOUND', 'grpc')]: 1,
      [rpc(DEVELOPER_CONNECT, 'ListConnections', 'OK', 'grpc')]: 1,
    });
    assert.equal(last.types.get('devconnect_rpc_requests_total'), 'counter');
  });

  test('devconnect_rpc_duration_seconds observed each call, by method and transport', () => {
    assert.equal(last.types.get('devconnect_rpc_duration_seconds'), 'histogram');
    for (const [method, transport, calls] of [
      ['GetConnection', 'rest', 2],
      ['GetConnection', 'grpc', 2],
      ['CreateConnection', 'rest', 1],
      ['ListConnections', 'grpc', 1],
    ] as const) {
      const labels = { service: DEVELOPER_CONNECT, method, transport };
      const { count, sum } = histogram(last, 'devconnect_rpc_duration_seconds', labels);
      assert.equal(count, calls, `${method} over ${transport}`);
      assert.ok(sum > 0 && sum < 10, `${method} over ${transport} took ${sum} s in all`);
    }
    assert.deepEqual(moved(first, last, 'devconnect_rpc_duration_seconds_count'), {
      [seriesKey({ service: DEVELOPER_CONNECT, method: 'CreateConnection', transport: 'rest' })]: 1,
      [seriesKey({ service: DEVELOPER_CONNECT, method: 'GetConnection', transport: 'rest' })]: 2,
      [seriesKey({ service: OPERATIONS, method: 'GetOperation', transport: 'rest' })]: 1,
      [seriesKey({ service: DEVELOPER_CONNECT, method: 'GetConnection', transport: 'grpc' })]: 2,
      [seriesKey({ service: DEVELOPER_CONNECT, method: 'ListConnections', transport: 'grpc' })]: 1,
    });
  });

  test('the operation that ended is counted done and timed by verb and outcome', () => {
    assert.deepEqual(moved(first, last, 'devconnect_operations'), { [seriesKey({ state: 'done' })]: 1 });
    assert.equal(valueOf(last, 'devconnect_operations', { state: 'running' }), 0);
    assert.equal(valueOf(last, 'devconnect_operations', { state: 'cancelled' }), 0);
    assert.equal(last.types.get('devconnect_operations'), 'gauge');
    const { count } = histogram(last, 'devconnect_operation_duration_seconds', { verb: 'create', outcome: 'OK' });
    assert.equal(count, 1);
    assert.deepEqual(moved(first, last, 'devconnect_operation_duration_seconds_count'), { [seriesKey({ verb: 'create', outcome: 'OK' })]: 1 });
  });

  test('store commits are timed, by backend', () => {
    const { count, sum } = histogram(last, 'devconnect_store_commit_seconds', { backend: 'sqlite' });
    // At least the create's commit; the start writes its secrets too.
    assert.ok(count - valueOf(first, 'devconnect_store_commit_seconds_count', { backend: 'sqlite' }) >= 1);
    assert.ok(sum > 0);
    assert.equal(valueOf(last, 'devconnect_store_commit_seconds_count', { backend: 'postgres' }), 0);
  });

  test("Node's default process metrics are there", () => {
    for (const name of ['process_cpu_user_seconds_total', 'process_start_time_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
      assert.ok(last.samples.some((s) => s.name === name), name);
    }
  });

  test('/healthz and /readyz answer 200 while the server serves, and gRPC health says SERVING', async () => {
    assert.deepEqual(await get(`${server.url}/healthz`), { status: 200, body: 'ok\n' });
    assert.deepEqual(await get(`${server.url}/readyz`), { status: 200, body: 'ok\n' });
    const client = healthClient(server);
    try {
      assert.equal(await check(client, ''), 'SERVING');
      assert.equal(await check(client, DEVELOPER_CONNECT), 'SERVING');
    } finally {
      client.close();
    }
  });
});

describe('operations running and cancelled', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ operationDelayMs: 30_000 });
  });
  after(() => server.stop());

  test('a running operation is counted running; cancelled, it moves to cancelled and is timed with outcome CANCELLED', async () => {
    const op = await createConnection(server.url, 'slow');
    const running = await scrape(server.url);
    assert.equal(valueOf(running, 'devconnect_operations', { state: 'running' }), 1);
    assert.equal(valueOf(running, 'devconnect_operation_duration_seconds_count'), 0, 'nothing ended yet');

    assert.equal((await rest(server.url, 'POST', `/v1/${String(op.name)}:cancel`, {})).status, 200);
    const ended = await untilDone(server.url, String(op.name));
    assert.equal((ended.error as { code: number }).code, 1);
    const cancelled = await scrape(server.url);
    assert.equal(valueOf(cancelled, 'devconnect_operations', { state: 'running' }), 0);
    assert.equal(valueOf(cancelled, 'devconnect_operations', { state: 'cancelled' }), 1);
    assert.equal(valueOf(cancelled, 'devconnect_operations', { state: 'done' }), 0);
    const { count, sum } = histogram(cancelled, 'devconnect_operation_duration_seconds', { verb: 'create', outcome: 'CANCELLED' });
    assert.equal(count, 1);
    assert.ok(sum < 30, `cancelled after ${sum} s, before its 30 s of work`);
  });

  test("a gRPC WaitOperation whose client gives up is let go at once: counted, timed near the client's deadline, not the wait's", async () => {
    const op = await createConnection(server.url, 'waited');
    const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    const request = create(WaitOperationRequestSchema, { name: String(op.name), timeout: create(DurationSchema, { seconds: 30n }) });
    const code = await new Promise<grpc.status | undefined>((resolve) => {
      client.makeUnaryRequest(
        `/${OPERATIONS}/WaitOperation`,
        (m: MessageShape<typeof WaitOperationRequestSchema>) => Buffer.from(toBinary(WaitOperationRequestSchema, m)),
        (b: Buffer) => fromBinary(OperationSchema, b),
        request,
        { deadline: Date.now() + 300 },
        (error) => resolve(error?.code),
      );
    }).finally(() => client.close());
    assert.equal(code, grpc.status.DEADLINE_EXCEEDED);
    const waits = { service: OPERATIONS, method: 'WaitOperation', transport: 'grpc' };
    let scraped = await scrape(server.url);
    for (let i = 0; i < 100 && valueOf(scraped, 'devconnect_rpc_duration_seconds_count', waits) === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      scraped = await scrape(server.url);
    }
    const timed = histogram(scraped, 'devconnect_rpc_duration_seconds', waits);
    assert.equal(timed.count, 1, 'the server ended the wait when its client went away, not after its 30 s');
    assert.ok(timed.sum < 5, `the wait ended after ${timed.sum} s`);
  });
});

describe('under --auth jwt with --metrics-port', () => {
  const OWNER = 'user:admin@example.com';
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ auth: 'jwt', owner: OWNER, metricsPort: 0 });
  });
  after(() => server.stop());

  test('/metrics is served on --metrics-port only; /healthz and /readyz on both ports', async () => {
    assert.ok(server.metricsUrl && server.metricsUrl !== server.url);
    const onApiPort = await get(`${server.url}/metrics`);
    assert.equal(onApiPort.status, 404);
    assert.match(onApiPort.body, /--metrics-port/);
    await scrape(server.metricsUrl);
    for (const base of [server.url, server.metricsUrl]) {
      assert.equal((await get(`${base}/healthz`)).status, 200);
      assert.equal((await get(`${base}/readyz`)).status, 200);
    }
    assert.equal((await get(`${server.metricsUrl}/v1/${PARENT}/connections`)).status, 404, 'the metrics port serves no API');
  });

  test('authentication and IAM denials are counted by reason, over both transports', async () => {
    const metricsUrl = server.metricsUrl!;
    const owner = await issueToken({ dataDir: server.dataDir, principal: OWNER });
    const stranger = await issueToken({ dataDir: server.dataDir, principal: 'user:stranger@example.com' });
    const scopeless = await issueToken({ dataDir: server.dataDir, principal: OWNER, scopes: ['https://www.googleapis.com/auth/userinfo.email'] });
    const path = `/v1/${PARENT}/connections/missing`;
    const as = (token?: string) => fetch(server.url + path, { headers: token ? { authorization: `Bearer ${token}` } : {} }).then((r) => r.status);

    const before = await scrape(metricsUrl);
    assert.equal(await as(undefined), 401);
    assert.equal(await as('not-a-token'), 401);
    assert.equal(await as(stranger), 403);
    assert.equal(await as(scopeless), 403);
    assert.equal(await as(owner), 404);
    assert.equal(await getConnection(server, `${PARENT}/connections/missing`), grpc.status.UNAUTHENTICATED);
    assert.equal(await getConnection(server, `${PARENT}/connections/missing`, stranger), grpc.status.PERMISSION_DENIED);
    const after = await scrape(metricsUrl);

    assert.deepEqual(moved(before, after, 'devconnect_auth_denials_total'), {
      [seriesKey({ reason: 'CREDENTIALS_MISSING' })]: 2,
      [seriesKey({ reason: 'ACCESS_TOKEN_INVALID' })]: 1,
      [seriesKey({ reason: 'IAM_PERMISSION_DENIED' })]: 2,
      [seriesKey({ reason: 'ACCESS_TOKEN_SCOPE_INSUFFICIENT' })]: 1,
    });
    assert.deepEqual(moved(before, after, 'devconnect_rpc_requests_total'), {
      [rpc(DEVELOPER_CONNECT, 'GetConnection', 'UNAUTHENTICATED', 'rest')]: 2,
      [rpc(DEVELOPER_CONNECT, 'GetConnection', 'PERMISSION_DENIED', 'rest')]: 2,
      [rpc(DEVELOPER_CONNECT, 'GetConnection', 'NOT_FOUND', 'rest')]: 1,
      [rpc(DEVELOPER_CONNECT, 'GetConnection', 'UNAUTHENTICATED', 'grpc')]: 1,
      [rpc(DEVELOPER_CONNECT, 'GetConnection', 'PERMISSION_DENIED', 'grpc')]: 1,
    });
  });

  test("denials on the server's other surfaces are counted by reason: POST /token, /emulator/v1/faults, the console's login code and sign-in", async () => {
    const metricsUrl = server.metricsUrl!;
    const owner = await issueToken({ dataDir: server.dataDir, principal: OWNER });
    const stranger = await issueToken({ dataDir: server.dataDir, principal: 'user:stranger@example.com' });
    const token = (form: Record<string, string>) =>
      fetch(`${server.url}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
    const faults = (bearer?: string) => fetch(`${server.url}/emulator/v1/faults`, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} }).then((r) => r.status);
    const signIn = (pasted: string) =>
      fetch(`${server.url}/console/api/session`, { method: 'POST', headers: { 'content-type': 'application/json', origin: server.url }, body: JSON.stringify({ token: pasted }) });

    const before = await scrape(metricsUrl);
    const badAssertion = await token({ grant_type: JWT_BEARER_GRANT, assertion: 'not-a-jwt' });
    assert.equal(badAssertion.status, 400);
    assert.equal(((await badAssertion.json()) as { error: string }).error, 'invalid_grant');
    assert.equal((await token({ assertion: 'not-a-jwt' })).status, 400, 'no grant_type: invalid_request');
    assert.equal(await faults(undefined), 401);
    assert.equal(await faults(stranger), 403);
    assert.equal(await faults(owner), 200);
    assert.equal((await fetch(`${server.url}/console/login?code=not-the-code`, { redirect: 'manual' })).status, 401);
    assert.equal((await signIn('not-a-token')).status, 401);
    assert.equal((await signIn(owner)).status, 200);
    const after = await scrape(metricsUrl);

    assert.deepEqual(moved(before, after, 'devconnect_auth_denials_total'), {
      [seriesKey({ reason: 'TOKEN_ENDPOINT_INVALID_GRANT' })]: 1,
      [seriesKey({ reason: 'TOKEN_ENDPOINT_INVALID_REQUEST' })]: 1,
      [seriesKey({ reason: 'CREDENTIALS_MISSING' })]: 1,
      [seriesKey({ reason: 'IAM_PERMISSION_DENIED' })]: 1,
      [seriesKey({ reason: 'CONSOLE_LOGIN_CODE_INVALID' })]: 1,
      [seriesKey({ reason: 'ACCESS_TOKEN_INVALID' })]: 1,
    });
    assert.deepEqual(moved(before, after, 'devconnect_rpc_requests_total'), {}, 'none of these is an API call');
  });
});

describe("the git proxy's refusals, to real git", () => {
  let host: GitHost;
  let server: TestServer;
  let work: string;
  const git = async (args: string[], cwd = work) => (await promisify(execFile)('git', args, { cwd, env: gitEnvironment(work) })).stdout;
  const ok = async (method: string, path: string, body?: unknown) => {
    const res = await rest(server.url, method, path, body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return 'response' in res.body ? (res.body.response as Record<string, unknown>) : res.body;
  };
  const withToken = (uri: unknown, token: unknown) => String(uri).replace('http://', `http://oauth2:${encodeURIComponent(String(token))}@`);

  before(async () => {
    host = await startGitHost();
    host.createRepository('shop');
    work = mkdtempSync(join(tmpdir(), 'metrics-git-'));
    server = await startTestServer();
    await ok('POST', `/v1/${PARENT}/connections?connectionId=host`, { httpConfig: { hostUri: host.url }, gitProxyConfig: { enabled: true } });
  });
  after(async () => {
    await server?.stop();
    await host?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("a wrong token, another link's token and a push with a read token are counted; git's credential-less first request is not", async () => {
    const link = await ok('POST', `/v1/${PARENT}/connections/host/gitRepositoryLinks?gitRepositoryLinkId=shop`, { cloneUri: `${host.url}/shop.git` });
    const other = await ok('POST', `/v1/${PARENT}/connections/host/gitRepositoryLinks?gitRepositoryLinkId=other`, { cloneUri: `${host.url}/other.git` });
    const read = (await ok('POST', `/v1/${String(link.name)}:fetchReadToken`, {})).token;
    const otherRead = (await ok('POST', `/v1/${String(other.name)}:fetchReadToken`, {})).token;
    const clone = join(work, 'clone');

    const before = await scrape(server.url);
    await git(['clone', '--quiet', withToken(link.gitProxyUri, read), clone]);
    const cloned = await scrape(server.url);
    await assert.rejects(git(['clone', '--quiet', withToken(link.gitProxyUri, 'not-a-token'), join(work, 'refused')]), /401|Authentication failed/);
    await assert.rejects(git(['clone', '--quiet', withToken(link.gitProxyUri, otherRead), join(work, 'refused')]), /403|not for/);
    writeFileSync(join(clone, 'CHANGE.md'), 'change\n');
    await git(['add', 'CHANGE.md'], clone);
    await git(['commit', '--quiet', '-m', 'change'], clone);
    await assert.rejects(git(['push', '--quiet', 'origin', 'main'], clone), /403|read-only/);
    const after = await scrape(server.url);

    assert.deepEqual(moved(before, cloned, 'devconnect_auth_denials_total'), {}, 'a clone with the right token counts nothing');
    assert.deepEqual(moved(cloned, after, 'devconnect_auth_denials_total'), {
      [seriesKey({ reason: 'GIT_PROXY_TOKEN_INVALID' })]: 1,
      [seriesKey({ reason: 'GIT_PROXY_TOKEN_OTHER_LINK' })]: 1,
      [seriesKey({ reason: 'GIT_PROXY_READ_ONLY' })]: 1,
    });
  });
});

test('while the server shuts down, /readyz is 503 and gRPC health watchers see NOT_SERVING', async () => {
  const server = await startTestServer({ metricsPort: 0 });
  const metricsUrl = server.metricsUrl!;
  const client = healthClient(server);
  // The watch is a call in flight: the listener lets it finish (up to its grace period) before closing.
  const watch = client.watch({ service: '' });
  const statuses: HealthStatus[] = [];
  watch.on('data', (m: { status: HealthStatus }) => statuses.push(m.status));
  watch.on('error', () => {});
  // A timer of its own: a promise nothing keeps alive would let the test process exit with this test unreported.
  const next = () =>
    new Promise<HealthStatus>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no new health status within 10 s (so far: ${statuses.join(', ')})`)), 10_000);
      watch.once('data', (m: { status: HealthStatus }) => {
        clearTimeout(timer);
        resolve(m.status);
      });
    });
  assert.equal(await next(), 'SERVING');
  assert.deepEqual(await get(`${metricsUrl}/readyz`), { status: 200, body: 'ok\n' });

  const stopped = server.stop();
  assert.equal(await next(), 'NOT_SERVING');
  const readyz = await get(`${metricsUrl}/readyz`);
  assert.equal(readyz.status, 503);
  assert.match(readyz.body, /shutting down/);
  assert.equal((await get(`${metricsUrl}/healthz`)).status, 200, 'alive while it drains');
  watch.cancel();
  client.close();
  await stopped;
  assert.deepEqual(statuses, ['SERVING', 'NOT_SERVING']);
});

test(
  'on PostgreSQL: /readyz is 503 and gRPC health NOT_SERVING while the database is down, and both recover with it',
  { skip: process.env.DATABASE_URL ? 'DATABASE_URL is set: this test stops and starts a PostgreSQL of its own, never a given one' : false },
  async () => {
    const postgres = await ownPostgres();
    await admin(postgres.url, 'CREATE DATABASE readiness');
    const server = await startTestServer({ databaseUrl: new URL('/readiness', postgres.url).href });
    const client = healthClient(server);
    try {
      assert.equal((await get(`${server.url}/readyz`)).status, 200);
      assert.equal(await check(client, ''), 'SERVING');
      assert.equal((await createConnection(server.url, 'on-postgres')).done, true);
      const metrics = await scrape(server.url);
      assert.ok(histogram(metrics, 'devconnect_store_commit_seconds', { backend: 'postgres' }).count >= 1);
      assert.equal(valueOf(metrics, 'devconnect_store_commit_seconds_count', { backend: 'sqlite' }), 0);

      await postgres.stop();
      const started = performance.now();
      const down = await get(`${server.url}/readyz`);
      assert.equal(down.status, 503);
      assert.match(down.body, /store is unreachable|did not answer/);
      assert.ok(performance.now() - started < 3_000, 'the probe fails fast');
      assert.equal(await check(client, ''), 'NOT_SERVING');
      assert.equal(await check(client, DEVELOPER_CONNECT), 'NOT_SERVING');
      assert.equal((await get(`${server.url}/healthz`)).status, 200, 'alive, only not ready');
      assert.equal((await scrape(server.url)).types.get('devconnect_rpc_requests_total'), 'counter', '/metrics needs no database');

      await postgres.start();
      const deadline = Date.now() + 20_000;
      let up = await get(`${server.url}/readyz`);
      while (up.status !== 200 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        up = await get(`${server.url}/readyz`);
      }
      assert.deepEqual(up, { status: 200, body: 'ok\n' });
      assert.equal(await check(client, ''), 'SERVING');
    } finally {
      client.close();
      await server.stop();
      await postgres.remove();
    }
  },
);
