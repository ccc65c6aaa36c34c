import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import gax from 'google-gax';

/**
 * Developer Connect clients wired the way the generated `@google-cloud/developer-connect` clients wire
 * them (src/v1/developer_connect_client.ts, insights_config_service_client.ts): one stub per service
 * from `createStub`, `createApiCall` with the method's descriptor (LongrunningDescriptor, PageDescriptor),
 * `lro()` for the Operations mixin, the routing header and the client config. Only the protos differ:
 * they are read from `google-proto-files` instead of a bundled protos.json.
 */

const require = createRequire(import.meta.url);
export const PROTOS_ROOT = dirname(require.resolve('google-proto-files/package.json'));
const PROTO_FILES = ['google/cloud/developerconnect/v1/developer_connect.proto', 'google/cloud/developerconnect/v1/insights_config.proto'];
const SERVICES = {
  DeveloperConnect: 'google.cloud.developerconnect.v1.DeveloperConnect',
  InsightsConfigService: 'google.cloud.developerconnect.v1.InsightsConfigService',
} as const;
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

/** The generated clients' developer_connect_client_config.json (and InsightsConfigService's), for every method. */
const RETRY_PARAMS = {
  initial_retry_delay_millis: 1000,
  retry_delay_multiplier: 1.3,
  max_retry_delay_millis: 10000,
  initial_rpc_timeout_millis: 60000,
  rpc_timeout_multiplier: 1,
  max_rpc_timeout_millis: 60000,
  total_timeout_millis: 600000,
};
const RETRY_CODES = { non_idempotent: [], idempotent: ['DEADLINE_EXCEEDED', 'UNAVAILABLE'], unavailable: ['UNAVAILABLE'] };
const RETRY_PARAMS_BY_NAME = { default: { ...RETRY_PARAMS, initial_retry_delay_millis: 100, max_retry_delay_millis: 60000 }, unavailable: RETRY_PARAMS };
const UNAVAILABLE = { timeout_millis: 60000, retry_codes_name: 'unavailable', retry_params_name: 'unavailable' };
const DEFAULT = { retry_codes_name: 'non_idempotent', retry_params_name: 'default' };

type Service = 'DeveloperConnect' | 'InsightsConfigService';
interface MethodSpec {
  service: Service;
  /** The response message of a method returning google.longrunning.Operation (its LongrunningDescriptor). */
  lro?: string;
  /** The repeated field a paged method's PageDescriptor collects. */
  page?: string;
  /** The request field the routing header (x-goog-request-params) names, as the generated client builds it. */
  routing: string;
  /** The retry settings in the generated client config. */
  config: typeof UNAVAILABLE | typeof DEFAULT;
}
const dc = (spec: Omit<MethodSpec, 'service'>): MethodSpec => ({ service: 'DeveloperConnect', ...spec });
const ic = (spec: Omit<MethodSpec, 'service' | 'config'>): MethodSpec => ({ service: 'InsightsConfigService', config: DEFAULT, ...spec });
const EMPTY = 'google.protobuf.Empty';

