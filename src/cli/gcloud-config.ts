import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { importPKCS8, SignJWT } from 'jose';
import { CLOUD_PLATFORM_SCOPE } from '../auth/principal.js';
import { serviceAccountEmail, type ServiceAccountKeyFile } from '../auth/service-account-keys.js';
import { JWT_BEARER_GRANT } from '../auth/token-endpoint.js';
import { withStore, type StoreLocation } from '../store/open.js';
import type { IamBinding } from '../store/store.js';
import { databaseUrlOption } from './database-url.js';
import { Gcloud } from './gcloud.js';
import { addBinding, readModifyWrite } from './iam.js';
import { createKeyFile } from './service-accounts.js';
import { issueToken } from './token.js';

const DEFAULT_SERVER = 'http://127.0.0.1:8080';
const DEFAULT_NAME = 'devconnect-emulator';
const SA_DOMAIN = '.iam.gserviceaccount.com';

export interface GcloudConfigOptions extends StoreLocation {
  server: string;
  /** The gcloud configuration to create or update. */
  name: string;
  project: string;
  /** `ID@PROJECT` (or the full email); default NAME@PROJECT. Used under `--auth jwt` only. */
  serviceAccount?: string;
  /** Roles granted to the service account on the project (under `--auth jwt`). */
  roles: readonly string[];
  /** Make the configuration gcloud's active one. */
  activate: boolean;
  gcloud?: Gcloud;
}

export interface GcloudConfigResult {
  auth: 'none' | 'jwt';
  /** Under `--auth jwt`: the service account gcloud acts as, its key file, and whether the key is new. */
  account?: { email: string; keyFile: string; newKey: boolean };
  granted: readonly string[];
  /** The command to try. */
  tryCommand: string;
}

/**
 * The server's auth mode, asked the way any client would find out: an unauthenticated call
 * succeeds under `--auth none` and is 401 UNAUTHENTICATED under `--auth jwt`.
 */
export async function serverAuthMode(server: string, project: string): Promise<'none' | 'jwt'> {
  const url = `${server}/v1/projects/${encodeURIComponent(project)}/locations?pageSize=1`;
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new Error(`cannot reach ${server}: ${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message}`, { cause: error });
  }
  const body = await response.text();
  if (response.status === 200) return 'none';
  if (response.status === 401) return 'jwt';
  throw new Error(`${server} answered HTTP ${response.status} to GET ${url}, which is not how devconnect-emulator answers: ${body.slice(0, 300)}`);
}

/** `ID@PROJECT` or `ID@PROJECT.iam.gserviceaccount.com` → its parts, checked as Google checks them. */
function parseServiceAccount(text: string): { project: string; name: string; email: string } {
  const at = text.indexOf('@');
  if (at < 0) throw new Error(`--service-account '${text}' must be ID@PROJECT (e.g. ci-runner@my-project).`);
  const name = text.slice(0, at);
  const domain = text.slice(at + 1);
  const project = domain.endsWith(SA_DOMAIN) ? domain.slice(0, -SA_DOMAIN.length) : domain;
  return { project, name, email: serviceAccountEmail(project, name) };
}

/** NAME@PROJECT, when the configuration's name can be a service account ID. */
function defaultServiceAccount(name: string, project: string): { project: string; name: string; email: string } {
  try {
    return { project, name, email: serviceAccountEmail(project, name) };
  } catch (error) {
    throw new Error(`give --service-account ID@PROJECT: the configuration name cannot be the service account's ID (${(error as Error).message})`, { cause: error });
  }
}

/**
 * The key file gcloud activates: the one written by an earlier run when the server still knows
 * its key, so running this again does not pile up keys; otherwise a new key.
 */
