import { Command } from 'commander';
import { connectionsCommand } from './developer-connect-connections.js';
import { insightsConfigsCommand } from './developer-connect-deployment-events.js';
import { accountConnectorsCommand } from './developer-connect-users.js';

/**
 * `devconnect-emulator developer-connect …`: only the Developer Connect methods that gcloud 528 has
 * no command for, named as gcloud names its commands, over the server's REST API. For everything
 * else use gcloud itself (`devconnect-emulator gcloud-config` points it at the server).
 */
export function developerConnectCommand(): Command {
  return new Command('developer-connect')
    .description("the Developer Connect methods gcloud 528 has no command for (use gcloud for the rest: see gcloud-config)")
    .addCommand(connectionsCommand())
    .addCommand(accountConnectorsCommand())
    .addCommand(insightsConfigsCommand());
}
