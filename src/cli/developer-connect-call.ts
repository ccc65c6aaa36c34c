/**
 * What every `devconnect-emulator developer-connect …` command shares: gcloud's flags (`--project`,
 * `--location`, `--format`, `--async`), resource arguments given as an id or a full name, and calls
 * of the server's REST API whose every error names the method and the resource.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { Code } from '../gen/google/rpc/code_pb.js';
import { formatOption, printOne, type Answer, type Format } from './developer-connect-output.js';
import { callServer, DEFAULT_SERVER, type Json, type ServerOptions } from './rest-client.js';

export interface CommonOptions extends ServerOptions {
  project?: string;
  location?: string;
  format: Format;
}

/**
 * One level of a resource name: its collection segment and the flag that gives its id. The last level
 * of a resource given as a positional argument has no such flag; its `flag` only names it in messages.
 */
export interface Level {
  collection: string;
  flag: string;
  /** The commander key of the flag (`accountConnector` for `--account-connector`). */
  key: string;
}

const level = (collection: string, flag: string): Level => ({
  collection,
  flag,
  key: flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()),
});
export const PROJECT = level('projects', '--project');
export const LOCATION = level('locations', '--location');
export const CONNECTIONS = [PROJECT, LOCATION, level('connections', '--connection')] as const;
export const GIT_REPOSITORY_LINKS = [...CONNECTIONS, level('gitRepositoryLinks', '--git-repository-link')] as const;
export const ACCOUNT_CONNECTORS = [PROJECT, LOCATION, level('accountConnectors', '--account-connector')] as const;
export const USERS = [...ACCOUNT_CONNECTORS, level('users', '--user')] as const;
export const INSIGHTS_CONFIGS = [PROJECT, LOCATION, level('insightsConfigs', '--insights-config')] as const;
export const DEPLOYMENT_EVENTS = [...INSIGHTS_CONFIGS, level('deploymentEvents', '--deployment-event')] as const;

const pattern = (levels: readonly Level[]) => levels.map((l) => `${l.collection}/${l.flag.slice(2).toUpperCase().replaceAll('-', '_')}`).join('/');

/**
 * The full name of a resource, as gcloud's resource arguments take it: `value` (the positional
 * argument, else the last level's flag) is either the full name, or an id whose parents come from
 * their flags (`--project`, `--location`, `--connection`, …), each of them an id or a full name too.
 */
export function resourceName(levels: readonly Level[], options: object, value?: string, whole: readonly Level[] = levels): string {
  const last = levels.at(-1);
  if (!last) throw new Error('a resource name has at least one level');
  const given = value ?? (options as Record<string, unknown>)[last.key];
  if (typeof given !== 'string' || given === '') {
    throw new Error(`${last.flag} is required, unless the full name is given (${pattern(whole)}).`);
  }
  if (!given.includes('/')) {
    return levels.length === 1 ? `${last.collection}/${given}` : `${resourceName(levels.slice(0, -1), options, undefined, whole)}/${last.collection}/${given}`;
  }
  const segments = given.split('/');
  const fits = segments.length === levels.length * 2 && levels.every((l, i) => segments[2 * i] === l.collection && segments[2 * i + 1] !== '');
  if (!fits) throw new Error(`'${given}' is neither an id nor a name of the form ${pattern(levels)}.`);
  return given;
}

/** resourceName for `method`: a name that cannot be made (a flag missing) is an error naming the method. */
export function nameFor(method: string, levels: readonly Level[], options: object, value?: string): string {
  try {
    return resourceName(levels, options, value);
  } catch (error) {
    throw new Error(`${method}: ${(error as Error).message}`, { cause: error });
  }
}

/** A command with the flags every developer-connect command takes; what it prints (`answer`) sets `--format`'s default. */
export function leaf(name: string, description: string, answer: Answer): Command {
  return new Command(name)
    .description(description)
    .addOption(new Option('--project <project>', 'the project id (or give full resource names)').env('CLOUDSDK_CORE_PROJECT'))
    .option('--location <location>', 'the location id, e.g. us-central1 (or give full resource names)')
    .addOption(formatOption(answer))
    .addOption(new Option('--server <url>', 'the emulator to talk to').default(DEFAULT_SERVER).env('DEVCONNECT_SERVER'))
    .addOption(new Option('--token <token>', 'access token sent as a Bearer credential, under --auth jwt').env('DEVCONNECT_TOKEN'));
}

