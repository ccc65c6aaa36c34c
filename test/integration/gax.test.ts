import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import gax from 'google-gax';
import { developerConnectClients, waitOperationCall, type DeveloperConnectClients, type Transport } from '../support/gax-clients.js';
import { startTestServer, type TestServer } from '../support/server.js';

// What a user of the generated Developer Connect client sees, over gRPC and over the REST fallback.

interface Timestamp {
  seconds: number | string | { toString(): string };
  nanos: number;
}
interface Connection {
  name: string;
  uid: string;
  etag: string;
  labels: Record<string, string>;
  createTime?: Timestamp | null;
}
interface OperationMetadata {
  verb: string;
  target: string;
  apiVersion: string;
  requestedCancellation: boolean;
  endTime?: Timestamp | null;
}
interface RawOperation {
  name: string;
  done: boolean;
  error?: { code: number; message: string } | null;
  metadata?: { type_url: string; value: Uint8Array } | null;
  response?: { type_url: string; value: Uint8Array } | null;
}
type GetOperationRequest = Parameters<gax.OperationsClient['getOperation']>[0];
type ListOperationsRequest = Parameters<gax.OperationsClient['listOperations']>[0];
type ListPage = [RawOperation[], { pageToken?: string } | null, { nextPageToken?: string }];

/** An error as the client surfaces it: its gRPC code, HTTP status and google.rpc.Status name, and ErrorInfo reason. */
interface ExpectedError {
  code: gax.Status;
  http: number;
  status: string;
  reason?: string;
}

