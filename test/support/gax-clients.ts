import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import gax from 'google-gax';

/**
 * Developer Connect clients wired the way the generated `@google-cloud/developer-connect` client wires
 * them (src/v1/developer_connect_client.ts): `createStub`, `createApiCall` with the method's
 * descriptor, `lro()` for the Operations mixin, and its client config. Only the protos differ: they are
 * read from `google-proto-files` instead of a bundled protos.json.
 */

const require = createRequire(import.meta.url);
export const PROTOS_ROOT = dirname(require.resolve('google-proto-files/package.json'));
const DEVELOPER_CONNECT_PROTO = 'google/cloud/developerconnect/v1/developer_connect.proto';
const SERVICE = 'google.cloud.developerconnect.v1.DeveloperConnect';
const SCOPES = ['https://www.googleapis.com/auth/cloud-platform'];

/** The mixins' HTTP rules from developerconnect_v1.yaml, as the generated client passes them to lro(). */
export const MIXIN_HTTP_RULES = [
  { selector: 'google.cloud.location.Locations.GetLocation', get: '/v1/{name=projects/*/locations/*}' },
  { selector: 'google.cloud.location.Locations.ListLocations', get: '/v1/{name=projects/*}/locations' },
  { selector: 'google.longrunning.Operations.CancelOperation', post: '/v1/{name=projects/*/locations/*/operations/*}:cancel', body: '*' },
  { selector: 'google.longrunning.Operations.DeleteOperation', delete: '/v1/{name=projects/*/locations/*/operations/*}' },
  { selector: 'google.longrunning.Operations.GetOperation', get: '/v1/{name=projects/*/locations/*/operations/*}' },
  { selector: 'google.longrunning.Operations.ListOperations', get: '/v1/{name=projects/*/locations/*}/operations' },
];

/** The generated client's developer_connect_client_config.json, for the methods these tests call. */
const RETRY_PARAMS = {
  initial_retry_delay_millis: 1000,
  retry_delay_multiplier: 1.3,
  max_retry_delay_millis: 10000,
  initial_rpc_timeout_millis: 60000,
  rpc_timeout_multiplier: 1,
  max_rpc_timeout_millis: 60000,
  total_timeout_millis: 600000,
};
export const CLIENT_CONFIG: gax.ClientConfig = {
  interfaces: {
    [SERVICE]: {
      retry_codes: { non_idempotent: [], unavailable: ['UNAVAILABLE'] },
      retry_params: { default: { ...RETRY_PARAMS, initial_retry_delay_millis: 100, max_retry_delay_millis: 60000 }, unavailable: RETRY_PARAMS },
      methods: {
        GetConnection: { timeout_millis: 60000, retry_codes_name: 'unavailable', retry_params_name: 'unavailable' },
        CreateConnection: { timeout_millis: 60000, retry_codes_name: 'unavailable', retry_params_name: 'unavailable' },
        UpdateConnection: { timeout_millis: 60000, retry_codes_name: 'unavailable', retry_params_name: 'unavailable' },
        CreateGitRepositoryLink: { timeout_millis: 60000, retry_codes_name: 'unavailable', retry_params_name: 'unavailable' },
        ListGitRepositoryLinks: { retry_codes_name: 'non_idempotent', retry_params_name: 'default' },
        ListUsers: { retry_codes_name: 'non_idempotent', retry_params_name: 'default' },
      },
    },
  },
};
const METHODS = ['getConnection', 'createConnection', 'updateConnection', 'createGitRepositoryLink', 'listGitRepositoryLinks', 'listUsers'] as const;
export type MethodName = (typeof METHODS)[number];

export type Transport = 'grpc' | 'rest';

export interface DeveloperConnectClients {
  transport: Transport;
  /** Calls a DeveloperConnect method; resolves with the gax result tuple's first element (a gax Operation for LROs). */
  call(method: MethodName, request: { name?: string; parent?: string } & Record<string, unknown>): Promise<unknown>;
  operationsClient: gax.OperationsClient;
  /** The official protos, for decoding Any payloads the way the LRO descriptor does. */
  protos: gax.protobuf.Root;
  close(): Promise<void>;
}

/** The official protos as protobuf.js reads them, imports resolved inside google-proto-files. */
export function loadProtos(file = DEVELOPER_CONNECT_PROTO): gax.protobuf.Root {
  const root = new gax.protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTOS_ROOT, target);
  root.loadSync(file, { keepCase: false });
  root.resolveAll();
  return root;
}

/** An auth client with a fixed token: the server runs without auth, and nothing here may reach Google. */
export function testAuth(): gax.GoogleAuth {
  const authClient = new gax.googleAuthLibrary.OAuth2Client({ credentials: { access_token: 'test-token' } });
  return new gax.GoogleAuth({ authClient, scopes: SCOPES });
}

