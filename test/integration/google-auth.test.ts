/**
 * google-auth-library, unchanged, against a service-account key file made by
 * `devconnect-emulator service-accounts keys create`: both ways it authenticates.
 *
 * The token endpoint is served here by a small node:http server of the test's own; the end-to-end
 * test through `serve --auth jwt` and google-gax clients lives with the server wiring.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GoogleAuth, JWT } from 'google-auth-library';
import { JwtAuthenticator } from '../../src/auth/jwt-authenticator.js';
import type { ServiceAccountKeyFile } from '../../src/auth/service-account-keys.js';
import { TokenSigningKey } from '../../src/auth/signing-key.js';
import { TokenEndpoint } from '../../src/auth/token-endpoint.js';
import { createKeyFile } from '../../src/cli/service-accounts.js';
import { SqliteStore } from '../../src/store/sqlite.js';

const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
/** Where google-auth-library 10 sends the JWT-bearer grant whatever the key file's token_uri says. */
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

describe('google-auth-library with a service-account key file of this emulator', () => {
  let dataDir: string;
  let keyPath: string;
  let keyFile: ServiceAccountKeyFile;
  let store: SqliteStore;
  let authenticator: JwtAuthenticator;
  let server: Server;
  const tokenRequests: { contentType?: string; body: string }[] = [];

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'devconnect-google-auth-'));
    store = SqliteStore.open(dataDir);
    const signingKey = await TokenSigningKey.load(store, dataDir);
    authenticator = new JwtAuthenticator({ store, signingKey });
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/token') {
          res.writeHead(404).end();
          return;
        }
        const request = { contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') };
        tokenRequests.push(request);
        endpoint.handle(request.contentType, request.body).then(
          (response) => res.writeHead(response.status, response.headers).end(JSON.stringify(response.body)),
          () => res.writeHead(500).end(),
        );
      });
    });
    const endpoint = new TokenEndpoint({ store, signingKey });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const tokenUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;

    keyPath = join(dataDir, 'ci-runner.json');
    // The CLI opens the data directory on its own, as `keys create` does beside a running server.
    await createKeyFile({ dataDir, project: 'demo-project', name: 'ci-runner', tokenUri, output: keyPath });
    keyFile = JSON.parse(readFileSync(keyPath, 'utf8')) as ServiceAccountKeyFile;
  });
  after(async () => {
    server.close();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the key file has the fields and format of a Google service-account key, readable only by its owner', () => {
    assert.deepEqual(Object.keys(keyFile).sort(), [
      'auth_provider_x509_cert_url', 'auth_uri', 'client_email', 'client_id', 'client_x509_cert_url',
      'private_key', 'private_key_id', 'project_id', 'token_uri', 'type', 'universe_domain',
    ]);
    assert.equal(keyFile.type, 'service_account');
    assert.equal(keyFile.project_id, 'demo-project');
    assert.equal(keyFile.client_email, 'ci-runner@demo-project.iam.gserviceaccount.com');
    assert.match(keyFile.private_key_id, /^[0-9a-f]{40}$/);
    assert.match(keyFile.private_key, /^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/);
    assert.match(keyFile.client_id, /^\d{21}$/);
    assert.match(keyFile.token_uri, /^http:\/\/127\.0\.0\.1:\d+\/token$/);
    assert.equal(statSync(keyPath).mode & 0o777, 0o600);
  });

  it('GOOGLE_APPLICATION_CREDENTIALS: the JWT-bearer grant gets an access token from the token endpoint, which the server accepts', async () => {
    const saved = process.env.GOOGLE_APPLICATION_CREDENTIALS;
    process.env.GOOGLE_APPLICATION_CREDENTIALS = keyPath;
    try {
      const auth = new GoogleAuth({ scopes: [CLOUD_PLATFORM] });
      const client = (await auth.getClient()) as JWT;
      // google-auth-library (10.x) ignores the key file's token_uri and posts to Google; send that post
      // to the key file's token_uri instead. Nothing else about the client changes.
      client.transporter.interceptors.request.add({
        resolved: async (options) => {
          if (String(options.url) === GOOGLE_TOKEN_URL) options.url = new URL(keyFile.token_uri);
          return options;
        },
      });
      const before = tokenRequests.length;
      const accessToken = await auth.getAccessToken();
      assert.ok(accessToken);
      assert.equal(tokenRequests.length, before + 1, 'one grant was posted to the token endpoint');
      const posted = new URLSearchParams(tokenRequests.at(-1)!.body);
      assert.equal(posted.get('grant_type'), 'urn:ietf:params:oauth:grant-type:jwt-bearer');
      assert.deepEqual(await authenticator.authenticate(`Bearer ${accessToken}`), { member: `serviceAccount:${keyFile.client_email}`, scopes: [CLOUD_PLATFORM] });
      const headers = await auth.getRequestHeaders('http://127.0.0.1/v1/projects/demo-project/locations');
      assert.equal(headers.get('authorization'), `Bearer ${accessToken}`, 'the token is reused');
    } finally {
      if (saved === undefined) delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
      else process.env.GOOGLE_APPLICATION_CREDENTIALS = saved;
    }
  });

  it('self-signed JWTs with a scope claim, as a generated client makes them for a custom endpoint, are verified without a token request', async () => {
    const auth = new GoogleAuth({ keyFile: keyPath, scopes: [CLOUD_PLATFORM] });
    // What a generated client (and google-gax) sets on its auth object.
    auth.useJWTAccessWithScope = true;
    auth.defaultServicePath = '127.0.0.1';
    const before = tokenRequests.length;
    const headers = await auth.getRequestHeaders('http://127.0.0.1:8080/v1/projects/demo-project/locations');
    assert.equal(tokenRequests.length, before, 'no token request');
    assert.deepEqual(await authenticator.authenticate(headers.get('authorization') ?? undefined), {
      member: `serviceAccount:${keyFile.client_email}`,
      scopes: [CLOUD_PLATFORM],
    });
  });

  it("self-signed JWTs for the service's audience (default endpoint, default scopes) carry the cloud-platform scope", async () => {
    const auth = new GoogleAuth({ keyFile: keyPath });
    auth.useJWTAccessWithScope = true;
    auth.defaultServicePath = 'developerconnect.googleapis.com';
    auth.defaultScopes = [CLOUD_PLATFORM];
    const headers = await auth.getRequestHeaders('https://developerconnect.googleapis.com/v1/projects/demo-project/locations');
    assert.deepEqual(await authenticator.authenticate(headers.get('authorization') ?? undefined), {
      member: `serviceAccount:${keyFile.client_email}`,
      scopes: [CLOUD_PLATFORM],
    });
  });

  it("a JWT client made from the key file's fields by hand works the same", async () => {
    const client = new JWT({ email: keyFile.client_email, key: keyFile.private_key, keyId: keyFile.private_key_id, scopes: [CLOUD_PLATFORM] });
    client.useJWTAccessWithScope = true;
    const headers = await client.getRequestHeaders('http://127.0.0.1:8080/');
    assert.equal((await authenticator.authenticate(headers.get('authorization') ?? undefined)).member, `serviceAccount:${keyFile.client_email}`);
  });
});