const parentOf = (project: string): string => `projects/${project}/locations/us-central1`;
const GITHUB = { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const secondsOf = (t: Timestamp | null | undefined): number => Number(String(t?.seconds ?? 0));

async function startCreate(clients: DeveloperConnectClients, project: string, connectionId: string): Promise<gax.Operation> {
  const operation = await clients.call('createConnection', { parent: parentOf(project), connectionId, connection: GITHUB });
  assert.ok(operation instanceof gax.Operation, 'an LRO method resolves with a gax Operation');
  return operation;
}

async function getOperation(clients: DeveloperConnectClients, name: string): Promise<RawOperation> {
  const [operation] = await clients.operationsClient.getOperation({ name } as GetOperationRequest);
  return operation as RawOperation;
}

async function listPage(clients: DeveloperConnectClients, name: string, pageToken?: string): Promise<ListPage> {
  const request = { name, pageSize: 2, pageToken } as ListOperationsRequest;
  return (await clients.operationsClient.listOperations(request, { autoPaginate: false })) as unknown as ListPage;
}

/** Decodes an operation's metadata Any with the official OperationMetadata type, as the LRO descriptor does. */
function metadataOf(clients: DeveloperConnectClients, operation: RawOperation): OperationMetadata {
  const metadata = operation.metadata;
  assert.ok(metadata, 'the operation carries metadata');
  assert.equal(metadata.type_url, 'type.googleapis.com/google.cloud.developerconnect.v1.OperationMetadata');
  const type = clients.protos.lookupType('google.cloud.developerconnect.v1.OperationMetadata');
  return type.decode(metadata.value) as unknown as OperationMetadata;
}

/**
 * gRPC errors arrive as gax errors with the gRPC code and the ErrorInfo decoded from grpc-status-details-bin.
 * google-gax 5.0.x hands REST errors through as the GaxiosError of the HTTP call: `code` is the HTTP status
 * and the message is the AIP-193 JSON body, so that body is what is checked there.
 */
async function assertRpcError(transport: Transport, call: Promise<unknown>, expected: ExpectedError, resource?: string): Promise<void> {
  const error: unknown = await call.then(
    () => assert.fail(`expected ${expected.status}, but the call succeeded`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof Error, `expected an Error, got ${String(error)}`);
  const e = error as Error & { code?: unknown; reason?: string; errorInfoMetadata?: Record<string, string> };
  if (transport === 'grpc') {
    assert.equal(e.code, expected.code, e.message);
    assert.equal(e.reason, expected.reason, e.message);
    if (resource) assert.equal(e.errorInfoMetadata?.resource, resource);
    return;
  }
  assert.equal(e.code, expected.http, e.message);
  const body = JSON.parse(e.message) as { error: { code: number; status: string; details: Array<Record<string, unknown>> } };
  assert.equal(body.error.code, expected.http);
  assert.equal(body.error.status, expected.status);
  const info = body.error.details.find((d) => d['@type'] === 'type.googleapis.com/google.rpc.ErrorInfo');
  assert.equal(info?.reason, expected.reason, e.message);
  if (resource) assert.deepEqual(info?.metadata, { resource });
}

const NOT_FOUND: ExpectedError = { code: gax.Status.NOT_FOUND, http: 404, status: 'NOT_FOUND', reason: 'RESOURCE_NOT_FOUND' };

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let fast: TestServer;
let medium: TestServer;
let slow: TestServer;
before(async () => {
  [fast, medium, slow] = await Promise.all([
    startTestServer(),
    startTestServer({ operationDelayMs: 300 }),
    startTestServer({ operationDelayMs: 5_000 }),
  ]);
});
after(async () => {
  await Promise.all([fast, medium, slow].map((server) => server?.stop()));
});

for (const transport of ['grpc', 'rest'] as const) {
  describe(`google-gax DeveloperConnect client over ${transport}`, () => {
    let onFast: DeveloperConnectClients;
    let onMedium: DeveloperConnectClients;
    let onSlow: DeveloperConnectClients;
    before(async () => {
      [onFast, onMedium, onSlow] = await Promise.all([
        developerConnectClients(transport, fast.port),
        developerConnectClients(transport, medium.port),
        developerConnectClients(transport, slow.port),
      ]);
    });
    after(async () => {
      await Promise.all([onFast, onMedium, onSlow].map((clients) => clients?.close()));
    });

    test('CreateConnection is an LRO: promise() resolves with the Connection and decoded OperationMetadata', async () => {
      const parent = parentOf(`${transport}-create`);
      const operation = await startCreate(onFast, `${transport}-create`, 'github');
      assert.match(operation.name ?? '', new RegExp(`^${parent}/operations/operation-\\d+-[0-9a-f]+$`));
      const [connection, metadata, raw] = (await operation.promise()) as [Connection, OperationMetadata, RawOperation];

      assert.equal(connection.name, `${parent}/connections/github`);
      assert.match(connection.uid, UUID);
      assert.ok(Math.abs(secondsOf(connection.createTime) - Date.now() / 1000) < 60, 'createTime is set to now');
      assert.equal(metadata.verb, 'create');
      assert.equal(metadata.target, connection.name);
      assert.equal(metadata.apiVersion, 'v1');
      assert.ok(secondsOf(metadata.endTime) > 0, 'endTime is set on a finished operation');
      assert.equal(raw.name, operation.name);
      assert.equal(raw.done, true);

      const stored = (await onFast.call('getConnection', { name: connection.name })) as Connection;
      assert.equal(stored.uid, connection.uid);
    });

    test('cancel() before the commit: the operation ends CANCELLED and no Connection exists', async () => {
      const project = `${transport}-cancel`;
      const operation = await startCreate(onSlow, project, 'cancelled');
      const started = Date.now();
      await operation.cancel();
      await assert.rejects(operation.promise(), (error: Error & { code?: number }) => {
        assert.equal(error.code, gax.Status.CANCELLED, error.message);
        return true;
      });
      assert.ok(Date.now() - started < 4_000, 'the cancelled operation finished before its 5 s of work');

      const raw = await getOperation(onSlow, operation.name ?? '');
      assert.equal(raw.done, true);
      assert.equal(raw.error?.code, gax.Status.CANCELLED);
      assert.equal(raw.response ?? undefined, undefined);
      assert.equal(metadataOf(onSlow, raw).requestedCancellation, true);
      const name = `${parentOf(project)}/connections/cancelled`;
      await assertRpcError(transport, onSlow.call('getConnection', { name }), NOT_FOUND, name);
    });

    test('GetOperation: unknown name is NOT_FOUND with ErrorInfo; a malformed name is refused', async () => {
      const unknown = `${parentOf(`${transport}-errors`)}/operations/operation-0-missing`;
      await assertRpcError(transport, getOperation(onFast, unknown), NOT_FOUND, unknown);

      const malformed = getOperation(onFast, 'projects/x/operations/y');
      if (transport === 'grpc') {
        const invalid = { code: gax.Status.INVALID_ARGUMENT, http: 400, status: 'INVALID_ARGUMENT', reason: 'INVALID_ARGUMENT' };
        await assertRpcError(transport, malformed, invalid);
      } else {
        // The REST fallback cannot fit the name into GET /v1/{name=projects/*/locations/*/operations/*}: it fails
        // in the client, and no request reaches the server.
        await assert.rejects(malformed, /Cannot build HTTP request/);
      }
    });

    test('ListOperations pages through every operation, newest first, two at a time', async () => {
      const project = `${transport}-list`;
      const created: string[] = [];
      for (let i = 0; i < 5; i++) created.push((await startCreate(onFast, project, `list-${i}`)).name ?? '');

      const seen: string[] = [];
      let pageToken: string | undefined;
      let pages = 0;
      do {
        const [operations, next, raw] = await listPage(onFast, parentOf(project), pageToken);
        pages++;
        assert.ok(operations.length <= 2, `page ${pages} has ${operations.length} operations`);
        seen.push(...operations.map((o) => o.name));
        pageToken = next?.pageToken;
        assert.equal(pageToken ?? '', raw.nextPageToken ?? '');
      } while (pageToken && pages < 10);
      assert.equal(pages, 3);
      assert.deepEqual(seen, [...created].reverse());

      // gax's own paging (what listOperationsAsync users get) agrees.
      const iterated: string[] = [];
      const request = { name: parentOf(project), pageSize: 2 } as ListOperationsRequest;
      for await (const operation of onFast.operationsClient.listOperationsAsync(request, { autoPaginate: false })) iterated.push(operation.name ?? '');
      assert.deepEqual(iterated, seen);
    });

    test('DeleteOperation removes the record; the work still completes', async () => {
      const project = `${transport}-delete`;
      const operation = await startCreate(onMedium, project, 'outlives');
      const name = operation.name ?? '';
      await onMedium.operationsClient.deleteOperation({ name } as Parameters<gax.OperationsClient['deleteOperation']>[0]);
      await assertRpcError(transport, getOperation(onMedium, name), NOT_FOUND, name);

      const connectionName = `${parentOf(project)}/connections/outlives`;
      let connection: Connection | undefined;
      for (let i = 0; i < 50 && !connection; i++) {
        connection = (await onMedium.call('getConnection', { name: connectionName }).catch(() => undefined)) as Connection | undefined;
        if (!connection) await delay(100);
      }
      assert.equal(connection?.name, connectionName, 'the Connection appears after the deleted operation ran');
    });

    if (transport === 'grpc') {
      test('WaitOperation returns when the operation is done, or with it not done at the timeout', async () => {
        const { wait, close } = await waitOperationCall(medium.port);
        const waitOnSlow = await waitOperationCall(slow.port);
        try {
          const quick = await startCreate(onMedium, 'grpc-wait', 'quick');
          assert.equal((await getOperation(onMedium, quick.name ?? '')).done, false, 'still running before the wait');
          let started = Date.now();
          const done = (await wait({ name: quick.name, timeout: { seconds: 30 } })) as RawOperation;
          assert.equal(done.done, true);
          assert.equal(done.response?.type_url, 'type.googleapis.com/google.cloud.developerconnect.v1.Connection');
          assert.ok(Date.now() - started < 5_000, 'returned when the 300 ms of work ended, not at the 30 s timeout');

          const long = await startCreate(onSlow, 'grpc-wait', 'long');
          started = Date.now();
          const running = (await waitOnSlow.wait({ name: long.name, timeout: { nanos: 200_000_000 } })) as RawOperation;
          const elapsed = Date.now() - started;
          assert.equal(running.done, false);
          assert.equal(running.name, long.name);
          assert.ok(elapsed >= 150 && elapsed < 2_000, `returned after ${elapsed} ms for a 200 ms timeout`);
        } finally {
          close();
          waitOnSlow.close();
        }
      });
    }

    test('UpdateConnection and GitRepositoryLinks through operation.promise(); ListUsers pages', async () => {
      const project = `${transport}-links`;
      const [made] = (await (await startCreate(onFast, project, 'c')).promise()) as [Connection];
      const update = (await onFast.call('updateConnection', {
        connection: { name: made.name, labels: { env: 'prod' } },
        updateMask: { paths: ['labels'] },
      })) as gax.Operation;
      const [updated] = (await update.promise()) as [Connection];
      assert.deepEqual({ ...updated.labels }, { env: 'prod' });
      assert.notEqual(updated.etag, made.etag);

      const link = { parent: made.name, gitRepositoryLinkId: 'repo', gitRepositoryLink: { cloneUri: 'https://github.com/o/r.git' } };
      const [created] = (await ((await onFast.call('createGitRepositoryLink', link)) as gax.Operation).promise()) as [{ name: string; cloneUri: string }];
      assert.equal(created.name, `${made.name}/gitRepositoryLinks/repo`);
      assert.equal(created.cloneUri, 'https://github.com/o/r.git');
      const listed = (await onFast.call('listGitRepositoryLinks', { parent: made.name })) as { gitRepositoryLinks: { name: string }[] };
      assert.deepEqual(listed.gitRepositoryLinks.map((l) => l.name), [created.name]);
      const duplicate = { code: gax.Status.ALREADY_EXISTS, http: 409, status: 'ALREADY_EXISTS', reason: 'RESOURCE_ALREADY_EXISTS' };
      await assertRpcError(transport, onFast.call('createGitRepositoryLink', link), duplicate, created.name);

      const noUsers = (await onFast.call('listUsers', { parent: `${parentOf(project)}/accountConnectors/a` })) as { users: unknown[]; nextPageToken: string };
      assert.deepEqual([noUsers.users, noUsers.nextPageToken], [[], '']);
    });
  });
}