export async function developerConnectClients(transport: Transport, port: number): Promise<DeveloperConnectClients> {
  const protos = loadProtos();
  const auth = testAuth();
  const opts = { servicePath: '127.0.0.1', port, scopes: SCOPES, clientConfig: {} };
  let stub: Promise<Record<string, unknown>>;
  let gaxGrpc: gax.GrpcClient | gax.fallback.GrpcClient;
  let operationsClient: gax.OperationsClient;
  if (transport === 'grpc') {
    const grpcClient = new gax.GrpcClient({ auth });
    const sslCreds = grpcClient.grpc.credentials.createInsecure();
    const loaded = grpcClient.loadProto(PROTOS_ROOT, DEVELOPER_CONNECT_PROTO);
    stub = grpcClient.createStub(lookup(loaded, SERVICE), { ...opts, sslCreds }, true);
    operationsClient = gax.lro({ auth, grpc: grpcClient.grpc }).operationsClient({ ...opts, sslCreds });
    gaxGrpc = grpcClient;
  } else {
    // As the generated client does in REST mode: numeric enums, mixin HTTP rules, the full protos for lro().
    const restOpts = { ...opts, fallback: 'rest' as const, protocol: 'http', numericEnums: true };
    const restClient = new gax.fallback.GrpcClient({ ...restOpts, auth });
    stub = restClient.createStub(protos.lookupService(SERVICE), restOpts, true) as Promise<Record<string, unknown>>;
    operationsClient = gax.fallback.lro({ auth, protoJson: protos, httpRules: MIXIN_HTTP_RULES }).operationsClient(restOpts);
    gaxGrpc = restClient;
  }

  const defaults = gaxGrpc.constructSettings(SERVICE, CLIENT_CONFIG, {}, { 'x-goog-api-client': `gax/${gax.version}` }) as Record<
    MethodName,
    gax.CallSettings
  >;
  const connection = protos.lookupType('.google.cloud.developerconnect.v1.Connection');
  const gitRepositoryLink = protos.lookupType('.google.cloud.developerconnect.v1.GitRepositoryLink');
  const metadata = protos.lookupType('.google.cloud.developerconnect.v1.OperationMetadata');
  const lroDescriptor = (response: gax.protobuf.Type) =>
    new gax.LongrunningDescriptor(operationsClient, response.decode.bind(response), metadata.decode.bind(metadata));
  const descriptors: Partial<Record<MethodName, gax.LongrunningDescriptor>> = {
    createConnection: lroDescriptor(connection),
    updateConnection: lroDescriptor(connection),
    createGitRepositoryLink: lroDescriptor(gitRepositoryLink),
  };
  const apiCalls = Object.fromEntries(
    METHODS.map((method) => {
      const func = stub.then((s) => (s[method] as (...args: unknown[]) => unknown).bind(s) as gax.GRPCCall);
      return [method, gax.createApiCall(func, defaults[method], descriptors[method], transport === 'rest' ? 'rest' : undefined)];
    }),
  ) as Record<MethodName, gax.GaxCall>;

  return {
    transport,
    protos,
    operationsClient,
    call: async (method, request) => {
      // The routing header every generated method sends (x-goog-request-params).
      const resource = (request.connection as { name?: string } | undefined)?.name;
      const params: Record<string, string> =
        request.name !== undefined ? { name: request.name } : resource !== undefined ? { 'connection.name': resource } : { parent: request.parent ?? '' };
      const headers = { 'x-goog-request-params': gax.routingHeader.fromParams(params) };
      const [response] = await (apiCalls[method](request, { otherArgs: { headers } }) as Promise<unknown[]>);
      return response;
    },
    close: async () => {
      operationsClient.close();
      const s = (await stub) as { close?: () => void };
      s.close?.();
    },
  };
}

/**
 * A raw `google.longrunning.Operations` gRPC stub from operations.proto, for WaitOperation, which
 * gax's OperationsClient does not expose.
 */
export async function waitOperationCall(port: number): Promise<{ wait(request: object): Promise<unknown>; close(): void }> {
  const grpcClient = new gax.GrpcClient({ auth: testAuth() });
  const loaded = grpcClient.loadProto(PROTOS_ROOT, 'google/longrunning/operations.proto');
  const stub = await grpcClient.createStub(lookup(loaded, 'google.longrunning.Operations'), {
    servicePath: '127.0.0.1',
    port,
    sslCreds: grpcClient.grpc.credentials.createInsecure(),
  });
  const waitOperation = stub.waitOperation as (...args: unknown[]) => unknown;
  // gax's operations_client_config.json has no WaitOperation; it gets the timeout and retries of its siblings.
  const config: gax.ClientConfig = {
    interfaces: {
      'google.longrunning.Operations': {
        retry_codes: { idempotent: ['DEADLINE_EXCEEDED', 'UNAVAILABLE'] },
        retry_params: { default: { ...RETRY_PARAMS, initial_retry_delay_millis: 100, max_retry_delay_millis: 60000 } },
        methods: { WaitOperation: { timeout_millis: 60000, retry_codes_name: 'idempotent', retry_params_name: 'default' } },
      },
    },
  };
  const settings = grpcClient.constructSettings('google.longrunning.Operations', config, {}, {}) as Record<string, gax.CallSettings>;
  const call = gax.createApiCall(waitOperation.bind(stub) as gax.GRPCCall, settings.waitOperation as gax.CallSettings);
  return {
    wait: async (request) => {
      const [operation] = await (call(request) as Promise<unknown[]>);
      return operation;
    },
    close: () => stub.close(),
  };
}

/** A service constructor from a proto-loader GrpcObject, by its full name. */
function lookup(loaded: gax.grpc.GrpcObject, fullName: string): typeof gax.ClientStub {
  let node: unknown = loaded;
  for (const part of fullName.split('.')) node = (node as Record<string, unknown>)[part];
  if (typeof node !== 'function') throw new Error(`${fullName} is not a service in the loaded protos`);
  return node as typeof gax.ClientStub;
}