async function keyFor(where: StoreLocation, account: { project: string; name: string; email: string }, tokenUri: string, path: string): Promise<boolean> {
  if (existsSync(path)) {
    const previous = JSON.parse(readFileSync(path, 'utf8')) as Partial<ServiceAccountKeyFile>;
    if (previous.client_email === account.email && previous.token_uri === tokenUri && typeof previous.private_key_id === 'string') {
      const keyId = previous.private_key_id;
      const stored = await withStore(where, (store) => store.getServiceAccountKey(keyId));
      if (stored && !stored.deleteTime) return false;
    }
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  await createKeyFile({ ...where, project: account.project, name: account.name, tokenUri, output: path });
  return true;
}

/**
 * Makes the JWT-bearer grant gcloud will make with the key file, so a key the server does not know
 * (another data directory or database than the server's) is reported now, not by gcloud later.
 */
async function checkKeyAccepted(keyFilePath: string, tokenUri: string, where: StoreLocation): Promise<void> {
  const key = JSON.parse(readFileSync(keyFilePath, 'utf8')) as ServiceAccountKeyFile;
  const now = Math.floor(Date.now() / 1000);
  const assertion = await new SignJWT({ scope: CLOUD_PLATFORM_SCOPE })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.private_key_id })
    .setIssuer(key.client_email)
    .setAudience(tokenUri)
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(await importPKCS8(key.private_key, 'RS256'));
  const response = await fetch(tokenUri, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion }).toString(),
  });
  if (response.ok) return;
  const store = where.databaseUrl ? 'the database of --database-url' : `--data-dir ${where.dataDir}`;
  throw new Error(`the server refused the key of ${key.client_email} (HTTP ${response.status}: ${(await response.text()).slice(0, 300)}); is ${store} where that server keeps its state?`);
}

const isOwnerBinding = (b: IamBinding) => b.role === 'roles/owner';

/**
 * A token of an owner of the project (a `user:` or `serviceAccount:` member with roles/owner on it
 * or on every project), signed with the server's key: policies are changed through the server's
 * API, so the server that enforces them sees the change at once.
 */
async function ownerToken(where: StoreLocation, project: string): Promise<string> {
  const owner = await withStore(where, async (store) => {
    const policies = [await store.getIamPolicy(`projects/${project}`), await store.getIamPolicy('*')];
    const members = policies.flatMap((p) => p?.bindings.filter(isOwnerBinding).flatMap((b) => b.members) ?? []);
    return members.find((m) => m.startsWith('user:') || m.startsWith('serviceAccount:'));
  });
  if (owner === undefined) {
    throw new Error(`no user or service account is roles/owner of projects/${project} or of every project, so --role cannot be granted: grant it with 'devconnect-emulator iam add-binding' and a token of an owner.`);
  }
  return issueToken({ ...where, principal: owner });
}

/** Whether the member is bound to any role on the project or on every project. */
async function hasAnyRole(where: StoreLocation, project: string, member: string): Promise<boolean> {
  return withStore(where, async (store) => {
    const policies = [await store.getIamPolicy(`projects/${project}`), await store.getIamPolicy('*')];
    return policies.some((p) => p?.bindings.some((b) => b.members.includes(member)) ?? false);
  });
}

/**
 * Creates or updates the gcloud configuration `name` so that `gcloud --configuration NAME
 * developer-connect …` talks to the server: the API endpoint (and Resource Manager's, whose IAM
 * methods the server serves), the project, and credentials the server accepts. The user's active
 * configuration stays as it is unless `activate`.
 */
