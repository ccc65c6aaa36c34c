#!/usr/bin/env node
import { Command } from 'commander';
import { developerConnectCommand } from './developer-connect.js';
import { faultsCommand } from './faults.js';
import { fixturesCommand } from './fixtures.js';
import { gcloudConfigCommand } from './gcloud-config.js';
import { iamCommand } from './iam.js';
import { serveCommand } from './serve.js';
import { serviceAccountsCommand } from './service-accounts.js';
import { tokenCommand } from './token.js';

const program = new Command('devconnect-emulator')
  .description('A self-hostable emulator of Google Developer Connect v1 and its long-running operations.')
  .addCommand(serveCommand())
  .addCommand(tokenCommand())
  .addCommand(serviceAccountsCommand())
  .addCommand(iamCommand())
  .addCommand(fixturesCommand())
  .addCommand(faultsCommand())
  .addCommand(gcloudConfigCommand())
  .addCommand(developerConnectCommand());

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`devconnect-emulator: ${(error as Error).message}\n`);
  process.exit(1);
});
