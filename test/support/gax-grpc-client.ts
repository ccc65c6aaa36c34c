// A separate program, as a user's would be: a google-gax gRPC client with a key file, run with
// GRPC_DEFAULT_SSL_ROOTS_FILE_PATH naming the emulator's certificate (grpc-js reads it at load).
// Usage: node --import tsx gax-grpc-client.ts PORT KEY_FILE cancel|get-connection; prints one JSON line.
import gax from 'google-gax';
import { loadProtos, PROTOS_ROOT } from './gax-clients.js';

const [port, keyFile, action] = process.argv.slice(2);
const PARENT = 'projects/demo/locations/us-central1';
const SCOPES = ['https://www.googleapis.com/auth/cloud-platform'];

type Callback = (error: (Error & { code?: number }) | null, response?: unknown) => void;

// As a generated client configures it: self-signed JWTs for the Developer Connect audience.
const auth = new gax.GoogleAuth({ keyFile, scopes: SCOPES });
auth.useJWTAccessWithScope = true;
auth.defaultServicePath = 'developerconnect.googleapis.com';
const opts = { servicePath: 'localhost', port: Number(port), scopes: SCOPES };
const grpcClient = new gax.GrpcClient({ auth });
let service: unknown = grpcClient.loadProto(PROTOS_ROOT, 'google/cloud/developerconnect/v1/developer_connect.proto');
for (const part of 'google.cloud.developerconnect.v1.DeveloperConnect'.split('.')) service = (service as Record<string, unknown>)[part];
const stub = (await grpcClient.createStub(service as typeof gax.ClientStub, opts)) as unknown as Record<
  string,
  (request: object, metadata: object, options: object, callback: Callback) => void
>;
const operations = gax.lro({ auth, grpc: grpcClient.grpc }).operationsClient(opts);
const call = <T>(method: string, request: object) =>
  new Promise<T>((resolve, reject) => stub[method]!(request, new grpcClient.grpc.Metadata(), {}, (e, r) => (e ? reject(e) : resolve(r as T))));

interface RawOperation {
  done: boolean;
  error?: { code: number };
  metadata?: { value: Uint8Array };
}

try {
  if (action === 'cancel') {
    const created = await call<{ name: string }>('createConnection', {
      parent: PARENT,
      connectionId: 'over-tls',
      connection: { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } },
    });
    await operations.cancelOperation({ name: created.name } as never);
    let operation: RawOperation = { done: false };
    for (let i = 0; i < 100 && !operation.done; i++) {
      [operation] = (await operations.getOperation({ name: created.name } as never)) as unknown as [RawOperation];
      if (!operation.done) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const metadata = loadProtos().lookupType('google.cloud.developerconnect.v1.OperationMetadata').decode(operation.metadata!.value) as unknown as {
      requestedCancellation: boolean;
    };
    console.log(JSON.stringify({ done: operation.done, errorCode: operation.error?.code, requestedCancellation: metadata.requestedCancellation }));
  } else {
    await call('getConnection', { name: `${PARENT}/connections/over-tls` });
    console.log(JSON.stringify({ errorCode: 0 }));
  }
} catch (error) {
  console.log(JSON.stringify({ errorCode: (error as { code?: number }).code, message: (error as Error).message }));
}
process.exit(0);
