#!/usr/bin/env node
import { Command } from 'commander';
import { serveCommand } from './serve.js';

const program = new Command('devconnect-emulator')
  .description('A self-hostable emulator of Google Developer Connect v1 and its long-running operations.')
  .addCommand(serveCommand());

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`devconnect-emulator: ${(error as Error).message}\n`);
  process.exit(1);
});