/** `--page-size` and `--limit`, for the commands that follow a method's pages. */
export function pagingOptions(command: Command): Command {
  return command
    .option('--page-size <n>', 'how many items to ask the server for per page', positiveInteger)
    .option('--limit <n>', 'stop after this many items', positiveInteger);
}

function positiveInteger(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`'${text}' is not a positive integer.`);
  return n;
}

/** A name as a URL path: each segment escaped, so an id never changes the route. */
const pathOf = (name: string) => name.split('/').map(encodeURIComponent).join('/');

/** A method's call failed: the method, its resource and the server's message (or why the server was not reached). */
export class MethodError extends Error {
  constructor(method: string, resource: string, cause: unknown) {
    super(`${method} ${resource}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * Calls `method` on `resource` at `/v1/{resource}{suffix}` (`suffix` as `:fetchGitRefs` or
 * `/users`), with the query parameters that are set.
 */
export async function invoke(
  options: ServerOptions,
  method: string,
  resource: string,
  http: 'GET' | 'POST' | 'DELETE',
  suffix = '',
  query: Record<string, string | number | undefined> = {},
  body?: unknown,
): Promise<Json> {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const search = params.size > 0 ? `?${params}` : '';
  try {
    return await callServer(options, http, `/v1/${pathOf(resource)}${suffix}${search}`, body);
  } catch (error) {
    throw new MethodError(method, resource, error);
  }
}

/** Follows `nextPageToken` through a method's pages and returns the `field` items, at most `limit` of them. */
export async function collectPages<T>(
  options: ServerOptions & { pageSize?: number; limit?: number },
  method: string,
  resource: string,
  suffix: string,
  field: string,
  query: Record<string, string | number | undefined> = {},
): Promise<T[]> {
  const items: T[] = [];
  let pageToken: string | undefined;
  do {
    const page = await invoke(options, method, resource, 'GET', suffix, { ...query, pageSize: options.pageSize, pageToken });
    items.push(...((page[field] as T[] | undefined) ?? []));
    pageToken = typeof page.nextPageToken === 'string' && page.nextPageToken !== '' ? page.nextPageToken : undefined;
  } while (pageToken !== undefined && (options.limit === undefined || items.length < options.limit));
  return options.limit === undefined ? items : items.slice(0, options.limit);
}

/** How long to wait between two GetOperation calls: gcloud-like back-off, from 100 ms up to 2 s. */
const POLL_MS = { first: 100, factor: 1.5, max: 2_000 };

/**
 * What gcloud's delete commands do with the Operation a method returned: say the request was issued;
 * under `--async`, print the operation and stop; otherwise wait for it with a progress line on stderr
 * (`Waiting for operation [NAME] to complete...done.`) and say what was deleted. An operation that
 * ends in an error fails the command with that error.
 */
export async function finishDelete(options: CommonOptions & { async?: boolean }, method: string, resource: string, started: Json, kind: string): Promise<void> {
  const name = String(started.name);
  process.stderr.write(`Delete request issued for: [${resource}]\n`);
  if (options.async) {
    process.stderr.write(`Check operation [${name}] for status.\n`);
    printOne(started, options.format, [
      ['NAME', (op: Json) => op.name],
      ['DONE', (op: Json) => op.done === true],
    ]);
    return;
  }
  let operation = started;
  if (operation.done !== true) {
    process.stderr.write(`Waiting for operation [${name}] to complete...`);
    for (let delay = POLL_MS.first; operation.done !== true; delay = Math.min(delay * POLL_MS.factor, POLL_MS.max)) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      try {
        operation = await callServer(options, 'GET', `/v1/${pathOf(name)}`);
      } catch (error) {
        process.stderr.write('failed.\n');
        throw new MethodError(method, resource, new Error(`waiting for operation ${name}: ${(error as Error).message}`, { cause: error }));
      }
    }
    process.stderr.write(operation.error === undefined ? 'done.\n' : 'failed.\n');
  }
  const error = operation.error as { code?: number; message?: string } | undefined;
  if (error !== undefined) {
    throw new MethodError(method, resource, new Error(`operation ${name} failed: ${Code[error.code ?? Code.UNKNOWN] ?? `code ${error.code}`}: ${error.message ?? ''}`));
  }
  const target = (operation.metadata as { target?: unknown } | undefined)?.target;
  process.stderr.write(`Deleted ${kind} [${typeof target === 'string' && target !== '' ? target : resource}].\n`);
}

/** `--async`, gcloud's flag for returning the operation at once. */
export function asyncOption(command: Command): Command {
  return command.option('--async', 'return at once with the operation, without waiting for it to finish');
}
