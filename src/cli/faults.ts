import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { parse } from 'yaml';
import { callServer, type ServerOptions } from './rest-client.js';

/** One call of the server's fault-rules API (`/emulator/v1/faults`); a non-2xx answer throws its google.rpc.Status. */
function call(options: ServerOptions, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
  return callServer(options, method, `/emulator/v1/faults${path}`, body);
}

/** The rules to add: the argument (JSON), or the file (JSON or YAML: one rule, a list, or {"faults": [...]}). */
function rulesToAdd(rule: string | undefined, file: string | undefined): unknown[] {
  if ((rule === undefined) === (file === undefined)) throw new Error('give a rule as a JSON argument, or --file FILE: one of the two.');
  let document: unknown;
  try {
    document = rule !== undefined ? JSON.parse(rule) : parse(readFileSync(file ?? '', 'utf8'));
  } catch (error) {
    throw new Error(`${rule !== undefined ? 'the rule' : file}: ${(error as Error).message}`, { cause: error });
  }
  if (Array.isArray(document)) return document;
  const faults = (document as { faults?: unknown } | null)?.faults;
  return Array.isArray(faults) ? faults : [document];
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function subcommand(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .option('--server <url>', 'the emulator to talk to', 'http://127.0.0.1:8080')
    .option('--token <token>', 'access token sent as a Bearer credential; under --auth jwt, of an owner on the root policy (default: $DEVCONNECT_TOKEN)');
}

/** `devconnect-emulator faults …`: the fault rules of a running server, through its REST API. */
export function faultsCommand(): Command {
  return new Command('faults')
    .description('add, list and clear the fault rules of a running server (delays and errors for client tests)')
    .addCommand(
      subcommand('add', 'add fault rules and print them with their ids')
        .argument('[rule]', 'one rule as JSON, e.g. \'{"method": "GetConnection", "times": 2, "error": {"code": "UNAVAILABLE"}}\'')
        .option('--file <file>', 'JSON or YAML: one rule, a list of rules, or {"faults": [...]}')
        .action(async (rule: string | undefined, opts: ServerOptions & { file?: string }) => {
          // One at a time, in order: rules are matched in the order they were added.
          const added: unknown[] = [];
          for (const each of rulesToAdd(rule, opts.file)) added.push(await call(opts, 'POST', '', each));
          print(added.length === 1 ? added[0] : added);
        }),
    )
    .addCommand(
      subcommand('list', 'print the rules, each with how many times it has fired').action(async (opts: ServerOptions) => {
        print(await call(opts, 'GET', ''));
      }),
    )
    .addCommand(
      subcommand('clear', 'remove every rule, or only the rule with this id')
        .argument('[id]', 'the id of one rule (as add and list print it)')
        .action(async (id: string | undefined, opts: ServerOptions) => {
          await call(opts, 'DELETE', id === undefined ? '' : `/${encodeURIComponent(id)}`);
          process.stdout.write(id === undefined ? 'Removed every fault rule.\n' : `Removed fault rule ${id}.\n`);
        }),
    );
}