export async function configureGcloud(options: GcloudConfigOptions): Promise<GcloudConfigResult> {
  if (!URL.canParse(options.server) || !/^https?:$/.test(new URL(options.server).protocol)) {
    throw new Error(`--server '${options.server}' must be an http:// or https:// URL, such as ${DEFAULT_SERVER}.`);
  }
  const server = options.server.replace(/\/+$/, '');
  const gcloud = options.gcloud ?? new Gcloud();
  const auth = await serverAuthMode(server, options.project);
  const where: StoreLocation = { dataDir: options.dataDir, databaseUrl: options.databaseUrl };
  const result: GcloudConfigResult = {
    auth,
    granted: [],
    tryCommand: `gcloud --configuration ${options.name} developer-connect connections list --location us-central1 --project ${options.project}`,
  };

  // What can fail on the server's side is done before gcloud's configuration is touched.
  if (auth === 'jwt') {
    const account = options.serviceAccount !== undefined ? parseServiceAccount(options.serviceAccount) : defaultServiceAccount(options.name, options.project);
    const keyFile = join(gcloud.configDir(), 'devconnect-emulator-keys', `${options.name}.json`);
    const newKey = await keyFor(where, account, `${server}/token`, keyFile);
    await checkKeyAccepted(keyFile, `${server}/token`, where);
    result.account = { email: account.email, keyFile, newKey };
    if (options.roles.length > 0) {
      const token = await ownerToken(where, options.project);
      const member = `serviceAccount:${account.email}`;
      for (const role of options.roles) {
        await readModifyWrite({ server, token, project: options.project }, (policy) => addBinding(policy, role, member));
      }
      result.granted = options.roles;
    }
  }

  let current = gcloud.configuration(options.name);
  if (current === undefined) {
    await gcloud.run(['config', 'configurations', 'create', options.name, '--no-activate']);
    current = new Map();
  }
  const properties = current;
  // One gcloud process a property (1-2 s each): only what differs is set.
  const set = async (property: string, value: string | undefined) => {
    if (properties.get(property) === value) return;
    await gcloud.run(['--configuration', options.name, 'config', ...(value === undefined ? ['unset', property] : ['set', property, value])]);
  };
  // gcloud appends the API version to an override, which must end with a slash.
  await set('api_endpoint_overrides/developerconnect', `${server}/`);
  await set('api_endpoint_overrides/cloudresourcemanager', `${server}/`);
  await set('core/project', options.project);
  await set('auth/disable_credentials', result.account === undefined ? 'true' : undefined);
  if (result.account !== undefined) {
    // Sets core/account of this configuration; gcloud then gets its tokens from the key's token_uri.
    await gcloud.run(['--configuration', options.name, 'auth', 'activate-service-account', result.account.email, '--key-file', result.account.keyFile]);
  }
  if (options.activate) await gcloud.run(['config', 'configurations', 'activate', options.name]);
  return result;
}

function collect(text: string, previous: string[]): string[] {
  return [...previous, text];
}

interface Flags {
  server: string;
  name: string;
  project: string;
  dataDir: string;
  databaseUrl?: string;
  serviceAccount?: string;
  role: string[];
  activate?: boolean;
}

export function gcloudConfigCommand(): Command {
  return new Command('gcloud-config')
    .description('create or update a gcloud configuration that points gcloud developer-connect at a running server, with credentials it accepts')
    .requiredOption('--project <project>', "the configuration's project (core/project)")
    .option('--server <url>', 'the server gcloud talks to', DEFAULT_SERVER)
    .option('--name <name>', 'the gcloud configuration to create or update', DEFAULT_NAME)
    .option('--data-dir <dir>', "with --auth jwt: the server's data directory, where the service account's key is registered", './.devconnect-emulator')
    .addOption(databaseUrlOption())
    .option('--service-account <id@project>', 'with --auth jwt: the service account gcloud acts as (default NAME@PROJECT)')
    .option('--role <role>', 'with --auth jwt: grant this role to the service account on the project (repeatable), e.g. roles/editor', collect, [])
    .option('--activate', "make it gcloud's active configuration (by default the active one is left as it is)")
    .action(async (opts: Flags) => {
      const result = await configureGcloud({ ...opts, roles: opts.role, activate: opts.activate === true });
      const out = (line: string) => process.stdout.write(line + '\n');
      out(`gcloud configuration [${opts.name}] now points at ${opts.server} (--auth ${result.auth}), project ${opts.project}.`);
      if (result.auth === 'none') {
        out('gcloud sends no credentials (auth/disable_credentials); the server lets every request through.');
        if (opts.role.length > 0 || opts.serviceAccount !== undefined) out('--service-account and --role were not needed: under --auth none every request has every permission.');
      } else if (result.account) {
        out(`gcloud acts as ${result.account.email}, with ${result.account.newKey ? 'a new key' : 'its key'} in ${result.account.keyFile}.`);
        const member = `serviceAccount:${result.account.email}`;
        if (result.granted.length > 0) out(`Granted ${result.granted.join(', ')} on projects/${opts.project}.`);
        else if (!(await hasAnyRole(opts, opts.project, member))) {
          out(`${member} has no role yet: run this again with --role roles/editor (or a Developer Connect role), or grant one with 'devconnect-emulator iam add-binding'.`);
        }
      }
      out(opts.activate ? 'It is now your active configuration. Try:' : 'Your active configuration is unchanged (--activate switches to it). Try:');
      out(`  ${result.tryCommand}`);
    });
}
