/**
 * A google-gax Developer Connect client authenticated with a service-account key file of this
 * emulator, against `serve --auth jwt`: self-signed JWTs (what generated clients send), the OAuth
 * JWT-bearer grant through POST /token, and the key's deletion taking effect within a second.
 *
 * gRPC through gax is left out on purpose: gax dials this plaintext server with insecure channel
 * credentials, and grpc-js refuses to compose those with call credentials, so gax cannot attach a
 * token there. One raw grpc-js call passing the header by hand shows the server side works.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import gax from 'google-gax';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { ServiceAccountKeyFile } from '../../src/auth/service-account-keys.js';
import { createKeyFile } from '../../src/cli/service-accounts.js';
import { issueToken } from '../../src/cli/token.js';
import { CLOUD_PLATFORM } from '../support/auth.js';
import { loadProtos, PROTOS_ROOT, CLIENT_CONFIG, MIXIN_HTTP_RULES } from '../support/gax-clients.js';
import { startTestServer, type TestServer, grantRoles } from '../support/server.js';

const OWNER = 'user:admin@example.com';
const ACCOUNT = 'serviceAccount:ci-runner@demo.iam.gserviceaccount.com';
const PARENT = 'projects/demo/locations/us-central1';
const SERVICE = 'google.cloud.developerconnect.v1.DeveloperConnect';
/** Where google-auth-library posts the JWT-bearer grant, whatever the key file's token_uri says. */
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
interface RawOperation {
  name: string;
  done: boolean;
  error?: { code: number } | null;
  metadata?: { value: Uint8Array } | null;
}

/** What went over the wire of one client: the grants posted for a token, and the Authorization of every API call. */
interface Traffic {
  grants: number;
  authorizations: string[];
  urls: string[];
}

interface Client {
  traffic: Traffic;
  createConnection(connectionId: string): Promise<gax.Operation>;
  getOperation(name: string): Promise<RawOperation>;
}

/**
 * A client wired the way the generated `@google-cloud/developer-connect` client wires its
 * clientOptions (src/v1/developer_connect_client.ts): a fallback GrpcClient over REST that makes
 * its own GoogleAuth unless given one, `useJWTAccessWithScope` and `defaultServicePath` set on that
 * auth, and the same auth for the Operations client. `selfSignedJwt: false` leaves the flag unset,
 * as code calling google-auth-library directly does: then the key is traded for an access token at
 * the token endpoint.
 */
async function developerConnectClient(port: number, tokenUri: string, options: { auth?: gax.GoogleAuth; selfSignedJwt: boolean }): Promise<Client> {
  const opts = { servicePath: '127.0.0.1', port, fallback: 'rest' as const, protocol: 'http', numericEnums: true, scopes: [CLOUD_PLATFORM] };
  const gaxGrpc = new gax.fallback.GrpcClient(options.auth ? { ...opts, auth: options.auth } : opts);
  const auth = gaxGrpc.auth as gax.GoogleAuth;
  auth.useJWTAccessWithScope = options.selfSignedJwt;
  auth.defaultServicePath = 'developerconnect.googleapis.com';
  const traffic = await observe(auth, tokenUri);

  const protos = loadProtos();
  const stub = gaxGrpc.createStub(protos.lookupService(SERVICE), opts) as Promise<Record<string, gax.GRPCCall>>;
  const operationsClient = gax.fallback.lro({ auth, protoJson: protos, httpRules: MIXIN_HTTP_RULES }).operationsClient(opts);
  const settings = gaxGrpc.constructSettings(SERVICE, CLIENT_CONFIG, {}, {}) as Record<string, gax.CallSettings>;
  const decoder = (name: string) => {
    const type = protos.lookupType(`.google.cloud.developerconnect.v1.${name}`);
    return type.decode.bind(type);
  };
  const descriptor = new gax.LongrunningDescriptor(operationsClient, decoder('Connection'), decoder('OperationMetadata'));
  const create = gax.createApiCall(
    stub.then((s) => s.createConnection!.bind(s)),
    settings.createConnection!,
    descriptor,
    'rest',
  );
  return {
    traffic,
    createConnection: async (connectionId) => {
      const request = { parent: PARENT, connectionId, connection: { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } } };
      const headers = { 'x-goog-request-params': gax.routingHeader.fromParams({ parent: PARENT }) };
      const [operation] = (await create(request, { otherArgs: { headers } })) as unknown[];
      assert.ok(operation instanceof gax.Operation, 'an LRO method resolves with a gax Operation');
      return operation;
    },
    getOperation: async (name) => {
      const [operation] = await operationsClient.getOperation({ name } as Parameters<gax.OperationsClient['getOperation']>[0]);
      return operation as RawOperation;
    },
  };
}

