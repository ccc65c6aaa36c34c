import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { generate } from 'selfsigned';
import { createKeyFile } from '../../src/cli/service-accounts.js';
import { issueToken } from '../../src/cli/token.js';
import { startTestServer, type TestServer, grantRoles } from '../support/server.js';

const OWNER = 'user:admin@example.com';
const ACCOUNT = 'serviceAccount:grpc-runner@demo.iam.gserviceaccount.com';
const CLIENT = join(import.meta.dirname, '..', 'support', 'gax-grpc-client.ts');

/**
 * google-gax over gRPC sends credentials only on a TLS channel it builds itself, trusting
 * grpc-js's default roots, which GRPC_DEFAULT_SSL_ROOTS_FILE_PATH can name. So with
 * `--tls-cert/--tls-key` on the server and its certificate in that variable, an unmodified gRPC
 * client authenticates with a key file (self-signed JWTs, as generated clients make them).
 */
describe('google-gax over gRPC with TLS and a service-account key file', () => {
  let server: TestServer;
  let dir: string;

  async function runClient(keyFile: string, action: string): Promise<Record<string, unknown>> {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', CLIENT, String(server.port), keyFile, action], {
      env: { ...process.env, GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: join(dir, 'cert.pem') },
      timeout: 60_000,
    });
    return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'devconnect-tls-'));
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keySize: 2048,
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }] }],
    });
    writeFileSync(join(dir, 'cert.pem'), pems.cert);
    server = await startTestServer({ auth: 'jwt', owner: OWNER, operationDelayMs: 5000, tls: { cert: pems.cert, key: pems.private } });
    const owner = await issueToken({ dataDir: server.dataDir, principal: OWNER });
    await grantRoles(server, owner, 'demo', [{ role: 'roles/developerconnect.admin', members: [ACCOUNT] }]);
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('creates an operation, cancels it and reads it back CANCELLED', async () => {
    const keyFile = join(dir, 'runner.json');
    await createKeyFile({ dataDir: server.dataDir, project: 'demo', name: 'grpc-runner', tokenUri: `${server.url}/token`, output: keyFile });
    const result = await runClient(keyFile, 'cancel');
    assert.deepEqual(result, { done: true, errorCode: 1, requestedCancellation: true });
  });

  test('a principal without the permission is refused with PERMISSION_DENIED', async () => {
    const keyFile = join(dir, 'nobody.json');
    await createKeyFile({ dataDir: server.dataDir, project: 'demo', name: 'no-rights', tokenUri: `${server.url}/token`, output: keyFile });
    const result = await runClient(keyFile, 'get-connection');
    assert.equal(result.errorCode, 7, String(result.message));
  });
});
