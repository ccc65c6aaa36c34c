/**
 * Every implemented method × every kind of credential, over REST and gRPC, under `--auth jwt`: the
 * exact status, google.rpc code and ErrorInfo reason of each refusal, the method's own answer when
 * the caller is permitted, and no trace in the store of any refused call.
 *
 * The order of the checks is the order of the server's: authentication (401), the OAuth scope
 * (403 ACCESS_TOKEN_SCOPE_INSUFFICIENT), the IAM permission on the resource the request names
 * (403 IAM_PERMISSION_DENIED, the same whether or not it exists), then the method (e.g. 404).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { DescMethod, DescService, JsonObject } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { createServiceAccountKey } from '../../src/auth/service-account-keys.js';
import { issueToken } from '../../src/cli/token.js';
import { DeveloperConnect } from '../../src/gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { InsightsConfigService } from '../../src/gen/google/cloud/developerconnect/v1/insights_config_pb.js';
import { Locations } from '../../src/gen/google/cloud/location/locations_pb.js';
import { IAMPolicy } from '../../src/gen/google/iam/v1/iam_policy_pb.js';
import { Operations } from '../../src/gen/google/longrunning/operations_pb.js';
import { newRsaPrivateKeyPem, selfSignedJwt } from '../support/auth.js';
import {
  assertOutcome,
  Code,
  bearer,
  dataDirWithKnownSigningKey,
  EXPIRED,
  grpcCall,
  iamDenied,
  names,
  notFound,
  ok,
  restCall,
  scopeInsufficient,
  serverLikeToken,
  unauthenticated,
  type Expected,
  type RestRequest,
  type Transport,
} from '../support/auth-matrix-helpers.js';
import { startTestServer, type TestServer } from '../support/server.js';

const OWNER = 'user:owner@example.com';
const PROJECT = 'projects/matrix';
const OTHER_PROJECT = 'projects/other';
const LOCATION = `${PROJECT}/locations/us-central1`;
const GITHUB = { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } };
const VIEWER = 'roles/developerconnect.viewer';
const ADMIN = 'roles/developerconnect.admin';
const INSIGHTS_VIEWER = 'roles/developerconnect.insightsViewer';
const INSIGHTS_ADMIN = 'roles/developerconnect.insightsAdmin';
const OAUTH_USER = 'roles/developerconnect.oauthUser';
const OAUTH_ADMIN = 'roles/developerconnect.oauthAdmin';
const ROLES = [VIEWER, ADMIN, INSIGHTS_VIEWER, INSIGHTS_ADMIN, OAUTH_USER, OAUTH_ADMIN, 'roles/viewer', 'roles/owner'];
const CONNECTOR = { providerOauthConfig: { systemProviderId: 'GITHUB', scopes: ['repo'] } };
const INSIGHTS = { appHubApplication: 'projects/matrix/locations/us-central1/applications/shop' };
const LINK = { cloneUri: 'https://github.com/acme/repo.git' };
/** The service account whose key is deleted; it is owner of the project, so only the deletion can refuse it. */
const DELETED_KEY_ACCOUNT = { project: 'matrix', name: 'deleted-key' };
const DELETED_KEY_MEMBER = 'serviceAccount:deleted-key@matrix.iam.gserviceaccount.com';
/** What the permitted SetIamPolicy adds: a member no check relies on. */
const ADDED_BINDING = { role: VIEWER, members: ['user:added@example.com'] };

/** The user holding `role` on `project` and nothing else. */
const grantee = (role: string, project: string): string => `user:${role.slice('roles/'.length).replace('.', '-')}.${project.split('/')[1]}@example.com`;
const projectBindings = (project: string) => ROLES.map((role) => ({ role, members: [grantee(role, project)] }));
const MATRIX_POLICY = { bindings: [...projectBindings(PROJECT), { role: 'roles/owner', members: [DELETED_KEY_MEMBER] }] };

