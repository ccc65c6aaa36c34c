import { chmodSync, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { createServiceAccountKey, DEFAULT_TOKEN_URI, serviceAccountEmail, type ServiceAccountKeyFile } from '../auth/service-account-keys.js';
import { withStore, type StoreLocation } from '../store/open.js';
import type { ServiceAccountKeyRecord } from '../store/store.js';
import { databaseUrlOption } from './database-url.js';

const DEFAULT_DATA_DIR = './.devconnect-emulator';

/** `keys create`: makes a key, stores its public half and returns the key file (written to `output` with mode 0600 when given). */
export async function createKeyFile(options: StoreLocation & {
  project: string;
  name: string;
  tokenUri?: string;
  output?: string;
}): Promise<ServiceAccountKeyFile> {
  const { keyFile } = await withStore(options, (store) => createServiceAccountKey(store, options));
  if (options.output !== undefined) {
    writeFileSync(options.output, JSON.stringify(keyFile, null, 2) + '\n', { mode: 0o600 });
    // `mode` applies only to a new file: an overwritten one keeps its permissions otherwise.
    chmodSync(options.output, 0o600);
  }
  return keyFile;
}

export async function listKeys(options: StoreLocation & { email?: string }): Promise<ServiceAccountKeyRecord[]> {
  return withStore(options, (store) => store.listServiceAccountKeys(options.email));
}

/** `keys delete`: tokens signed with the key, or issued for it, are refused from then on (within a second by a running server). */
export async function deleteKey(options: StoreLocation & { keyId: string }): Promise<ServiceAccountKeyRecord> {
  return withStore(options, async (store) => {
    const key = await store.getServiceAccountKey(options.keyId);
    if (!key) throw new Error(`there is no service-account key ${options.keyId}.`);
    if (key.deleteTime || !(await store.deleteServiceAccountKey(options.keyId, new Date()))) {
      throw new Error(`service-account key ${options.keyId} of ${key.email} is already deleted.`);
    }
    return key;
  });
}

export function serviceAccountsCommand(): Command {
  const keys = new Command('keys').description('keys of service accounts: a key file authenticates Google client libraries to this server');
  keys
    .command('create')
    .description('create a key and write its key file (Google format, for GOOGLE_APPLICATION_CREDENTIALS); only the public key is kept')
    .requiredOption('--project <project>', 'project ID of the service account')
    .requiredOption('--name <name>', 'service account ID: the NAME of NAME@PROJECT.iam.gserviceaccount.com')
    .option('--data-dir <dir>', "the server's data directory", DEFAULT_DATA_DIR)
    .addOption(databaseUrlOption())
    .option('--output <file>', 'write the key file here (mode 0600) instead of to standard output')
    .option('--token-uri <url>', "the key file's token_uri: this server's address + /token", DEFAULT_TOKEN_URI)
    .action(async (opts: { project: string; name: string; dataDir: string; databaseUrl?: string; output?: string; tokenUri: string }) => {
      const keyFile = await createKeyFile(opts);
      if (opts.output === undefined) process.stdout.write(JSON.stringify(keyFile, null, 2) + '\n');
      else process.stderr.write(`created key ${keyFile.private_key_id} for ${keyFile.client_email} in ${opts.output}\n`);
    });
  keys
    .command('list')
    .description('list the keys that are not deleted, of one service account or of all')
    .option('--project <project>', 'with --name: only this service account')
    .option('--name <name>', 'with --project: only this service account')
    .option('--data-dir <dir>', "the server's data directory", DEFAULT_DATA_DIR)
    .addOption(databaseUrlOption())
    .action(async (opts: { project?: string; name?: string; dataDir: string; databaseUrl?: string }) => {
      if ((opts.project === undefined) !== (opts.name === undefined)) throw new Error('give both --project and --name, or neither.');
      const email = opts.project !== undefined && opts.name !== undefined ? serviceAccountEmail(opts.project, opts.name) : undefined;
      for (const key of await listKeys({ dataDir: opts.dataDir, databaseUrl: opts.databaseUrl, email })) {
        process.stdout.write(`${key.keyId}  ${key.email}  ${key.createTime.toISOString()}\n`);
      }
    });
  keys
    .command('delete')
    .description('delete a key: tokens it signed, and tokens issued for it, stop working')
    .argument('<key-id>', 'the private_key_id of the key file')
    .option('--data-dir <dir>', "the server's data directory", DEFAULT_DATA_DIR)
    .addOption(databaseUrlOption())
    .action(async (keyId: string, opts: { dataDir: string; databaseUrl?: string }) => {
      const key = await deleteKey({ dataDir: opts.dataDir, databaseUrl: opts.databaseUrl, keyId });
      process.stderr.write(`deleted key ${key.keyId} of ${key.email}\n`);
    });
  return new Command('service-accounts').description('service accounts and their keys').addCommand(keys);
}
