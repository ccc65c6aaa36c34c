import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fromBinary, toBinary, type DescMessage, type DescMethod, type DescService, type Message } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import type { MethodTable } from '../api/methods.js';
import type { Authenticator } from '../auth/principal.js';
import { StatusSchema } from '../gen/google/rpc/status_pb.js';
import { toStatus } from './status.js';

// Frozen responses are shared (cached done operations, see DoneOperations): they are encoded once.
const encoded = new WeakMap<Message, Buffer>();

function encodeBinary(schema: DescMessage, message: Message): Buffer {
  if (!Object.isFrozen(message)) return Buffer.from(toBinary(schema, message));
  let bytes = encoded.get(message);
  if (bytes === undefined) {
    bytes = Buffer.from(toBinary(schema, message));
    encoded.set(message, bytes);
  }
  return bytes;
}

/** Builds a grpc-js service definition whose (de)serializers are protobuf-es, from a service descriptor. */
function serviceDefinition(service: DescService): grpc.ServiceDefinition {
  return Object.fromEntries(
    service.methods.map((method) => [
      method.name,
      {
      path: `/${service.typeName}/${method.name}`,
      requestStream: false,
      responseStream: false,
      originalName: method.localName,
      requestSerialize: (m: Message) => Buffer.from(toBinary(method.input, m)),
      requestDeserialize: (b: Buffer) => fromBinary(method.input, b),
      responseSerialize: (m: Message) => encodeBinary(method.output, m),
      responseDeserialize: (b: Buffer) => fromBinary(method.output, b),
      },
    ]),
  );
}

function unaryHandler(method: DescMethod, methods: MethodTable, authenticator: Authenticator, log: Logger): grpc.handleUnaryCall<Message, Message> {
  return (call, callback) => {
    const controller = new AbortController();
    call.on('cancelled', () => controller.abort(new Error('call cancelled')));
    const [authorization] = call.metadata.get('authorization');
    const answer = async (): Promise<Message> => {
      const principal = await authenticator.authenticate(typeof authorization === 'string' ? authorization : undefined);
      return methods.call(method, call.request, { signal: controller.signal, principal });
    };
    answer().then(
      (response) => callback(null, response),
      (error: unknown) => {
        const status = toStatus(error, log);
        const metadata = new grpc.Metadata();
        // google-gax and other Google clients read rich error details from this trailer.
        metadata.set('grpc-status-details-bin', Buffer.from(toBinary(StatusSchema, status)));
        callback({ code: status.code, details: status.message, metadata });
      },
    );
  };
}

/** The official protos as @grpc/proto-loader reads them, for server reflection. */
function reflectionDefinition(): protoLoader.PackageDefinition {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('google-proto-files/package.json'));
  return protoLoader.loadSync(
    [
      'google/cloud/developerconnect/v1/developer_connect.proto',
      'google/longrunning/operations.proto',
      'google/cloud/location/locations.proto',
      'google/iam/v1/iam_policy.proto',
    ],
    { includeDirs: [root] },
  );
}

/** A grpc-js server with the API services, grpc.health.v1.Health and server reflection. */
export function createGrpcServer(
  services: readonly DescService[],
  methods: MethodTable,
  authenticator: Authenticator,
  log: Logger,
): { server: grpc.Server; health: HealthImplementation } {
  const server = new grpc.Server();
  for (const service of services) {
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const method of service.methods) implementation[method.name] = unaryHandler(method, methods, authenticator, log);
    server.addService(serviceDefinition(service), implementation);
  }
  const health = new HealthImplementation({ '': 'SERVING', ...Object.fromEntries(services.map((s) => [s.typeName, 'SERVING'])) });
  health.addToServer(server);
  new ReflectionService(reflectionDefinition()).addToServer(server);
  return { server, health };
}
