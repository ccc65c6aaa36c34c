/**
 * The real gcloud (google-cloud-cli 528) against the server, under both auth modes, configured by
 * `devconnect-emulator gcloud-config`: every `gcloud developer-connect` command of the GA, beta and
 * alpha tracks, and Google's errors shown the way gcloud shows the cloud's. gcloud is slow (1-3 s a
 * command), so independent commands run at once: each test below is one chain of dependent
 * commands, and the tests of one auth mode run concurrently.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GcloudHome, gcloudMissing, operationName, show, startOtherGoogleApis, type OtherGoogleApis, type Run } from '../support/gcloud.js';
import { startTestServer, type TestServer } from '../support/server.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PROJECT = 'gcloud-demo';
const LOCATION = ['--location', 'us-central1'];
const PARENT = `projects/${PROJECT}/locations/us-central1`;
const skip = gcloudMissing();

type Json = Record<string, unknown>;
const json = (run: Run): Json => {
  assert.equal(run.code, 0, show(run));
  return JSON.parse(run.stdout) as Json;
};
const ok = (run: Run): Run => {
  assert.equal(run.code, 0, show(run));
  return run;
};
/** gcloud's way of showing an API error: a non-zero exit and `ERROR: (gcloud.COMMAND) STATUS: message` on stderr. */
function failed(run: Run, command: string, status: string, message: RegExp): void {
  assert.notEqual(run.code, 0, show(run));
  assert.match(run.stderr, new RegExp(`ERROR: \\(gcloud\\.${command.replaceAll('.', '\\.')}\\) ${status}: `), show(run));
  assert.match(run.stderr, message, show(run));
}

