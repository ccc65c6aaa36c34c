import { Command, InvalidArgumentError } from 'commander';
import { CLOUD_PLATFORM_SCOPE } from '../auth/principal.js';
import { TokenSigningKey } from '../auth/signing-key.js';
import { withStore, type StoreLocation } from '../store/open.js';
import { databaseUrlOption } from './database-url.js';
import { durationOption } from './duration.js';

/** Short scope names, as gcloud takes them: `cloud-platform` is https://www.googleapis.com/auth/cloud-platform. */
export function expandScope(scope: string): string {
  return scope.includes('://') ? scope : `https://www.googleapis.com/auth/${scope}`;
}

/** An access token signed with the data directory's key, which a server on that directory accepts. */
export async function issueToken(options: StoreLocation & { principal: string; scopes?: readonly string[]; ttlMs?: number }): Promise<string> {
  if (!/^(user|serviceAccount):[^\s:]+$/.test(options.principal)) {
    throw new Error(`principal '${options.principal}' must be an IAM member such as user:alice@example.com or serviceAccount:ci@my-project.iam.gserviceaccount.com.`);
  }
  const ttlSeconds = Math.round((options.ttlMs ?? 3_600_000) / 1000);
  if (ttlSeconds < 1) throw new Error('--ttl must be at least 1s.');
  const key = await withStore(options, (store) => TokenSigningKey.load(store, options.databaseUrl ? undefined : options.dataDir));
  const { token } = await key.sign({ member: options.principal, scopes: (options.scopes ?? [CLOUD_PLATFORM_SCOPE]).map(expandScope), ttlSeconds });
  return token;
}

function scopeList(text: string): string[] {
  const scopes = text.split(/[\s,]+/).filter((s) => s !== '');
  if (scopes.length === 0) throw new InvalidArgumentError('expected one or more scopes, separated by commas.');
  return scopes;
}

export function tokenCommand(): Command {
  return new Command('token')
    .description("print an access token for a principal, signed with the server's key (for --auth jwt)")
    .requiredOption('--principal <member>', 'who the token speaks for: user:EMAIL or serviceAccount:EMAIL')
    .option('--scopes <scopes>', 'OAuth scopes, comma-separated; short names mean https://www.googleapis.com/auth/NAME', scopeList, [CLOUD_PLATFORM_SCOPE])
    .option('--ttl <duration>', 'how long the token is valid (e.g. 15m, 1h, 7d)', durationOption, 3_600_000)
    .option('--data-dir <dir>', "the server's data directory (holds the signing key)", './.devconnect-emulator')
    .addOption(databaseUrlOption())
    .action(async (opts: { principal: string; scopes: string[]; ttl: number; dataDir: string; databaseUrl?: string }) => {
      const token = await issueToken({ dataDir: opts.dataDir, databaseUrl: opts.databaseUrl, principal: opts.principal, scopes: opts.scopes, ttlMs: opts.ttl });
      process.stdout.write(token + '\n');
    });
}