/** Resources in projects/matrix made by the owner; each transport's permitted mutations get their own. */
interface Fixture {
  missingOperation: string;
  /** The done operation that created `connection`. */
  doneOperation: string;
  connection: string;
  /** Existing resources of the other collections, each with one to delete per transport. */
  link: string;
  doomedLink: Record<Transport, string>;
  accountConnector: string;
  doomedAccountConnector: Record<Transport, string>;
  insightsConfig: string;
  doomedInsightsConfig: Record<Transport, string>;
  /** Running (the server waits 10 minutes before any commit): cancelled, then deleted, by the permitted caller. */
  runningOperation: Record<Transport, string>;
  doomedConnection: Record<Transport, string>;
}

interface Row {
  method: DescMethod;
  /** The permission checked on the request field `on`; none for TestIamPermissions. */
  permission?: string;
  /** The least role that grants it: the permitted caller holds it on projects/matrix, the other caller on projects/other. */
  role: string;
  /** The request field naming the resource; a path for updates (`connection.name`). */
  on: 'name' | 'parent' | 'resource' | 'gitRepositoryLink' | 'accountConnector' | 'connection' | 'connection.name' | 'accountConnector.name' | 'insightsConfig.name';
  /** The request, proto3 JSON. */
  request(f: Fixture, transport: Transport): JsonObject;
  /** Its REST form; none for gRPC-only methods. */
  rest?(request: JsonObject): RestRequest;
  permitted(f: Fixture, transport: Transport): Expected;
}


/** A request field by its path (`connection.name`). */
function field(request: JsonObject, path: string): string {
  let value: unknown = request;
  for (const key of path.split('.')) value = (value as JsonObject | undefined)?.[key];
  return String(value);
}

const METHODS_OF: Record<string, DescService> = { insightsConfigs: InsightsConfigService };
const capital = (s: string) => s[0]!.toUpperCase() + s.slice(1);

/** The matrix rows of a resource's standard methods: create, get, list, delete, and update when given. */
function standardRows(r: {
  plural: string;
  idField: string;
  resourceField: 'gitRepositoryLink' | 'accountConnector' | 'insightsConfig';
  body: JsonObject;
  viewer: string;
  admin: string;
  parent(f: Fixture): string;
  existing(f: Fixture): string;
  doomed(f: Fixture): Record<Transport, string>;
  update?: DescMethod;
}): Row[] {
  const service = METHODS_OF[r.plural] ?? DeveloperConnect;
  const singular = capital(r.resourceField);
  const method = (name: string) => service.methods.find((m) => m.name === name)!;
  const permission = (verb: string) => `developerconnect.${r.plural}.${verb}`;
  const rows: Row[] = [
    { method: method(`Create${singular}`), permission: permission('create'), role: r.admin, on: 'parent',
      request: (f, t) => ({ parent: r.parent(f), [r.idField]: `created-${t}`, [r.resourceField]: r.body }),
      rest: (q) => ({ verb: 'POST', path: `/v1/${String(q.parent)}/${r.plural}?${r.idField}=${String(q[r.idField])}`, body: r.body }),
      permitted: (f, t) => operationOf('create', `${r.parent(f)}/${r.plural}/created-${t}`) },
    { method: method(`Get${singular}`), permission: permission('get'), role: r.viewer, on: 'name',
      request: (f) => ({ name: r.existing(f) }),
      rest: (q) => ({ verb: 'GET', path: `/v1/${String(q.name)}` }),
      permitted: (f) => ok((body) => assert.equal(body.name, r.existing(f))) },
    { method: method(`List${singular}s`), permission: permission('list'), role: r.viewer, on: 'parent',
      request: (f) => ({ parent: r.parent(f) }),
      rest: (q) => ({ verb: 'GET', path: `/v1/${String(q.parent)}/${r.plural}` }),
      permitted: (f) => ok((body) => assert.ok(names(body[r.plural]).includes(r.existing(f)), JSON.stringify(body))) },
    { method: method(`Delete${singular}`), permission: permission('delete'), role: r.admin, on: 'name',
      request: (f, t) => ({ name: r.doomed(f)[t] }),
      rest: (q) => ({ verb: 'DELETE', path: `/v1/${String(q.name)}` }),
      permitted: (f, t) => operationOf('delete', r.doomed(f)[t]) },
  ];
  const update = r.update;
  if (update) {
    rows.push({ method: update, permission: permission('update'), role: r.admin, on: `${r.resourceField as 'accountConnector' | 'insightsConfig'}.name`,
      request: (f) => ({ [r.resourceField]: { ...r.body, name: r.existing(f), labels: { env: 'prod' } } }),
      rest: (q) => ({ verb: 'PATCH', path: `/v1/${field(q, `${r.resourceField}.name`)}`, body: q[r.resourceField] as JsonObject }),
      permitted: (f) => operationOf('update', r.existing(f)) });
  }
  return rows;
}

