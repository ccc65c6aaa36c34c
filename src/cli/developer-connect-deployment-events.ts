import { Command } from 'commander';
import { collectPages, DEPLOYMENT_EVENTS, INSIGHTS_CONFIGS, invoke, leaf, nameFor, pagingOptions, type CommonOptions } from './developer-connect-call.js';
import { field, printList, printOne, type Column } from './developer-connect-output.js';

const COLUMNS: readonly Column<unknown>[] = [
  ['NAME', field('name')],
  ['STATE', field('state')],
  ['DEPLOY_TIME', field('deployTime')],
  ['RUNTIME_DEPLOYMENT_URI', field('runtimeDeploymentUri')],
];

/** `developer-connect insights-configs deployment-events …` (InsightsConfigService), which gcloud 528 lacks. */
export function insightsConfigsCommand(): Command {
  const events = new Command('deployment-events')
    .description('deployment events of an insights config (read-only; the server takes them from fixtures)')
    .addCommand(
      pagingOptions(leaf('list', 'list the deployment events of an insights config (ListDeploymentEvents)', 'list'))
        .option('--insights-config <insights-config>', 'the insights config: its id (with --location) or its full name')
        .option('--filter <filter>', 'an AIP-160 filter the server applies, e.g. \'state = STATE_ACTIVE\' or \'deploy_time > "2026-11-10T00:00:00Z"\'')
        .action(async (opts: CommonOptions & { pageSize?: number; limit?: number; filter?: string }) => {
          const config = nameFor('ListDeploymentEvents', INSIGHTS_CONFIGS, opts);
          printList(await collectPages(opts, 'ListDeploymentEvents', config, '/deploymentEvents', 'deploymentEvents', { filter: opts.filter }), opts.format, COLUMNS);
        }),
    )
    .addCommand(
      leaf('describe', 'show one deployment event (GetDeploymentEvent)', 'message')
        .argument('<deployment-event>', 'the event: its id (with --insights-config and --location) or its full name')
        .option('--insights-config <insights-config>', 'the insights config of the event: its id or its full name')
        .action(async (id: string, opts: CommonOptions) => {
          const name = nameFor('GetDeploymentEvent', DEPLOYMENT_EVENTS, opts, id);
          printOne(await invoke(opts, 'GetDeploymentEvent', name, 'GET'), opts.format, COLUMNS);
        }),
    );
  return new Command('insights-configs').description('insights configs: the methods gcloud developer-connect insights-configs lacks').addCommand(events);
}