/** Every method of both services, in proto order, with what its generated client wires for it. */
export const METHOD_SPECS = {
  listConnections: dc({ page: 'connections', routing: 'parent', config: UNAVAILABLE }),
  getConnection: dc({ routing: 'name', config: UNAVAILABLE }),
  createConnection: dc({ lro: 'Connection', routing: 'parent', config: UNAVAILABLE }),
  updateConnection: dc({ lro: 'Connection', routing: 'connection.name', config: UNAVAILABLE }),
  deleteConnection: dc({ lro: EMPTY, routing: 'name', config: UNAVAILABLE }),
  createGitRepositoryLink: dc({ lro: 'GitRepositoryLink', routing: 'parent', config: UNAVAILABLE }),
  deleteGitRepositoryLink: dc({ lro: EMPTY, routing: 'name', config: UNAVAILABLE }),
  listGitRepositoryLinks: dc({ page: 'gitRepositoryLinks', routing: 'parent', config: DEFAULT }),
  getGitRepositoryLink: dc({ routing: 'name', config: UNAVAILABLE }),
  fetchReadWriteToken: dc({ routing: 'git_repository_link', config: UNAVAILABLE }),
  fetchReadToken: dc({ routing: 'git_repository_link', config: UNAVAILABLE }),
  fetchLinkableGitRepositories: dc({ page: 'linkableGitRepositories', routing: 'connection', config: UNAVAILABLE }),
  fetchGitHubInstallations: dc({ routing: 'connection', config: UNAVAILABLE }),
  fetchGitRefs: dc({ page: 'refNames', routing: 'git_repository_link', config: DEFAULT }),
  listAccountConnectors: dc({ page: 'accountConnectors', routing: 'parent', config: DEFAULT }),
  getAccountConnector: dc({ routing: 'name', config: DEFAULT }),
  createAccountConnector: dc({ lro: 'AccountConnector', routing: 'parent', config: DEFAULT }),
  updateAccountConnector: dc({ lro: 'AccountConnector', routing: 'account_connector.name', config: DEFAULT }),
  deleteAccountConnector: dc({ lro: EMPTY, routing: 'name', config: DEFAULT }),
  fetchAccessToken: dc({ routing: 'account_connector', config: DEFAULT }),
  listUsers: dc({ page: 'users', routing: 'parent', config: DEFAULT }),
  deleteUser: dc({ lro: EMPTY, routing: 'name', config: DEFAULT }),
  fetchSelf: dc({ routing: 'name', config: DEFAULT }),
  deleteSelf: dc({ lro: EMPTY, routing: 'name', config: DEFAULT }),
  startOAuth: dc({ routing: 'account_connector', config: DEFAULT }),
  finishOAuth: dc({ routing: 'account_connector', config: DEFAULT }),
  listInsightsConfigs: ic({ page: 'insightsConfigs', routing: 'parent' }),
  createInsightsConfig: ic({ lro: 'InsightsConfig', routing: 'parent' }),
  getInsightsConfig: ic({ routing: 'name' }),
  updateInsightsConfig: ic({ lro: 'InsightsConfig', routing: 'insights_config.name' }),
  deleteInsightsConfig: ic({ lro: EMPTY, routing: 'name' }),
  getDeploymentEvent: ic({ routing: 'name' }),
  listDeploymentEvents: ic({ page: 'deploymentEvents', routing: 'parent' }),
} satisfies Record<string, MethodSpec>;
export type MethodName = keyof typeof METHOD_SPECS;
const METHODS = Object.keys(METHOD_SPECS) as MethodName[];
const upperFirst = (method: string) => method[0]!.toUpperCase() + method.slice(1);

export const CLIENT_CONFIG: gax.ClientConfig = {
  interfaces: Object.fromEntries(
    (['DeveloperConnect', 'InsightsConfigService'] as const).map((service) => [
      SERVICES[service],
      {
        retry_codes: RETRY_CODES,
        retry_params: RETRY_PARAMS_BY_NAME,
        methods: Object.fromEntries(METHODS.filter((m) => METHOD_SPECS[m].service === service).map((m) => [upperFirst(m), METHOD_SPECS[m].config])),
      },
    ]),
  ),
};

export type Transport = 'grpc' | 'rest';
type Request = Record<string, unknown>;

export interface DeveloperConnectClients {
  transport: Transport;
  /**
   * Calls a method of either service; resolves with the gax result tuple's first element (a gax Operation
   * for LROs). Paged methods are called without their PageDescriptor: the first element is the raw response.
   */
  call(method: MethodName, request: Request, options?: gax.CallOptions): Promise<unknown>;
  /**
   * Calls a paged method as the generated client does, with its PageDescriptor: with autoPaginate (the
   * default) the first element has every page's items; with autoPaginate false, one page's items, the
   * next request (or null) and the raw response.
   */
  paged(method: MethodName, request: Request, options?: gax.CallOptions): Promise<[unknown[], Request | null, Record<string, unknown>]>;
  operationsClient: gax.OperationsClient;
  /** The official protos, for decoding Any payloads the way the LRO descriptor does. */
  protos: gax.protobuf.Root;
  close(): Promise<void>;
}

/** The official protos as protobuf.js reads them, imports resolved inside google-proto-files. */
export function loadProtos(files: string | string[] = PROTO_FILES): gax.protobuf.Root {
  const root = new gax.protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTOS_ROOT, target);
  root.loadSync(files, { keepCase: false });
  root.resolveAll();
  return root;
}

/** An auth client with a fixed token: the server runs without auth, and nothing here may reach Google. */
export function testAuth(): gax.GoogleAuth {
  const authClient = new gax.googleAuthLibrary.OAuth2Client({ credentials: { access_token: 'test-token' } });
  return new gax.GoogleAuth({ authClient, scopes: SCOPES });
}

/** The value of a dotted request field (`connection.name`, `git_repository_link`), read from the camelCase request. */
function routingValue(request: Request, field: string): string {
  let node: unknown = request;
  for (const part of field.split('.')) node = (node as Request | undefined)?.[part.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())];
  return typeof node === 'string' ? node : '';
}