/**
 * Watches the auth client's HTTP traffic. google-auth-library hard-codes Google's token URL for the
 * JWT-bearer grant (gtoken's GOOGLE_TOKEN_URL) and ignores the key file's token_uri, so the grant is
 * sent to the token_uri here, as nothing may reach Google. Libraries that honour token_uri, such as
 * Python's google-auth, need no such step.
 */
async function observe(auth: gax.GoogleAuth, tokenUri: string): Promise<Traffic> {
  const traffic: Traffic = { grants: 0, authorizations: [], urls: [] };
  const client = await auth.getClient();
  client.transporter.interceptors.request.add({
    resolved: async (options) => {
      if (String(options.url) === GOOGLE_TOKEN_URL) {
        traffic.grants++;
        options.url = new URL(tokenUri);
      } else {
        traffic.authorizations.push(options.headers.get('authorization') ?? '');
      }
      traffic.urls.push(String(options.url));
      return options;
    },
  });
  return traffic;
}

type UnaryCall = (request: object, metadata: grpc.Metadata, callback: (error: grpc.ServiceError | null, response?: unknown) => void) => void;

const bearerJwt = (authorization: string | undefined) => {
  const token = (authorization ?? '').replace(/^Bearer /, '');
  return { header: decodeProtectedHeader(token), claims: decodeJwt(token) };
};

