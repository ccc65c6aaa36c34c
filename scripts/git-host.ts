/**
 * A local git host for the README's walk-through: the tests' git host (test/support/git-host.ts,
 * Debian's `git http-backend` behind node:http) on a port of your choice, serving one repository
 * (a commit on `main`, a branch `dev`, a tag `v1.0`) to HTTP Basic credentials. Ctrl-C stops it
 * and removes its repositories.
 *
 *   npm run git-host -- [--port 9418] [--repository shop] [--username git-user] [--password the-password]
 */
import { Command } from 'commander';
import { portOption } from '../src/cli/port.js';
import { startGitHost } from '../test/support/git-host.js';

const options = new Command('git-host')
  .option('--port <port>', 'the port on 127.0.0.1', portOption, 9418)
  .option('--repository <name>', 'the repository it serves, as NAME.git', 'shop')
  .option('--username <name>', 'the user git must send', 'git-user')
  .option('--password <password>', "that user's password", 'the-password')
  .parse()
  .opts<{ port: number; repository: string; username: string; password: string }>();

const host = await startGitHost({ port: options.port, basicAuth: { username: options.username, password: options.password } });
host.createRepository(options.repository);
console.log(`git host serving ${host.url}/${options.repository}.git (branches main and dev, tag v1.0) to user ${options.username}; Ctrl-C stops it`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void host.stop().then(() => process.exit(0)));
}