for (const auth of ['none', 'jwt'] as const) {
  describe(`gcloud developer-connect against the server (--auth ${auth})`, { skip, concurrency: true }, () => {
    let fast: TestServer;
    /** Operations here work for ten minutes, so there is time to cancel them. */
    let slow: TestServer;
    let home: GcloudHome;
    let apis: OtherGoogleApis;
    const account = (name: string) => `${name}@${PROJECT}.iam.gserviceaccount.com`;
    const gcloudFast = (args: string[]) => home.gcloud(['--configuration', 'devconnect-fast', ...args]);
    const dc = (...args: string[]) => gcloudFast(['developer-connect', ...args]);
    /**
     * gcloud against the slow server. Under --auth none any server takes gcloud's calls, so the fast
     * configuration does, with the endpoint overridden for the one process (gcloud reads properties
     * from CLOUDSDK_* variables); under --auth jwt the slow server needs a key of its own, so it has
     * a configuration of its own.
     */
    const slowArgs = (args: string[]) => ['--configuration', auth === 'none' ? 'devconnect-fast' : 'devconnect-slow', 'developer-connect', ...args];
    const slowEnv = (): Record<string, string> => (auth === 'none' ? { CLOUDSDK_API_ENDPOINT_OVERRIDES_DEVELOPERCONNECT: `${slow.url}/` } : {});
    const dcSlow = (...args: string[]) => home.gcloud(slowArgs(args), slowEnv());
    let configured: Run;

    before(async () => {
      apis = await startOtherGoogleApis();
      // Insights configs discover for ten minutes on the fast server too: what gcloud reads of them does not depend on how fast it runs.
      [fast, slow] = await Promise.all([startTestServer({ auth, insightsDiscoveryDelayMs: 600_000 }), startTestServer({ auth, operationDelayMs: 600_000 })]);
      // App Hub and Service Usage are not Developer Connect: insights-configs calls them, so they are pointed elsewhere per process.
      home = new GcloudHome({ CLOUDSDK_API_ENDPOINT_OVERRIDES_APPHUB: apis.url, CLOUDSDK_API_ENDPOINT_OVERRIDES_SERVICEUSAGE: apis.url });
      // FetchReadToken and FetchReadWriteToken are not in roles/editor; roles/developerconnect.tokenAccessor has them.
      const roles = auth === 'jwt' ? ['--role', 'roles/editor', '--role', 'roles/developerconnect.tokenAccessor'] : [];
      const config = (name: string, server: TestServer) =>
        home.cli(['gcloud-config', '--server', server.url, '--name', name, '--project', PROJECT, '--data-dir', server.dataDir, ...roles]);
      const runs = await Promise.all([config('devconnect-fast', fast), ...(auth === 'jwt' ? [config('devconnect-slow', slow)] : [])]);
      for (const run of runs) assert.equal(run.code, 0, show(run));
      configured = runs[0]!;
    });
    after(async () => {
      await Promise.all([fast?.stop(), slow?.stop(), apis?.close()]);
      home?.remove();
    });

    test('gcloud-config makes a named configuration for the server and leaves the active one alone', () => {
      const properties = readFileSync(join(home.dir, 'configurations', 'config_devconnect-fast'), 'utf8');
      const property = (name: string) => new RegExp(`^${name} = (.*)$`, 'm').exec(properties)?.[1];
      assert.equal(property('developerconnect'), `${fast.url}/`, properties);
      assert.equal(property('cloudresourcemanager'), `${fast.url}/`, properties);
      assert.equal(property('project'), PROJECT, properties);
      const active = join(home.dir, 'active_config');
      assert.ok(!existsSync(active) || !readFileSync(active, 'utf8').startsWith('devconnect-'), 'the active configuration is not switched without --activate');
      assert.match(configured.stdout, new RegExp(`now points at ${fast.url} \\(--auth ${auth}\\)`));
      assert.match(configured.stdout, /\n {2}gcloud --configuration devconnect-fast developer-connect connections list --location us-central1 --project gcloud-demo\n$/);
      if (auth === 'none') {
        assert.equal(property('disable_credentials'), 'true', properties);
      } else {
        assert.equal(property('disable_credentials'), undefined, properties);
        assert.equal(property('account'), account('devconnect-fast'), properties);
        const keyFile = join(home.dir, 'devconnect-emulator-keys', 'devconnect-fast.json');
        assert.equal(statSync(keyFile).mode & 0o777, 0o600);
        assert.equal((JSON.parse(readFileSync(keyFile, 'utf8')) as Json).token_uri, `${fast.url}/token`);
        assert.match(configured.stdout, /Granted roles\/editor, roles\/developerconnect\.tokenAccessor on projects\/gcloud-demo\./);
      }
    });

    test('connections create, list, describe, update, delete; operations wait and list --filter', async () => {
      const created = ok(await dc('connections', 'create', 'c1', ...LOCATION, '--github-config-app', 'developer-connect'));
      // The command's format: installation stage, message and action URI, one a line.
      assert.match(
        created.stdout,
        new RegExp(`^PENDING_USER_OAUTH\nPlease authorize Developer Connect to access your GitHub account.*\nhttp://127\\.0\\.0\\.1:\\d+/console/${PARENT}/connections/c1\n$`),
      );
      assert.match(created.stderr, /Created connection \[c1\]\./);

      const [listed, described, again, createOp] = await Promise.all([
        dc('connections', 'list', ...LOCATION, '--format', 'json'),
        dc('connections', 'describe', 'c1', ...LOCATION, '--format', 'json'),
        dc('connections', 'create', 'c1', ...LOCATION, '--github-config-app', 'developer-connect'),
        dc('operations', 'list', ...LOCATION, '--filter', `metadata.target=${PARENT}/connections/c1 AND metadata.verb=create`, '--format', 'value(name)'),
      ]);
      // Other tests make connections in the same location meanwhile.
      assert.ok((json(listed) as unknown as Json[]).some((c) => c.name === `${PARENT}/connections/c1`), listed.stdout);
      const connection = json(described);
      assert.deepEqual(connection.githubConfig, { githubApp: 'DEVELOPER_CONNECT' });
      assert.equal((connection.installationState as Json).stage, 'PENDING_USER_OAUTH');
      failed(again, 'developer-connect.connections.create', 'ALREADY_EXISTS', new RegExp(`Resource '${PARENT}/connections/c1' already exists\\.`));
      const opName = ok(createOp).stdout.trim();
      assert.match(opName, new RegExp(`^${PARENT}/operations/`));

      const [waited, updated, stale] = await Promise.all([
        dc('operations', 'wait', opName, '--format', 'json'),
        dc('connections', 'update', 'c1', ...LOCATION, '--labels', 'env=prod', '--annotations', 'team=dc', '--git-proxy-config-enabled', '--format', 'json'),
        dc('connections', 'update', 'c1', ...LOCATION, '--etag', 'stale', '--disabled'),
      ]);
      const waitedOp = json(waited);
      assert.deepEqual([waitedOp.name, waitedOp.done, (waitedOp.response as Json).name], [opName, true, `${PARENT}/connections/c1`], 'wait prints the done operation');
      const changed = json(updated);
      assert.deepEqual([changed.labels, changed.annotations, changed.gitProxyConfig], [{ env: 'prod' }, { team: 'dc' }, { enabled: true }]);
      failed(stale, 'developer-connect.connections.update', 'ABORTED', /The etag 'stale' does not match/);

      const deleted = ok(await dc('connections', 'delete', 'c1', ...LOCATION));
      assert.match(deleted.stderr, /Deleted connection \[c1\]\./);
      failed(
        await dc('connections', 'describe', 'c1', ...LOCATION),
        'developer-connect.connections.describe',
        'NOT_FOUND',
        new RegExp(`Connection '${PARENT}/connections/c1' was not found\\.[^]*reason: RESOURCE_NOT_FOUND`),
      );
    });

    test('connections git-repository-links create, list, describe, fetch-read-token, fetch-read-write-token, delete', async () => {
      ok(
        await dc(
          'connections', 'create', 'gle', ...LOCATION,
          '--gitlab-enterprise-config-host-uri', 'http://127.0.0.1:9/',
          '--gitlab-enterprise-config-webhook-secret-version', `projects/${PROJECT}/secrets/webhook/versions/1`,
          '--gitlab-enterprise-config-read-authorizer-credential-user-token-secret-version', `projects/${PROJECT}/secrets/read/versions/1`,
          '--gitlab-enterprise-config-authorizer-credential-user-token-secret-version', `projects/${PROJECT}/secrets/write/versions/1`,
          '--git-proxy-config-enabled',
        ),
      );
      const link = ['--connection', 'gle', ...LOCATION];
      const created = ok(await dc('connections', 'git-repository-links', 'create', 'repo', ...link, '--clone-uri', 'http://127.0.0.1:9/group/repo.git', '--labels', 'app=web'));
      assert.match(created.stderr, /Created gitRepositoryLink \[repo\]\./);

      const [listed, described, read, readWrite, busy] = await Promise.all([
        dc('connections', 'git-repository-links', 'list', ...link, '--format', 'json'),
        dc('connections', 'git-repository-links', 'describe', 'repo', ...link, '--format', 'json'),
        dc('connections', 'git-repository-links', 'fetch-read-token', 'repo', ...link, '--format', 'json'),
        dc('connections', 'git-repository-links', 'fetch-read-write-token', 'repo', ...link, '--format', 'json'),
        dc('connections', 'delete', 'gle', ...LOCATION),
      ]);
      const linkName = `${PARENT}/connections/gle/gitRepositoryLinks/repo`;
      assert.deepEqual((json(listed) as unknown as Json[]).map((l) => l.name), [linkName]);
      const repo = json(described);
      assert.deepEqual([repo.cloneUri, repo.labels, repo.gitProxyUri], ['http://127.0.0.1:9/group/repo.git', { app: 'web' }, `${fast.url}/git-proxy/${linkName}`]);
      for (const token of [json(read), json(readWrite)]) {
        assert.equal(token.gitUsername, 'oauth2');
        assert.ok(typeof token.token === 'string' && token.token.length > 20, JSON.stringify(token));
        assert.ok(Date.parse(String(token.expirationTime)) > Date.now(), JSON.stringify(token));
      }
      assert.notEqual(json(read).token, json(readWrite).token);
      failed(busy, 'developer-connect.connections.delete', 'FAILED_PRECONDITION', /has child resources/);

      assert.match(ok(await dc('connections', 'git-repository-links', 'delete', 'repo', ...link)).stderr, /Deleted gitRepositoryLink \[repo\]\./);
      ok(await dc('connections', 'delete', 'gle', ...LOCATION));
    });

    test('insights-configs create, list, describe, update, delete (App Hub and Service Usage answered beside the server)', async () => {
      const app = `projects/${PROJECT}/locations/us-central1/applications/shop`;
      const created = ok(await dc('insights-configs', 'create', 'insights', ...LOCATION, '--app-hub-application', app));
      assert.match(created.stderr, new RegExp(`Creating the insight config ${PARENT}/insightsConfigs/insights\\.`));
      assert.ok(apis.requests.some((r) => r.startsWith(`GET /v1/${app}/workloads?`)), apis.requests.join('\n'));

      const [listed, described] = await Promise.all([
        dc('insights-configs', 'list', ...LOCATION, '--format', 'json'),
        dc('insights-configs', 'describe', 'insights', ...LOCATION, '--format', 'json'),
      ]);
      assert.ok((json(listed) as unknown as Json[]).some((c) => c.name === `${PARENT}/insightsConfigs/insights`), listed.stdout);
      assert.deepEqual([json(described).appHubApplication, json(described).state], [app, 'PENDING'], 'discovering the application, as the cloud shows a new config');

      const updated = ok(await dc('insights-configs', 'update', 'insights', ...LOCATION, '--run-discovery'));
      assert.match(updated.stderr, new RegExp(`Updating the insight config ${PARENT}/insightsConfigs/insights\\.`));
      assert.ok(apis.requests.some((r) => r.includes(':generateServiceIdentity')), apis.requests.join('\n'));

      assert.match(ok(await dc('insights-configs', 'delete', 'insights', ...LOCATION)).stderr, /Deleted insightsConfig \[insights\]\./);
    });

    // The server's behaviour, not gcloud's credentials: checked under one auth mode.
    if (auth === 'none') {
      test(
        'insights-configs update keeps the App Hub application, so a second update works',
        async () => {
          const app = `projects/${PROJECT}/locations/us-central1/applications/kept`;
          ok(await dc('insights-configs', 'create', 'kept', ...LOCATION, '--app-hub-application', app));
          ok(await dc('insights-configs', 'update', 'kept', ...LOCATION, '--run-discovery'));
          assert.equal(json(await dc('insights-configs', 'describe', 'kept', ...LOCATION, '--format', 'json')).appHubApplication, app);
          ok(await dc('insights-configs', 'update', 'kept', ...LOCATION, '--run-discovery'));
        },
      );
    }

    test('alpha account-connectors create, list, describe, update, delete', async () => {
      const ac = (...args: string[]) => gcloudFast(['alpha', 'developer-connect', 'account-connectors', ...args]);
      const created = ok(await ac('create', 'github', ...LOCATION, '--provider-oauth-config-system-id', 'github', '--provider-oauth-config-scopes', 'repo'));
      assert.match(created.stderr, /Created accountConnector \[github\]\./);
      const [listed, described] = await Promise.all([ac('list', ...LOCATION, '--format', 'json'), ac('describe', 'github', ...LOCATION, '--format', 'json')]);
      assert.deepEqual((json(listed) as unknown as Json[]).map((c) => c.name), [`${PARENT}/accountConnectors/github`]);
      assert.deepEqual(json(described).providerOauthConfig, { systemProviderId: 'GITHUB', scopes: ['repo'] });

      const updated = json(await ac('update', 'github', ...LOCATION, '--labels', 'team=dc', '--provider-oauth-config-scopes', 'repo,read:user', '--format', 'json'));
      assert.deepEqual([updated.labels, (updated.providerOauthConfig as Json).scopes], [{ team: 'dc' }, ['repo', 'read:user']]);

      assert.match(ok(await ac('delete', 'github', ...LOCATION)).stderr, /Deleted accountConnector \[github\]\./);
    });

    test('operations describe, cancel, list --filter, delete: a create cancelled while it runs is never done', async () => {
      const op = operationName(ok(await dcSlow('connections', 'create', 'cancelled', ...LOCATION, '--github-config-app', 'developer-connect', '--async', '--format', 'json')));
      const running = json(await dcSlow('operations', 'describe', op, '--format', 'json'));
      assert.equal(running.done, undefined);
      assert.deepEqual([(running.metadata as Json).verb, (running.metadata as Json).target], ['create', `${PARENT}/connections/cancelled`]);

      ok(await dcSlow('operations', 'cancel', op));
      const [cancelled, connection, listed] = await Promise.all([
        dcSlow('operations', 'describe', op, '--format', 'json'),
        dcSlow('connections', 'describe', 'cancelled', ...LOCATION),
        dcSlow('operations', 'list', ...LOCATION, '--filter', 'error.code=1 AND metadata.requestedCancellation=true', '--format', 'value(name)'),
      ]);
      const done = json(cancelled);
      assert.equal(done.done, true);
      assert.deepEqual(done.error, { code: 1, message: 'Operation was cancelled.' });
      assert.equal((done.metadata as Json).requestedCancellation, true);
      failed(connection, 'developer-connect.connections.describe', 'NOT_FOUND', /was not found/);
      assert.ok(ok(listed).stdout.split('\n').includes(op), listed.stdout);

      assert.match(ok(await dcSlow('operations', 'delete', op)).stderr, /Deleted operation \[/);
    });

    test('operations wait follows a running operation to its end (here: cancelled by another gcloud meanwhile)', async () => {
      const op = operationName(ok(await dcSlow('connections', 'create', 'waited', ...LOCATION, '--github-config-app', 'developer-connect', '--async', '--format', 'json')));
      let cancel: Promise<Run> | undefined;
      const waited = await home.gcloudWhile(slowArgs(['operations', 'wait', op]), slowEnv(), (stderr) => {
        if (cancel === undefined && stderr.includes('Waiting for operation')) cancel = dcSlow('operations', 'cancel', op);
      });
      assert.ok(cancel, `wait never said it was waiting:\n${show(waited)}`);
      ok(await cancel);
      assert.notEqual(waited.code, 0, show(waited));
      assert.match(waited.stderr, /ERROR: \(gcloud\.developer-connect\.operations\.wait\) \{\s*"code": 1,\s*"message": "Operation was cancelled\."\s*\}/, show(waited));
    });

    test('the beta track (alpha: account-connectors above), and gcloud projects get-iam-policy, reach the same server', async () => {
      const [beta, policy] = await Promise.all([
        gcloudFast(['beta', 'developer-connect', 'operations', 'list', ...LOCATION, '--limit', '1', '--format', 'json']),
        gcloudFast(['projects', 'get-iam-policy', PROJECT, '--format', 'json']),
      ]);
      assert.ok(Array.isArray(json(beta)));
      const bindings = (json(policy).bindings ?? []) as { role: string; members: string[] }[];
      const member = `serviceAccount:${account('devconnect-fast')}`;
      if (auth === 'jwt') {
        assert.deepEqual(bindings, [
          { role: 'roles/developerconnect.tokenAccessor', members: [member] },
          { role: 'roles/editor', members: [member] },
        ]);
      } else {
        assert.deepEqual(bindings, []);
      }
    });

    if (auth === 'jwt') {
      test('a project where the service account has no role: PERMISSION_DENIED as the cloud words it', async () => {
        failed(
          await dc('connections', 'list', '--location', 'us-central1', '--project', 'other-project'),
          'developer-connect.connections.list',
          'PERMISSION_DENIED',
          /Permission 'developerconnect\.connections\.list' denied on resource 'projects\/other-project\/locations\/us-central1' \(or it may not exist\)\.[^]*authenticated as devconnect-fast@gcloud-demo\.iam\.gserviceaccount\.com[^]*reason: IAM_PERMISSION_DENIED/,
        );
      });

      test('serve prints a gcloud-config line that, pasted, makes gcloud work against it; run again it reuses the key', async () => {
        const dataDir = mkdtempSync(join(tmpdir(), 'devconnect-gcloud-serve-'));
        const server = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', '--auth', 'jwt', '--data-dir', dataDir, '--log-level', 'warn'], {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        try {
          const line = await new Promise<string>((resolve, reject) => {
            let stdout = '';
            server.stdout.on('data', (chunk: Buffer) => {
              stdout += chunk.toString();
              const match = /\n {2}\S+ (gcloud-config .*)\n/.exec(stdout);
              if (match) resolve(match[1]!);
            });
            server.once('exit', (code) => reject(new Error(`serve exited (${code}) before it printed a gcloud-config line:\n${stdout}`)));
          });
          assert.match(line, new RegExp(`^gcloud-config --server http://127\\.0\\.0\\.1:\\d+ --data-dir ${dataDir} --role roles/owner --project my-project$`));
          const configured = ok(await home.cli(line.split(' ')));
          const tryLine = /\n {2}gcloud (.*)\n$/.exec(configured.stdout)?.[1];
          assert.equal(tryLine, '--configuration devconnect-emulator developer-connect connections list --location us-central1 --project my-project');
          assert.match(configured.stdout, /with a new key in /);
          const listed = ok(await home.gcloud(tryLine!.split(' ')));
          assert.match(listed.stderr, /Listed 0 items\./);

          // Again, with --activate: the key the server knows is kept, and plain `gcloud` now talks to the server.
          const again = ok(await home.cli([...line.split(' '), '--activate']));
          assert.match(again.stdout, /with its key in [^]*It is now your active configuration\./);
          assert.equal(readFileSync(join(home.dir, 'active_config'), 'utf8').trim(), 'devconnect-emulator');
          ok(await home.gcloud(['developer-connect', 'connections', 'list', '--location', 'us-central1']));
        } finally {
          server.kill('SIGTERM');
          if (server.exitCode === null) await new Promise((resolve) => server.once('exit', resolve));
          if (existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true });
        }
      });
    }
  });
}
