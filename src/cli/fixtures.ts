import { Command } from 'commander';
import { loadFixtures } from '../api/fixtures.js';
import { RESOURCES } from '../resources/index.js';
import { withStore, type StoreLocation } from '../store/open.js';
import { databaseUrlOption } from './database-url.js';

/** `fixtures load FILE`: seeds resources into the server's store, also while the server runs. */
export function fixturesCommand(): Command {
  return new Command('fixtures').description('seed resources the API cannot create (DeploymentEvents) or a known starting state').addCommand(
    new Command('load')
      .description('load a fixture file: a JSON object of collection → list of resources (proto3 JSON, each with its full name)')
      .argument('<file>', 'the fixture file')
      .option('--data-dir <dir>', "the server's data directory", './.devconnect-emulator')
      .addOption(databaseUrlOption())
      .option('--public-url <url>', "the server's base URL, for the URIs of fields the server derives (a connection's installation_state.action_uri)", 'http://127.0.0.1:8080')
      .action(async (file: string, opts: StoreLocation & { publicUrl: string }) => {
        const counts = await withStore(opts, (store) => loadFixtures(store, RESOURCES, file, opts.publicUrl));
        const into = opts.databaseUrl ? 'the PostgreSQL database' : opts.dataDir;
        process.stdout.write(`Loaded ${Object.entries(counts).map(([c, n]) => `${n} ${c}`).join(', ') || 'nothing'} into ${into}.\n`);
      }),
  );
}