describe('google-gax with a service-account key file, against serve --auth jwt', () => {
  let server: TestServer;
  let keyDir: string;
  let keyCount = 0;

  /** `devconnect-emulator service-accounts keys create --project demo --name ci-runner --token-uri URL/token --output FILE`. */
  async function newKeyFile(): Promise<{ path: string; keyFile: ServiceAccountKeyFile }> {
    const path = join(keyDir, `ci-runner-${++keyCount}.json`);
    const keyFile = await createKeyFile({ dataDir: server.dataDir, project: 'demo', name: 'ci-runner', tokenUri: `${server.url}/token`, output: path });
    return { path, keyFile };
  }

  /** Creates a connection, cancels it with operation.cancel() during its 5 s of work, and reads it back with GetOperation. */
  async function createAndCancel(client: Client, connectionId: string): Promise<void> {
    const started = Date.now();
    const operation = await client.createConnection(connectionId);
    await operation.cancel();
    await assert.rejects(operation.promise(), (error: Error & { code?: number }) => error.code === gax.Status.CANCELLED);
    assert.ok(Date.now() - started < 4000, 'cancelled before its 5 s of work ended');
    const raw = await client.getOperation(operation.name!);
    assert.equal(raw.done, true);
    assert.equal(raw.error?.code, gax.Status.CANCELLED);
    const metadata = loadProtos().lookupType('google.cloud.developerconnect.v1.OperationMetadata').decode(raw.metadata!.value);
    assert.equal((metadata as unknown as { requestedCancellation: boolean }).requestedCancellation, true);
    assert.ok(client.traffic.urls.every((url) => url.startsWith(server.url)), `nothing left for Google: ${client.traffic.urls.join(', ')}`);
  }

  before(async () => {
    server = await startTestServer({ auth: 'jwt', owner: OWNER, operationDelayMs: 5000 });
    keyDir = mkdtempSync(join(tmpdir(), 'devconnect-keys-'));
    const owner = await issueToken({ dataDir: server.dataDir, principal: OWNER });
    await grantRoles(server, owner, 'demo', [{ role: 'roles/developerconnect.admin', members: [ACCOUNT] }]);
  });
  after(async () => {
    await server?.stop();
    rmSync(keyDir, { recursive: true, force: true });
  });

  test('GoogleAuth({ keyFile }) in a generated-style client: self-signed JWTs create and cancel an operation', async () => {
    const { path, keyFile } = await newKeyFile();
    const client = await developerConnectClient(server.port, keyFile.token_uri, { auth: new gax.GoogleAuth({ keyFile: path, scopes: [CLOUD_PLATFORM] }), selfSignedJwt: true });
    await createAndCancel(client, 'self-signed');
    assert.equal(client.traffic.grants, 0, 'no token was asked for');
    const { header, claims } = bearerJwt(client.traffic.authorizations[0]);
    assert.deepEqual([header.kid, claims.iss, claims.sub, claims.scope], [keyFile.private_key_id, keyFile.client_email, keyFile.client_email, CLOUD_PLATFORM]);
  });

  test('GOOGLE_APPLICATION_CREDENTIALS: the client finds the key file itself', async () => {
    const { path, keyFile } = await newKeyFile();
    const saved = process.env.GOOGLE_APPLICATION_CREDENTIALS;
    process.env.GOOGLE_APPLICATION_CREDENTIALS = path;
    try {
      const client = await developerConnectClient(server.port, keyFile.token_uri, { selfSignedJwt: true });
      await createAndCancel(client, 'from-environment');
      assert.equal(bearerJwt(client.traffic.authorizations[0]).header.kid, keyFile.private_key_id);
    } finally {
      if (saved === undefined) delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
      else process.env.GOOGLE_APPLICATION_CREDENTIALS = saved;
    }
  });

  test("the JWT-bearer grant: the key is traded at the key file's token_uri for an access token of the server", async () => {
    const { path, keyFile } = await newKeyFile();
    const client = await developerConnectClient(server.port, keyFile.token_uri, { auth: new gax.GoogleAuth({ keyFile: path, scopes: [CLOUD_PLATFORM] }), selfSignedJwt: false });
    await createAndCancel(client, 'token-grant');
    assert.equal(client.traffic.grants, 1, 'one grant, its token reused for every call');
    assert.ok(client.traffic.urls.includes(keyFile.token_uri));
    const { claims } = bearerJwt(client.traffic.authorizations[0]);
    assert.deepEqual([claims.iss, claims.sub, claims.scope, claims.sa_key_id], ['devconnect-emulator', ACCOUNT, CLOUD_PLATFORM, keyFile.private_key_id]);
    assert.ok(client.traffic.authorizations.every((a) => a === client.traffic.authorizations[0]));
  });

  test('deleting the key refuses both kinds of token within a second, though clients and server cache them', async () => {
    const { path, keyFile } = await newKeyFile();
    const clients = await Promise.all(
      [true, false].map((selfSignedJwt) =>
        developerConnectClient(server.port, keyFile.token_uri, { auth: new gax.GoogleAuth({ keyFile: path, scopes: [CLOUD_PLATFORM] }), selfSignedJwt }),
      ),
    );
    const operation = await clients[0]!.createConnection('outlived-key');
    for (const client of clients) assert.equal((await client.getOperation(operation.name!)).name, operation.name);

    const deletedAt = Date.now();
    assert.ok(await server.store.deleteServiceAccountKey(keyFile.private_key_id, new Date(deletedAt)));
    await Promise.all(
      clients.map(async (client) => {
        for (;;) {
          const error = await client.getOperation(operation.name!).then(
            () => undefined,
            (e: unknown) => e as Error & { status?: number },
          );
          const elapsed = Date.now() - deletedAt;
          if (error) {
            assert.equal(error.status, 401, error.message);
            assert.match(error.message, /"status":"UNAUTHENTICATED"/);
            // Keys are re-checked once a second; the rest is slack for a loaded CI machine.
            assert.ok(elapsed < 2500, `refused after ${elapsed} ms`);
            return;
          }
          assert.ok(elapsed < 2500, `still accepted ${elapsed} ms after the deletion`);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }),
    );
    assert.equal(clients[1]!.traffic.grants, 1, 'the access token was cached by the client, not fetched again');
  });

  test('raw grpc-js with the self-signed JWT in the authorization metadata', async () => {
    const { path } = await newKeyFile();
    const auth = new gax.GoogleAuth({ keyFile: path, scopes: [CLOUD_PLATFORM] });
    auth.useJWTAccessWithScope = true;
    const authorization = (await auth.getRequestHeaders()).get('authorization');
    assert.match(authorization ?? '', /^Bearer /);

    const definition = protoLoader.loadSync('google/cloud/location/locations.proto', { includeDirs: [PROTOS_ROOT] });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as { google: { cloud: { location: { Locations: grpc.ServiceClientConstructor } } } };
    const locations = new loaded.google.cloud.location.Locations(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    const call = (locations.GetLocation as UnaryCall).bind(locations);
    const getLocation = (metadata: grpc.Metadata) =>
      new Promise<{ name: string }>((resolve, reject) =>
        call({ name: PARENT }, metadata, (error, response) => (error ? reject(error) : resolve(response as { name: string }))),
      );
    try {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', authorization!);
      assert.equal((await getLocation(metadata)).name, PARENT);
      await assert.rejects(getLocation(new grpc.Metadata()), (error: grpc.ServiceError) => error.code === grpc.status.UNAUTHENTICATED);
    } finally {
      locations.close();
    }
  });
});