function oauthRows(): Row[] {
  const method = (name: string) => DeveloperConnect.methods.find((m) => m.name === name)!;
  const noUser = (f: Fixture): Expected => ({
    error: { code: Code.NOT_FOUND, message: new RegExp(`has no User under '${f.accountConnector}'`), reason: 'RESOURCE_NOT_FOUND', domain: 'developerconnect.googleapis.com' },
  });
  const users = (f: Fixture) => `${f.accountConnector}/users`;
  return [
    { method: method('ListUsers'), permission: 'developerconnect.users.list', role: OAUTH_ADMIN, on: 'parent',
      request: (f) => ({ parent: f.accountConnector }),
      rest: (q) => ({ verb: 'GET', path: `/v1/${String(q.parent)}/users` }),
      permitted: () => ok((body) => assert.deepEqual(body, {})) },
    { method: method('DeleteUser'), permission: 'developerconnect.users.delete', role: OAUTH_ADMIN, on: 'name',
      request: (f) => ({ name: `${users(f)}/nobody` }),
      rest: (q) => ({ verb: 'DELETE', path: `/v1/${String(q.name)}` }),
      permitted: (f) => notFound(`${users(f)}/nobody`) },
    { method: method('StartOAuth'), permission: 'developerconnect.users.startOAuth', role: OAUTH_ADMIN, on: 'accountConnector',
      request: (f) => ({ accountConnector: f.accountConnector }),
      rest: (q) => ({ verb: 'GET', path: `/v1/${String(q.accountConnector)}/users:startOAuthFlow` }),
      permitted: () => ok((body) => assert.deepEqual([body.codeChallengeMethod, typeof body.ticket], ['S256', 'string'])) },
    { method: method('FinishOAuth'), permission: 'developerconnect.users.finishOAuth', role: OAUTH_ADMIN, on: 'accountConnector',
      request: (f) => ({ accountConnector: f.accountConnector, oauthParams: { code: 'made-up', ticket: 'made-up' } }),
      rest: (q) => ({ verb: 'GET', path: `/v1/${String(q.accountConnector)}/users:finishOAuthFlow?oauthParams.code=made-up&oauthParams.ticket=made-up` }),
      permitted: () => ok((body) => assert.equal((body.exchangeError as JsonObject).code, 'invalid_request')) },
    { method: method('FetchAccessToken'), permission: 'developerconnect.users.fetchAccessToken', role: OAUTH_USER, on: 'accountConnector',
      request: (f) => ({ accountConnector: f.accountConnector }),
      rest: (q) => ({ verb: 'POST', path: `/v1/${String(q.accountConnector)}/users:fetchAccessToken`, body: {} }),
      permitted: (f) => noUser(f) },
    { method: method('FetchSelf'), permission: 'developerconnect.users.getSelf', role: OAUTH_USER, on: 'name',
      request: (f) => ({ name: f.accountConnector }),
      rest: (q) => ({ verb: 'GET', path: `/v1/${String(q.name)}/users:fetchSelf` }),
      permitted: (f) => noUser(f) },
    { method: method('DeleteSelf'), permission: 'developerconnect.users.deleteSelf', role: OAUTH_ADMIN, on: 'name',
      request: (f) => ({ name: f.accountConnector }),
      rest: (q) => ({ verb: 'DELETE', path: `/v1/${String(q.name)}/users:deleteSelf` }),
      permitted: (f) => noUser(f) },
  ];
}

