import { constants as http2, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { createRequire } from 'node:module';
import { Server as NetServer } from 'node:net';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gunzipSync, inflateSync } from 'node:zlib';
import { fromBinary, toBinary, type DescMessage, type DescMethod, type DescService, type Message } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import type { Logger } from 'pino';
import type { MethodTable } from '../api/methods.js';
import type { Authenticator } from '../auth/principal.js';
import { ApiError, Code } from '../common/errors.js';
import { StatusSchema } from '../gen/google/rpc/status_pb.js';
import type { CallObserver } from './call-observer.js';
import { LazyCallContext } from './call-context.js';
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from './connection-limits.js';
import { closeIdleSessions } from './http2-sessions.js';
import { ClientCancelled, statusOf, toStatus } from './status.js';

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

/**
 * Reads a request message. Bytes that are not one (a string that is not UTF-8, a bad wire type, a
 * truncated varint) are the client's fault, so they become the INVALID_ARGUMENT the handler
 * answers: a deserializer that throws makes grpc-js answer INTERNAL, as for a fault of ours (#11).
 */
function decodeRequest(schema: DescMessage, bytes: Buffer): Message | ApiError {
  try {
    return fromBinary(schema, bytes);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return ApiError.invalidArgument(`The request is not a valid binary ${schema.typeName}: ${explain(reason)}.`);
  }
}

/** protobuf-es's reason, said so that someone who did not write the decoder can act on it. */
function explain(reason: string): string {
  // Strings are read with a fatal UTF-8 decoder, whose own message names no field.
  if (/utf-8/i.test(reason)) return 'a string field is not valid UTF-8';
  if (reason === 'premature EOF') return 'it ends inside a field (a varint, a length or a value runs past its last byte)';
  return reason;
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
      requestDeserialize: (b: Buffer) => decodeRequest(method.input, b),
      responseSerialize: (m: Message) => encodeBinary(method.output, m),
      responseDeserialize: (b: Buffer) => fromBinary(method.output, b),
      },
    ]),
  );
}

function unaryHandler(
  method: DescMethod,
  methods: MethodTable,
  authenticator: Authenticator,
  log: Logger,
  observer?: CallObserver,
): grpc.handleUnaryCall<Message | ApiError, Message> {
  return (call, callback) => {
    const started = performance.now();
    const [authorization] = call.metadata.get('authorization');
    const answer = async (): Promise<Message> => {
      const principal = await authenticator.authenticate(typeof authorization === 'string' ? authorization : undefined);
      // Checked after the credentials, as REST does: a caller without them learns nothing more.
      if (call.request instanceof ApiError) throw call.request;
      const context = new LazyCallContext(principal, (abort) => {
        const cancel = () => abort(new ClientCancelled('The client cancelled the call.'));
        if (call.cancelled) cancel();
        else call.once('cancelled', cancel);
      });
      return methods.call(method, call.request, context);
    };
    answer().then(
      (response) => {
        callback(null, response);
        observer?.callEnded(method, 'grpc', Code.OK, (performance.now() - started) / 1_000, undefined);
      },
      (error: unknown) => {
        const status = toStatus(error, log);
        const metadata = new grpc.Metadata();
        // google-gax and other Google clients read rich error details from this trailer.
        metadata.set('grpc-status-details-bin', Buffer.from(toBinary(StatusSchema, status)));
        callback({ code: status.code, details: status.message, metadata });
        observer?.callEnded(method, 'grpc', status.code, (performance.now() - started) / 1_000, error);
      },
    );
  };
}

// PROTOCOL-HTTP2.md: Timeout → "grpc-timeout" TimeoutValue TimeoutUnit, where TimeoutValue is a
// positive integer of at most 8 digits and TimeoutUnit one of H, M, S, m, u, n.
const GRPC_TIMEOUT = /^\d{1,8}[HMSmun]$/;

/**
 * What grpc-js lets through, or answers INTERNAL, is checked on each stream before grpc-js sees it:
 * - a `grpc-timeout` that is not one (grpc-js and grpc-go answer INTERNAL; the spec names no code,
 *   and the header is the client's mistake): INVALID_ARGUMENT;
 * - a first message whose Compressed-Flag is 1 while the call names no `grpc-encoding` (or
 *   `identity`), or is neither 0 nor 1. grpc-js reads such a message as uncompressed; the
 *   compression spec (doc/compression.md, test case 6) says it MUST fail with INTERNAL, saying so;
 * - a first message flagged compressed with gzip or deflate that does not decompress (grpc-js
 *   answers INTERNAL, for the client's mistake): INVALID_ARGUMENT;
 * - no message at all, or the call ends inside it (grpc-js answers UNIMPLEMENTED): INVALID_ARGUMENT.
 * Only the first message is looked at: a unary call carries one, and grpc-js then reads the rest.
 */
function checkStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, pass: () => void): void {
  // A client may reset the stream, or drop its connection, while it is held here and before
  // grpc-js listens to it: an 'error' nobody listens to would end the process (found by fuzzing, #11).
  const ignore = (): void => undefined;
  stream.on('error', ignore);
  const passOn = (): void => {
    stream.off('error', ignore);
    pass();
  };
  const timeout = headers['grpc-timeout'];
  if (timeout !== undefined && (typeof timeout !== 'string' || !GRPC_TIMEOUT.test(timeout))) {
    const shown = JSON.stringify(String(timeout).slice(0, 40));
    return refuse(stream, ApiError.invalidArgument(`grpc-timeout ${shown} is not a gRPC timeout: 1 to 8 digits and a unit, one of H, M, S, m, u, n (as in "30S").`));
  }
  // Server reflection is the one method whose client streams: it may send no message, or many.
  if (String(headers[':path']).startsWith('/grpc.reflection.')) return passOn();
  const encoding = headers['grpc-encoding'];
  const compressed = encoding !== undefined && encoding !== 'identity';
  // The first message is read whole (it may come in several reads) and put back, as the listener
  // peeks at a connection's first bytes; grpc-js then reads it again.
  let head: Buffer = Buffer.alloc(0);
  /** The bytes of the first message with its 5-byte prefix; undefined until its length is here. */
  const whole = (): number | undefined => (head.length < 5 ? undefined : 5 + head.readUInt32BE(1));
  const onEnd = (): void => {
    stream.off('readable', onReadable);
    // No message at all: grpc-js answers UNIMPLEMENTED, "no request message for server streaming
    // method", for what is the client's mistake in a unary call; so it does for a cut-off one.
    refuse(
      stream,
      ApiError.invalidArgument(
        head.length === 0
          ? 'The call ended without a request message: a unary method takes exactly one.'
          : `The call ended inside its request message: ${head.length} bytes of a length-prefixed message of ${whole() ?? 'at least 5'}.`,
      ),
    );
  };
  const onReadable = (): void => {
    for (let chunk = stream.read() as Buffer | null; chunk !== null; chunk = stream.read() as Buffer | null) {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    }
    const size = whole();
    // Until the message is whole, wait for more, or for the end (onEnd); one over grpc-js's size limit is its to refuse.
    if (size === undefined || (head.length < size && size - 5 <= MAX_MESSAGE_BYTES)) return;
    stream.off('readable', onReadable);
    stream.off('end', onEnd);
    // A second message already here (grpc-js would answer UNIMPLEMENTED on reading it): every method
    // served here but reflection takes one. One that comes in a later read is still grpc-js's to refuse.
    if (head.length > size) {
      return refuse(stream, ApiError.invalidArgument('The call carries more than one request message: a unary method takes exactly one.'));
    }
    stream.unshift(head);
    const flag = head[0];
    if (flag === 1 && compressed) {
      const problem = decompressionProblem(String(encoding), head);
      return problem === undefined ? passOn() : refuse(stream, ApiError.invalidArgument(problem));
    }
    if (flag === 0) return passOn();
    const message =
      flag === 1
        ? 'The request message has its Compressed-Flag set, but the call names no grpc-encoding (or "identity"), so nothing says how to decompress it.'
        : `The request message has Compressed-Flag ${flag}; gRPC allows only 0 (uncompressed) and 1 (compressed with grpc-encoding).`;
    refuse(stream, new ApiError(Code.INTERNAL, message));
  };
  stream.on('readable', onReadable);
  stream.on('end', onEnd);
}

// grpc-js's default limit on a received message, which it also applies after decompression.
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * Why a compressed first message (read whole) does not decompress by its grpc-encoding: grpc-js answers INTERNAL ("Failed to decompress message") for what is the
 * client's fault (#11). Undefined when it decompresses, is not all there yet, is over the size
 * limit, or uses an encoding grpc-js does not know (it answers those itself).
 */
