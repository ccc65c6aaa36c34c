import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fromBinary, toBinary, create, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ErrorInfoSchema } from '../../src/gen/google/rpc/error_details_pb.js';
import { StatusSchema } from '../../src/gen/google/rpc/status_pb.js';
import { GetOperationRequestSchema, OperationSchema } from '../../src/gen/google/longrunning/operations_pb.js';
import { startTestServer, type TestServer } from '../support/server.js';

const require = createRequire(import.meta.url);

/** A loaded service client from a .proto shipped by an npm package. */
function loadClient(protoFile: string, includeDir: string, servicePath: string[], address: string): grpc.Client {
  const definition = protoLoader.loadSync(protoFile, { includeDirs: [includeDir], enums: String });
  let node: unknown = grpc.loadPackageDefinition(definition);
  for (const part of servicePath) node = (node as Record<string, unknown>)[part];
  const Client = node as typeof grpc.Client;
  return new Client(address, grpc.credentials.createInsecure());
}

function unary<I extends DescMessage, O extends DescMessage>(
  client: grpc.Client,
  path: string,
  input: I,
  output: O,
  request: MessageShape<I>,
): Promise<MessageShape<O>> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      path,
      (m: MessageShape<I>) => Buffer.from(toBinary(input, m)),
      (b: Buffer) => fromBinary(output, b),
      request,
      (error, response) => (error ? reject(error) : resolve(response as MessageShape<O>)),
    );
  });
}

describe('gRPC on the shared port', () => {
  let server: TestServer;
  let address: string;
  before(async () => {
    server = await startTestServer();
    address = `127.0.0.1:${server.port}`;
  });
  after(() => server.stop());

  test('grpc.health.v1.Health reports SERVING', async () => {
    const root = dirname(require.resolve('grpc-health-check/package.json'));
    const client = loadClient(join(root, 'proto/health/v1/health.proto'), root, ['grpc', 'health', 'v1', 'Health'], address);
    const check = (service: string) =>
      new Promise<{ status: string }>((resolve, reject) =>
        (client as unknown as { check: (r: object, cb: (e: Error | null, r: { status: string }) => void) => void }).check(
          { service },
          (e, r) => (e ? reject(e) : resolve(r)),
        ),
      );
    assert.equal((await check('')).status, 'SERVING');
    assert.equal((await check('google.longrunning.Operations')).status, 'SERVING');
    client.close();
  });

  test('server reflection lists the API services', async () => {
    const root = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto');
    const client = loadClient(
      join(root, 'grpc/reflection/v1/reflection.proto'),
      root,
      ['grpc', 'reflection', 'v1', 'ServerReflection'],
      address,
    );
    type ReflectionResponse = { listServicesResponse?: { service: { name: string }[] } };
    const stream = (client as unknown as { ServerReflectionInfo: () => grpc.ClientDuplexStream<object, ReflectionResponse> }).ServerReflectionInfo();
    const answer = new Promise<string[]>((resolve, reject) => {
      stream.on('data', (r: ReflectionResponse) => resolve((r.listServicesResponse?.service ?? []).map((s) => s.name)));
      stream.on('error', reject);
    });
    stream.write({ listServices: '' });
    const names = await answer;
    stream.end();
    client.close();
    for (const service of ['google.longrunning.Operations', 'google.cloud.location.Locations', 'google.cloud.developerconnect.v1.DeveloperConnect']) {
      assert.ok(names.includes(service), `${service} in ${names.join(', ')}`);
    }
  });

  test('errors carry the code, the message and google.rpc.Status details', async () => {
    const client = new grpc.Client(address, grpc.credentials.createInsecure());
    const name = 'projects/p/locations/us-central1/operations/operation-1-ab';
    const error = await unary(client, '/google.longrunning.Operations/GetOperation', GetOperationRequestSchema, OperationSchema, create(GetOperationRequestSchema, { name })).then(
      () => assert.fail('expected NOT_FOUND'),
      (e: grpc.ServiceError) => e,
    );
    assert.equal(error.code, grpc.status.NOT_FOUND);
    assert.match(error.details, /was not found/);
    const [bin] = error.metadata.get('grpc-status-details-bin');
    assert.ok(Buffer.isBuffer(bin));
    const status = fromBinary(StatusSchema, bin);
    assert.equal(status.code, grpc.status.NOT_FOUND);
    const [detail] = status.details;
    assert.ok(detail);
    assert.equal(anyUnpack(detail, ErrorInfoSchema)?.reason, 'RESOURCE_NOT_FOUND');

    const malformed = await unary(client, '/google.longrunning.Operations/GetOperation', GetOperationRequestSchema, OperationSchema, create(GetOperationRequestSchema, { name: 'operations/x' })).then(
      () => assert.fail('expected INVALID_ARGUMENT'),
      (e: grpc.ServiceError) => e,
    );
    assert.equal(malformed.code, grpc.status.INVALID_ARGUMENT);
    client.close();
  });

  test('REST and gRPC answer on the same port at the same time', async () => {
    const client = new grpc.Client(address, grpc.credentials.createInsecure());
    const name = 'projects/p/locations/us-central1/operations/operation-1-cd';
    const [viaRest, viaGrpc] = await Promise.all([
      fetch(`${server.url}/v1/${name}`).then((r) => r.status),
      unary(client, '/google.longrunning.Operations/GetOperation', GetOperationRequestSchema, OperationSchema, create(GetOperationRequestSchema, { name })).then(
        () => 0,
        (e: grpc.ServiceError) => e.code,
      ),
    ]);
    assert.equal(viaRest, 404);
    assert.equal(viaGrpc, grpc.status.NOT_FOUND);
    client.close();
  });
});