const emptyResponse = ok((body) => assert.deepEqual(body, {}));
const operationOf = (verb: string, target: string) =>
  ok((body) => assert.deepEqual([body.done ?? false, (body.metadata as JsonObject).verb, (body.metadata as JsonObject).target], [false, verb, target]));

const ROWS: Row[] = [
  { method: Operations.method.getOperation, permission: 'developerconnect.operations.get', role: VIEWER, on: 'name',
    request: (f) => ({ name: f.missingOperation }),
    rest: (r) => ({ verb: 'GET', path: `/v1/${r.name}` }),
    // Permitted, the caller may learn that it does not exist; refused, it may not.
    permitted: (f) => notFound(f.missingOperation) },
  { method: Operations.method.listOperations, permission: 'developerconnect.operations.list', role: VIEWER, on: 'name',
    request: () => ({ name: LOCATION, pageSize: 100 }),
    rest: (r) => ({ verb: 'GET', path: `/v1/${r.name}/operations?pageSize=100` }),
    permitted: (f) => ok((body) => assert.ok(names(body.operations).includes(f.doneOperation))) },
  { method: Operations.method.cancelOperation, permission: 'developerconnect.operations.cancel', role: ADMIN, on: 'name',
    request: (f, t) => ({ name: f.runningOperation[t] }),
    rest: (r) => ({ verb: 'POST', path: `/v1/${r.name}:cancel`, body: {} }),
    permitted: () => emptyResponse },
  { method: Operations.method.deleteOperation, permission: 'developerconnect.operations.delete', role: ADMIN, on: 'name',
    request: (f, t) => ({ name: f.runningOperation[t] }),
    rest: (r) => ({ verb: 'DELETE', path: `/v1/${r.name}` }),
    permitted: () => emptyResponse },
  { method: Operations.method.waitOperation, permission: 'developerconnect.operations.get', role: VIEWER, on: 'name',
    request: (f) => ({ name: f.doneOperation, timeout: '5s' }),
    permitted: (f) => ok((body) => assert.deepEqual([body.name, body.done], [f.doneOperation, true])) },
  { method: Locations.method.getLocation, permission: 'developerconnect.locations.get', role: VIEWER, on: 'name',
    request: () => ({ name: LOCATION }),
    rest: (r) => ({ verb: 'GET', path: `/v1/${r.name}` }),
    permitted: () => ok((body) => assert.deepEqual([body.name, body.locationId], [LOCATION, 'us-central1'])) },
  { method: Locations.method.listLocations, permission: 'developerconnect.locations.list', role: VIEWER, on: 'name',
    request: () => ({ name: PROJECT }),
    rest: (r) => ({ verb: 'GET', path: `/v1/${r.name}/locations` }),
    permitted: () => ok((body) => assert.ok(names(body.locations).includes(LOCATION))) },
  { method: DeveloperConnect.method.createConnection, permission: 'developerconnect.connections.create', role: ADMIN, on: 'parent',
    request: (_f, t) => ({ parent: LOCATION, connectionId: `created-${t}`, connection: GITHUB }),
    rest: (r) => ({ verb: 'POST', path: `/v1/${r.parent}/connections?connectionId=${r.connectionId}`, body: GITHUB }),
    permitted: (_f, t) => operationOf('create', `${LOCATION}/connections/created-${t}`) },
  { method: DeveloperConnect.method.getConnection, permission: 'developerconnect.connections.get', role: VIEWER, on: 'name',
    request: (f) => ({ name: f.connection }),
    rest: (r) => ({ verb: 'GET', path: `/v1/${r.name}` }),
    permitted: (f) => ok((body) => assert.equal(body.name, f.connection)) },
  { method: DeveloperConnect.method.listConnections, permission: 'developerconnect.connections.list', role: VIEWER, on: 'parent',
    request: () => ({ parent: LOCATION }),
    rest: (r) => ({ verb: 'GET', path: `/v1/${r.parent}/connections` }),
    permitted: (f) => ok((body) => assert.ok(names(body.connections).includes(f.connection))) },
  { method: DeveloperConnect.method.deleteConnection, permission: 'developerconnect.connections.delete', role: ADMIN, on: 'name',
    request: (f, t) => ({ name: f.doomedConnection[t] }),
    rest: (r) => ({ verb: 'DELETE', path: `/v1/${r.name}` }),
    permitted: (f, t) => operationOf('delete', f.doomedConnection[t]) },
  { method: DeveloperConnect.method.updateConnection, permission: 'developerconnect.connections.update', role: ADMIN, on: 'connection.name',
    request: (f) => ({ connection: { name: f.connection, labels: { env: 'prod' } }, updateMask: 'labels' }),
    rest: (r) => ({ verb: 'PATCH', path: `/v1/${field(r, 'connection.name')}?updateMask=labels`, body: r.connection as JsonObject }),
    permitted: (f) => operationOf('update', f.connection) },
  ...standardRows({
    plural: 'gitRepositoryLinks', idField: 'gitRepositoryLinkId', resourceField: 'gitRepositoryLink', body: LINK, viewer: VIEWER, admin: ADMIN,
    parent: (f) => f.connection, existing: (f) => f.link, doomed: (f) => f.doomedLink,
  }),
  ...standardRows({
    plural: 'accountConnectors', idField: 'accountConnectorId', resourceField: 'accountConnector', body: CONNECTOR, viewer: OAUTH_USER, admin: OAUTH_ADMIN,
    parent: () => LOCATION, existing: (f) => f.accountConnector, doomed: (f) => f.doomedAccountConnector, update: DeveloperConnect.method.updateAccountConnector,
  }),
  ...standardRows({
    plural: 'insightsConfigs', idField: 'insightsConfigId', resourceField: 'insightsConfig', body: INSIGHTS, viewer: INSIGHTS_VIEWER, admin: INSIGHTS_ADMIN,
    parent: () => LOCATION, existing: (f) => f.insightsConfig, doomed: (f) => f.doomedInsightsConfig, update: InsightsConfigService.method.updateInsightsConfig,
  }),
  ...(['FetchGitRefs', 'FetchReadToken', 'FetchReadWriteToken'] as const).map((name): Row => ({
    method: DeveloperConnect.methods.find((m) => m.name === name)!,
    permission: `developerconnect.gitRepositoryLinks.${name[0]!.toLowerCase()}${name.slice(1)}`,
    role: name === 'FetchGitRefs' ? 'roles/viewer' : 'roles/owner',
    on: 'gitRepositoryLink',
    request: (f): JsonObject => (name === 'FetchGitRefs' ? { gitRepositoryLink: f.link, refType: 'BRANCH' } : { gitRepositoryLink: f.link }),
    rest: (q) =>
      name === 'FetchGitRefs'
        ? { verb: 'GET', path: `/v1/${String(q.gitRepositoryLink)}:fetchGitRefs?refType=BRANCH` }
        : { verb: 'POST', path: `/v1/${String(q.gitRepositoryLink)}:${name[0]!.toLowerCase()}${name.slice(1)}`, body: {} },
    // The fixture's link is on github.com, which the server does not call: the method's own answer.
    permitted: () => ({
      error: { code: Code.FAILED_PRECONDITION, message: /github\.com, which devconnect-emulator does not call/, reason: 'HOST_NOT_REACHABLE', domain: 'developerconnect.googleapis.com' },
    }),
  })),
  // Users and the OAuth flow of the existing connector; nobody has connected an account to it, so the caller has no User.
  ...oauthRows(),
  ...(['FetchLinkableGitRepositories', 'FetchGitHubInstallations'] as const).map((name): Row => ({
    method: DeveloperConnect.methods.find((m) => m.name === name)!,
    permission: `developerconnect.connections.${name[0]!.toLowerCase()}${name.slice(1)}`,
    role: 'roles/viewer',
    on: 'connection',
    request: (f) => ({ connection: f.connection }),
    rest: (q) => ({ verb: 'GET', path: `/v1/${String(q.connection)}:${name[0]!.toLowerCase()}${name.slice(1)}` }),
    // The fixture's connection is to github.com, whose API the server does not call: the method's own answer.
    permitted: () => ({
      error: { code: Code.FAILED_PRECONDITION, message: /github\.com, which devconnect-emulator does not call/, reason: 'PROVIDER_API_NOT_EMULATED', domain: 'developerconnect.googleapis.com' },
    }),
  })),
  { method: InsightsConfigService.method.listDeploymentEvents, permission: 'developerconnect.deploymentEvents.list', role: INSIGHTS_VIEWER, on: 'parent',
    request: (f) => ({ parent: f.insightsConfig }),
    rest: (q) => ({ verb: 'GET', path: `/v1/${String(q.parent)}/deploymentEvents` }),
    permitted: () => ok((body) => assert.deepEqual(body, {})) },
  { method: InsightsConfigService.method.getDeploymentEvent, permission: 'developerconnect.deploymentEvents.get', role: INSIGHTS_VIEWER, on: 'name',
    request: (f) => ({ name: `${f.insightsConfig}/deploymentEvents/none` }),
    rest: (q) => ({ verb: 'GET', path: `/v1/${String(q.name)}` }),
    permitted: (f) => notFound(`${f.insightsConfig}/deploymentEvents/none`) },
  { method: IAMPolicy.method.getIamPolicy, permission: 'resourcemanager.projects.getIamPolicy', role: 'roles/viewer', on: 'resource',
    request: () => ({ resource: PROJECT }),
    rest: (r) => ({ verb: 'POST', path: `/v1/${r.resource}:getIamPolicy`, body: {} }),
    permitted: () => ok((body) => assert.ok((body.bindings as JsonObject[]).some((b) => b.role === VIEWER))) },
  { method: IAMPolicy.method.setIamPolicy, permission: 'resourcemanager.projects.setIamPolicy', role: 'roles/owner', on: 'resource',
    request: () => ({ resource: PROJECT, policy: { bindings: [...MATRIX_POLICY.bindings, ADDED_BINDING] } }),
    rest: (r) => ({ verb: 'POST', path: `/v1/${r.resource}:setIamPolicy`, body: { policy: r.policy! } }),
    permitted: () => ok((body) => assert.ok(JSON.stringify(body.bindings).includes(ADDED_BINDING.members[0]!))) },
  // Resource Manager: "There are no permissions required for making this API call": it answers what the caller holds.
  { method: IAMPolicy.method.testIamPermissions, role: VIEWER, on: 'resource',
    request: () => ({ resource: PROJECT, permissions: ['developerconnect.connections.get', 'developerconnect.connections.create'] }),
    rest: (r) => ({ verb: 'POST', path: `/v1/${r.resource}:testIamPermissions`, body: { permissions: r.permissions! } }),
    permitted: () => ok((body) => assert.deepEqual(body, { permissions: ['developerconnect.connections.get'] })) },
];

