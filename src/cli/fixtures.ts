import { Command } from 'commander';
import { loadFixtures } from '../api/fixtures.js';
import { RESOURCES } from '../resources/index.js';
import { SqliteStore } from '../store/sqlite.js';

/** `fixtures load FILE`: seeds resources into a data directory, also while a server runs on it (SQLite WAL). */
export function fixturesCommand(): Command {
  return new Command('fixtures').description('seed resources the API cannot create (DeploymentEvents) or a known starting state').addCommand(
    new Command('load')
      .description('load a fixture file: a JSON object of collection → list of resources (proto3 JSON, each with its full name)')
      .argument('<file>', 'the fixture file')
      .option('--data-dir <dir>', "the server's data directory", './.devconnect-emulator')
      .action(async (file: string, opts: { dataDir: string }) => {
        const store = SqliteStore.open(opts.dataDir);
        try {
          const counts = await loadFixtures(store, RESOURCES, file);
          process.stdout.write(`Loaded ${Object.entries(counts).map(([c, n]) => `${n} ${c}`).join(', ') || 'nothing'} into ${opts.dataDir}.\n`);
        } finally {
          await store.close();
        }
      }),
  );
}