export async function developerConnectClients(transport: Transport, port: number): Promise<DeveloperConnectClients> {
  const protos = loadProtos();
  const auth = testAuth();
  const opts = { servicePath: '127.0.0.1', port, scopes: SCOPES, clientConfig: {} };
  let stubs: Record<Service, Promise<Record<string, unknown>>>;
  let gaxGrpc: gax.GrpcClient | gax.fallback.GrpcClient;
  let operationsClient: gax.OperationsClient;
  if (transport === 'grpc') {
    const grpcClient = new gax.GrpcClient({ auth });
    const sslCreds = grpcClient.grpc.credentials.createInsecure();
    const loaded = grpcClient.loadProto(PROTOS_ROOT, PROTO_FILES);
    const stubOf = (service: Service) => grpcClient.createStub(lookup(loaded, SERVICES[service]), { ...opts, sslCreds }, true);
    stubs = { DeveloperConnect: stubOf('DeveloperConnect'), InsightsConfigService: stubOf('InsightsConfigService') };
    operationsClient = gax.lro({ auth, grpc: grpcClient.grpc }).operationsClient({ ...opts, sslCreds });
    gaxGrpc = grpcClient;
  } else {
    // As the generated client does in REST mode: numeric enums, mixin HTTP rules, the full protos for lro().
    const restOpts = { ...opts, fallback: 'rest' as const, protocol: 'http', numericEnums: true };
    const restClient = new gax.fallback.GrpcClient({ ...restOpts, auth });
    const stubOf = (service: Service) => restClient.createStub(protos.lookupService(SERVICES[service]), restOpts, true) as Promise<Record<string, unknown>>;
    stubs = { DeveloperConnect: stubOf('DeveloperConnect'), InsightsConfigService: stubOf('InsightsConfigService') };
    operationsClient = gax.fallback.lro({ auth, protoJson: protos, httpRules: MIXIN_HTTP_RULES }).operationsClient(restOpts);
    gaxGrpc = restClient;
  }

  const header = { 'x-goog-api-client': `gax/${gax.version}` };
  const defaults = {
    DeveloperConnect: gaxGrpc.constructSettings(SERVICES.DeveloperConnect, CLIENT_CONFIG, {}, header),
    InsightsConfigService: gaxGrpc.constructSettings(SERVICES.InsightsConfigService, CLIENT_CONFIG, {}, header),
  } as Record<Service, Record<string, gax.CallSettings>>;
  const metadata = protos.lookupType('.google.cloud.developerconnect.v1.OperationMetadata');
  const typeOf = (name: string) => protos.lookupType(name.includes('.') ? `.${name}` : `.google.cloud.developerconnect.v1.${name}`);
  const apiCall = (method: MethodName, descriptor: Parameters<typeof gax.createApiCall>[2]): gax.GaxCall => {
    const spec: MethodSpec = METHOD_SPECS[method];
    const func = stubs[spec.service].then((s) => (s[method] as (...args: unknown[]) => unknown).bind(s) as gax.GRPCCall);
    return gax.createApiCall(func, defaults[spec.service][method]!, descriptor, transport === 'rest' ? 'rest' : undefined);
  };
  const plain = {} as Record<MethodName, gax.GaxCall>;
  const pagedCalls: Partial<Record<MethodName, gax.GaxCall>> = {};
  for (const method of METHODS) {
    const spec: MethodSpec = METHOD_SPECS[method];
    if (spec.lro) {
      const response = typeOf(spec.lro);
      plain[method] = apiCall(method, new gax.LongrunningDescriptor(operationsClient, response.decode.bind(response), metadata.decode.bind(metadata)));
    } else {
      plain[method] = apiCall(method, undefined);
    }
    if (spec.page) pagedCalls[method] = apiCall(method, new gax.PageDescriptor('pageToken', 'nextPageToken', spec.page));
  }

  // The routing header every generated method sends (x-goog-request-params), merged into the caller's options.
  const withRouting = (method: MethodName, request: Request, options: gax.CallOptions = {}): gax.CallOptions => {
    const field = METHOD_SPECS[method].routing;
    const headers = { ...(options.otherArgs?.headers as Record<string, string> | undefined), 'x-goog-request-params': gax.routingHeader.fromParams({ [field]: routingValue(request, field) }) };
    return { ...options, otherArgs: { ...options.otherArgs, headers } };
  };

  return {
    transport,
    protos,
    operationsClient,
    call: async (method, request, options) => {
      const [response] = await (plain[method](request, withRouting(method, request, options)) as Promise<unknown[]>);
      return response;
    },
    paged: async (method, request, options) => {
      const call = pagedCalls[method];
      if (!call) throw new Error(`${method} is not a paged method`);
      return (await call(request, withRouting(method, request, options))) as [unknown[], Request | null, Record<string, unknown>];
    },
    close: async () => {
      operationsClient.close();
      for (const stub of Object.values(stubs)) ((await stub) as { close?: () => void }).close?.();
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