interface Tokens {
  expired: string;
  wrongSignature: string;
  deletedKey: string;
  withoutScope: string;
  byMember: Map<string, string>;
}

/** A refused credential and what every method answers it; the last two are authenticated but hold nothing on projects/matrix. */
const DENIED: { name: string; token(tokens: Tokens, row: Row): string | undefined; expected(row: Row, request: JsonObject): Expected }[] = [
  { name: 'no token', token: () => undefined, expected: () => unauthenticated('CREDENTIALS_MISSING', /^Request is missing required authentication credential\. /) },
  { name: 'malformed token', token: () => 'not-a-jwt', expected: () => unauthenticated('ACCESS_TOKEN_INVALID', /^Request had invalid authentication credentials: the token is not a well-formed JWT/) },
  { name: 'expired token', token: (t) => t.expired, expected: () => unauthenticated('ACCESS_TOKEN_EXPIRED', /: the access token expired at /) },
  { name: "JWT signed by another key under the server's kid and iss", token: (t) => t.wrongSignature,
    expected: () => unauthenticated('ACCESS_TOKEN_INVALID', /: the signature of the access token does not verify\.$/) },
  { name: 'self-signed JWT of a deleted service-account key', token: (t) => t.deletedKey,
    expected: () => unauthenticated('ACCESS_TOKEN_INVALID', /: service-account key [0-9a-f]{40} of deleted-key@matrix\.iam\.gserviceaccount\.com was deleted at /) },
  { name: "the owner's token without the cloud-platform scope", token: (t) => t.withoutScope, expected: (row) => scopeInsufficient(row.method) },
  { name: 'a principal with no permission', token: (t) => t.byMember.get('user:nobody@example.com'), expected: refusedByIam },
  { name: 'a principal with the permission on another project only', token: (t, row) => t.byMember.get(grantee(row.role, OTHER_PROJECT)), expected: refusedByIam },
];