function decompressionProblem(encoding: string, head: Buffer): string | undefined {
  if (head.length < 5 || head.length < 5 + head.readUInt32BE(1)) return undefined;
  const message = head.subarray(5, 5 + head.readUInt32BE(1));
  const decompress = encoding === 'gzip' ? gunzipSync : encoding === 'deflate' ? inflateSync : undefined;
  if (decompress === undefined) return undefined;
  try {
    decompress(message, { maxOutputLength: MAX_MESSAGE_BYTES + 1 });
    return undefined;
  } catch (error) {
    if (error instanceof RangeError) return undefined;
    return `The request message is flagged compressed with grpc-encoding ${encoding}, but it does not decompress: ${error instanceof Error ? error.message : String(error)}.`;
  }
}

/** Answers a stream grpc-js never saw with a Trailers-Only response carrying the status. */
function refuse(stream: ServerHttp2Stream, error: ApiError): void {
  if (stream.destroyed || stream.closed) return;
  const status = statusOf(error);
  stream.respond(
    {
      ':status': 200,
      'content-type': 'application/grpc+proto',
      'grpc-status': String(status.code),
      // Percent-encoded as PROTOCOL-HTTP2.md's Status-Message asks, the way grpc-js encodes its own.
      'grpc-message': encodeURI(status.message),
      'grpc-status-details-bin': Buffer.from(toBinary(StatusSchema, status)).toString('base64'),
    },
    { endStream: true },
  );
  // PROTOCOL-HTTP2.md, Early Server Closure: trailers sent before the client's END_STREAM are
  // followed by RST_STREAM NO_ERROR, so the rest of the request is not waited for.
  stream.close(http2.NGHTTP2_NO_ERROR);
}

/**
 * A grpc-js server whose streams pass checkStream first. grpc-js offers no hook before a call
 * starts, so the 'stream' listener it puts on the HTTP/2 server it makes for an injector is moved
 * behind the check. That server is found in grpc-js's private `http2Servers` map (grpc-js 1.14):
 * if a later grpc-js keeps it elsewhere, this fails at start, not quietly. Its connections are
 * closed when idle or stalled (http2-sessions.ts), and carry at most `maxConcurrentStreams` calls.
 */
class CheckedGrpcServer extends grpc.Server {
  constructor(private readonly limits: ConnectionLimits) {
    super({ 'grpc.max_concurrent_streams': limits.maxConcurrentStreams });
  }

  override createConnectionInjector(credentials: grpc.ServerCredentials): grpc.ConnectionInjector {
    const before = new Set(http2ServersOf(this));
    const injector = super.createConnectionInjector(credentials);
    const made = http2ServersOf(this).filter((server) => !before.has(server));
    const [server] = made;
    if (server === undefined || made.length > 1) throw new Error('@grpc/grpc-js changed: its connection injector made no HTTP/2 server this code can find.');
    closeIdleSessions(server, this.limits);
    const handlers = server.listeners('stream');
    server.removeAllListeners('stream');
    server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ...rest: unknown[]) => {
      checkStream(stream, headers, () => {
        for (const handler of handlers) Reflect.apply(handler, server, [stream, headers, ...rest]);
      });
    });
    return injector;
  }
}

function http2ServersOf(server: grpc.Server): NetServer[] {
  const servers: unknown = Reflect.get(server, 'http2Servers');
  if (!(servers instanceof Map)) return [];
  return [...(servers as Map<unknown, unknown>).keys()].filter((s): s is NetServer => s instanceof NetServer);
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

/**
 * A grpc-js server with the API services, grpc.health.v1.Health and server reflection.
 * `setServing` sets the health of the server ('') and of every service at once (readiness).
 */
export function createGrpcServer(
  services: readonly DescService[],
  methods: MethodTable,
  authenticator: Authenticator,
  log: Logger,
  observer?: CallObserver,
  limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS,
): { server: grpc.Server; health: HealthImplementation; setServing: (serving: boolean) => void } {
  const server = new CheckedGrpcServer(limits);
  for (const service of services) {
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const method of service.methods) implementation[method.name] = unaryHandler(method, methods, authenticator, log, observer);
    server.addService(serviceDefinition(service), implementation);
  }
  const names = ['', ...services.map((s) => s.typeName)];
  const health = new HealthImplementation(Object.fromEntries(names.map((name) => [name, 'SERVING'])));
  health.addToServer(server);
  new ReflectionService(reflectionDefinition()).addToServer(server);
  const setServing = (serving: boolean) => {
    for (const name of names) health.setStatus(name, serving ? 'SERVING' : 'NOT_SERVING');
  };
  return { server, health, setServing };
}
