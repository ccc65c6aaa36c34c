import { Command } from 'commander';
import {
  ACCOUNT_CONNECTORS,
  asyncOption,
  collectPages,
  finishDelete,
  invoke,
  leaf,
  MethodError,
  nameFor,
  pagingOptions,
  USERS,
  type CommonOptions,
} from './developer-connect-call.js';
import { field, printList, printOne, type Answer, type Column } from './developer-connect-output.js';
import type { Json } from './rest-client.js';

const USER_COLUMNS: readonly Column<unknown>[] = [
  ['NAME', field('name')],
  ['DISPLAY_NAME', field('displayName')],
  ['CREATE_TIME', field('createTime')],
  ['LAST_TOKEN_REQUEST_TIME', field('lastTokenRequestTime')],
];

/** A users command: the account connector is given by `--account-connector` (an id, or its full name). */
function usersLeaf(name: string, description: string, answer: Answer): Command {
  return leaf(name, description, answer).option('--account-connector <account-connector>', 'the account connector: its id (with --location) or its full name');
}

/**
 * FinishOAuth and FetchAccessToken answer a failed exchange with `exchange_error` rather than an
 * RPC error; the command fails with it, since nothing was connected or fetched.
 */
function failOnExchangeError(method: string, connector: string, response: Json): void {
  const error = response.exchangeError as { code?: string; description?: string } | undefined;
  if (error !== undefined) throw new MethodError(method, connector, new Error(`the OAuth exchange failed: ${error.code ?? ''}: ${error.description ?? ''}`));
}

/** `developer-connect account-connectors users …`: Users and the OAuth flow, which gcloud 528 lacks. */
export function accountConnectorsCommand(): Command {
  const users = new Command('users')
    .description("the Users of an account connector and the caller's own OAuth flow")
    .addCommand(
      pagingOptions(usersLeaf('list', 'list the Users of an account connector (ListUsers)', 'list'))
        .option('--filter <filter>', "an AIP-160 filter the server applies, e.g. 'display_name = \"alice@example.com\"'")
        .action(async (opts: CommonOptions & { pageSize?: number; limit?: number; filter?: string }) => {
          const connector = nameFor('ListUsers', ACCOUNT_CONNECTORS, opts);
          printList(await collectPages(opts, 'ListUsers', connector, '/users', 'users', { filter: opts.filter }), opts.format, USER_COLUMNS);
        }),
    )
    .addCommand(
      asyncOption(usersLeaf('delete', 'delete a User of an account connector (DeleteUser)', 'message'))
        .argument('<user>', 'the User: its id (with --account-connector and --location) or its full name')
        .action(async (id: string, opts: CommonOptions & { async?: boolean }) => {
          const user = nameFor('DeleteUser', USERS, opts, id);
          await finishDelete(opts, 'DeleteUser', user, await invoke(opts, 'DeleteUser', user, 'DELETE'), 'user');
        }),
    )
    .addCommand(
      usersLeaf('fetch-self', "show the caller's own User of an account connector (FetchSelf)", 'message').action(async (opts: CommonOptions) => {
        const connector = nameFor('FetchSelf', ACCOUNT_CONNECTORS, opts);
        printOne(await invoke(opts, 'FetchSelf', connector, 'GET', '/users:fetchSelf'), opts.format, USER_COLUMNS);
      }),
    )
    .addCommand(
      asyncOption(usersLeaf('delete-self', "delete the caller's own User of an account connector (DeleteSelf)", 'message')).action(async (opts: CommonOptions & { async?: boolean }) => {
        const connector = nameFor('DeleteSelf', ACCOUNT_CONNECTORS, opts);
        await finishDelete(opts, 'DeleteSelf', connector, await invoke(opts, 'DeleteSelf', connector, 'DELETE', '/users:deleteSelf'), 'user');
      }),
    )
    .addCommand(
      usersLeaf('start-oauth-flow', "start connecting the caller's account: prints the ticket and the authorize page to open (StartOAuth)", 'message').action(async (opts: CommonOptions) => {
        const connector = nameFor('StartOAuth', ACCOUNT_CONNECTORS, opts);
        printOne(await invoke(opts, 'StartOAuth', connector, 'GET', '/users:startOAuthFlow'), opts.format, [
          ['TICKET', field('ticket')],
          ['AUTH_URI', field('authUri')],
        ]);
      }),
    )
    .addCommand(
      usersLeaf('finish-oauth-flow', 'finish the flow with the code the authorize page gave and the ticket of start-oauth-flow: makes your User (FinishOAuth)', 'message')
        .requiredOption('--code <code>', 'the authorization code the authorize page issued')
        .requiredOption('--ticket <ticket>', 'the ticket start-oauth-flow printed')
        .action(async (opts: CommonOptions & { code: string; ticket: string }) => {
          const connector = nameFor('FinishOAuth', ACCOUNT_CONNECTORS, opts);
          const response = await invoke(opts, 'FinishOAuth', connector, 'GET', '/users:finishOAuthFlow', { 'oauthParams.code': opts.code, 'oauthParams.ticket': opts.ticket });
          failOnExchangeError('FinishOAuth', connector, response);
          process.stderr.write(`Finished the OAuth flow of account connector [${connector}].\n`);
          printOne(response, opts.format, []);
        }),
    )
    .addCommand(
      usersLeaf('fetch-access-token', "fetch an access token for the caller's own User (FetchAccessToken)", 'message').action(async (opts: CommonOptions) => {
        const connector = nameFor('FetchAccessToken', ACCOUNT_CONNECTORS, opts);
        const response = await invoke(opts, 'FetchAccessToken', connector, 'POST', '/users:fetchAccessToken', {}, {});
        failOnExchangeError('FetchAccessToken', connector, response);
        printOne(response, opts.format, [
          ['TOKEN', field('token')],
          ['EXPIRATION_TIME', field('expirationTime')],
          ['SCOPES', field('scopes')],
        ]);
      }),
    );
  return new Command('account-connectors').description('account connectors: the methods gcloud alpha developer-connect account-connectors lacks').addCommand(users);
}