function refusedByIam(row: Row, request: JsonObject): Expected {
  return row.permission === undefined ? ok((body) => assert.deepEqual(body, {}, 'holds none of the permissions')) : iamDenied(row.permission, field(request, row.on));
}

describe('authentication and IAM of every method, REST and gRPC', () => {
  let server: TestServer;
  let client: grpc.Client;
  let dataDir: string;
  let fixture: Fixture;
  let tokens: Tokens;
  let stateBefore: unknown;

  const owner = () => bearer(tokens.byMember.get(OWNER));
  const call = (transport: Transport, row: Row, request: JsonObject, authorization: string | undefined) =>
    transport === 'rest' ? restCall(server.url, row.rest!(request), authorization) : grpcCall(client, row.method, request, authorization);
  async function asOwner(request: RestRequest): Promise<JsonObject> {
    const outcome = await restCall(server.url, request, owner());
    assert.equal(outcome.http, 200, JSON.stringify(outcome.body));
    return outcome.body;
  }
  const createConnection = (id: string) => asOwner({ verb: 'POST', path: `/v1/${LOCATION}/connections?connectionId=${id}`, body: GITHUB });
  /** What the store holds that a refused call could have changed. */
  const storedState = async () => ({
    operations: await asOwner({ verb: 'GET', path: `/v1/${LOCATION}/operations?pageSize=1000` }),
    connections: await asOwner({ verb: 'GET', path: `/v1/${LOCATION}/connections?pageSize=1000` }),
    policy: await asOwner({ verb: 'POST', path: `/v1/${PROJECT}:getIamPolicy`, body: {} }),
    links: await asOwner({ verb: 'GET', path: `/v1/${LOCATION}/connections/existing/gitRepositoryLinks?pageSize=1000` }),
    accountConnectors: await asOwner({ verb: 'GET', path: `/v1/${LOCATION}/accountConnectors?pageSize=1000` }),
    insightsConfigs: await asOwner({ verb: 'GET', path: `/v1/${LOCATION}/insightsConfigs?pageSize=1000` }),
  });
  const seed = (collection: string, idField: string, id: string, body: JsonObject) =>
    asOwner({ verb: 'POST', path: `/v1/${collection}?${idField}=${id}`, body });

  before(async () => {
    const known = await dataDirWithKnownSigningKey();
    dataDir = known.dataDir;
    const ownerToken = await issueToken({ dataDir, principal: OWNER });
    tokens = { byMember: new Map([[OWNER, ownerToken]]) } as Tokens;

    // First start, with no operation delay: the connections the matrix reads and deletes.
    server = await startTestServer({ auth: 'jwt', owner: OWNER, dataDir });
    const done = await createConnection('existing');
    const doomed = { rest: `${LOCATION}/connections/doomed-rest`, grpc: `${LOCATION}/connections/doomed-grpc` };
    const seeding = [done, await createConnection('doomed-rest'), await createConnection('doomed-grpc')];
    const links = `${LOCATION}/connections/existing/gitRepositoryLinks`;
    for (const id of ['existing', 'doomed-rest', 'doomed-grpc']) {
      seeding.push(await seed(links, 'gitRepositoryLinkId', id, LINK));
      seeding.push(await seed(`${LOCATION}/accountConnectors`, 'accountConnectorId', id, CONNECTOR));
      seeding.push(await seed(`${LOCATION}/insightsConfigs`, 'insightsConfigId', id, INSIGHTS));
    }
    const pair = (collection: string) => ({ rest: `${collection}/doomed-rest`, grpc: `${collection}/doomed-grpc` });
    for (const operation of seeding) {
      for (let i = 0; (await asOwner({ verb: 'GET', path: `/v1/${operation.name}` })).done !== true; i++) {
        assert.ok(i < 500, `${operation.name} is not done`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    await server.stop();

    // Then the server of the matrix, on the same data directory: its operations stay running for 10 minutes, and
    // so does the insights configs' discovery, which would otherwise change them while the matrix runs.
    server = await startTestServer({ auth: 'jwt', owner: OWNER, dataDir, operationDelayMs: 600_000, insightsDiscoveryDelayMs: 600_000 });
    client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    fixture = {
      missingOperation: `${LOCATION}/operations/operation-1-00`,
      doneOperation: String(done.name),
      connection: `${LOCATION}/connections/existing`,
      link: `${links}/existing`,
      doomedLink: pair(links),
      accountConnector: `${LOCATION}/accountConnectors/existing`,
      doomedAccountConnector: pair(`${LOCATION}/accountConnectors`),
      insightsConfig: `${LOCATION}/insightsConfigs/existing`,
      doomedInsightsConfig: pair(`${LOCATION}/insightsConfigs`),
      runningOperation: { rest: String((await createConnection('running-rest')).name), grpc: String((await createConnection('running-grpc')).name) },
      doomedConnection: doomed,
    };
    await asOwner({ verb: 'POST', path: `/v1/${PROJECT}:setIamPolicy`, body: { policy: MATRIX_POLICY } });
    await asOwner({ verb: 'POST', path: `/v1/${OTHER_PROJECT}:setIamPolicy`, body: { policy: { bindings: projectBindings(OTHER_PROJECT) } } });
    for (const member of ['user:nobody@example.com', ...[PROJECT, OTHER_PROJECT].flatMap((p) => ROLES.map((role) => grantee(role, p)))]) {
      tokens.byMember.set(member, await issueToken({ dataDir, principal: member }));
    }
    const { keyFile } = await createServiceAccountKey(server.store, DELETED_KEY_ACCOUNT);
    tokens.deletedKey = await selfSignedJwt(keyFile);
    assert.ok(await server.store.deleteServiceAccountKey(keyFile.private_key_id, new Date()));
    tokens.expired = await serverLikeToken(known.signingKeyPem, known.kid, OWNER, EXPIRED);
    tokens.wrongSignature = await serverLikeToken(newRsaPrivateKeyPem(), known.kid, OWNER);
    tokens.withoutScope = await issueToken({ dataDir, principal: OWNER, scopes: ['https://www.googleapis.com/auth/userinfo.email'] });
    stateBefore = await storedState();
  });
  after(async () => {
    client?.close();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const cells = (['rest', 'grpc'] as const).flatMap((transport) => ROWS.filter((row) => transport === 'grpc' || row.rest).map((row) => ({ transport, row })));

  for (const { transport, row } of cells) {
    test(`${transport} ${row.method.name}: refused credentials and callers without the permission`, async (t) => {
      const request = row.request(fixture, transport);
      for (const credential of DENIED) {
        await t.test(credential.name, async () => {
          const outcome = await call(transport, row, request, bearer(credential.token(tokens, row)));
          assertOutcome(outcome, credential.expected(row, request), transport);
        });
      }
    });
  }

  test('the refused calls changed nothing in the store', async () => {
    assert.deepEqual(await storedState(), stateBefore);
  });

  for (const { transport, row } of cells) {
    test(`${transport} ${row.method.name}: the caller with ${row.role} on the project gets the method's answer`, async () => {
      const request = row.request(fixture, transport);
      const outcome = await call(transport, row, request, bearer(tokens.byMember.get(grantee(row.role, PROJECT))));
      assertOutcome(outcome, row.permitted(fixture, transport), transport);
    });
  }
});
