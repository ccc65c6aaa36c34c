import { Command, Option } from 'commander';
import { collectPages, CONNECTIONS, GIT_REPOSITORY_LINKS, invoke, leaf, nameFor, pagingOptions, type CommonOptions } from './developer-connect-call.js';
import { field, printList } from './developer-connect-output.js';

type PagedOptions = CommonOptions & { pageSize?: number; limit?: number };

/** FetchGitRefs, the one git-repository-links method gcloud 528 has no command for. */
function fetchGitRefs(): Command {
  return pagingOptions(leaf('fetch-git-refs', "list a git repository link's branches or tags, read from its git host (FetchGitRefs)", 'list'))
    .argument('<git-repository-link>', 'the link: its id (with --connection and --location) or its full name')
    .option('--connection <connection>', 'the connection of the link: its id or its full name')
    .addOption(new Option('--ref-type <type>', 'which refs to list').choices(['branch', 'tag']).makeOptionMandatory())
    .action(async (id: string, opts: PagedOptions & { refType: 'branch' | 'tag' }) => {
      const link = nameFor('FetchGitRefs', GIT_REPOSITORY_LINKS, opts, id);
      const refs = await collectPages<string>(opts, 'FetchGitRefs', link, ':fetchGitRefs', 'refNames', { refType: opts.refType.toUpperCase() });
      printList(refs, opts.format, [['REF_NAME', (ref) => ref]]);
    });
}

/** `developer-connect connections …`: the connection methods gcloud 528 has no command for. */
export function connectionsCommand(): Command {
  return new Command('connections')
    .description('Developer Connect connections: the methods gcloud developer-connect connections lacks')
    .addCommand(
      pagingOptions(leaf('fetch-linkable-git-repositories', "list the repositories a connection's provider offers to link (FetchLinkableGitRepositories)", 'list'))
        .argument('<connection>', 'the connection: its id (with --location) or its full name')
        .action(async (id: string, opts: PagedOptions) => {
          const connection = nameFor('FetchLinkableGitRepositories', CONNECTIONS, opts, id);
          const repositories = await collectPages<unknown>(opts, 'FetchLinkableGitRepositories', connection, ':fetchLinkableGitRepositories', 'linkableGitRepositories');
          printList(repositories, opts.format, [['CLONE_URI', field('cloneUri')]]);
        }),
    )
    .addCommand(
      leaf('fetch-github-installations', "list the GitHub app installations of a GitHub connection's account (FetchGitHubInstallations)", 'list')
        .argument('<connection>', 'the connection: its id (with --location) or its full name')
        .action(async (id: string, opts: CommonOptions) => {
          const connection = nameFor('FetchGitHubInstallations', CONNECTIONS, opts, id);
          const response = await invoke(opts, 'FetchGitHubInstallations', connection, 'GET', ':fetchGitHubInstallations');
          printList((response.installations as unknown[] | undefined) ?? [], opts.format, [
            ['ID', field('id')],
            ['NAME', field('name')],
            ['TYPE', field('type')],
          ]);
        }),
    )
    .addCommand(new Command('git-repository-links').description('git repository links of a connection: the methods gcloud lacks').addCommand(fetchGitRefs()));
}
