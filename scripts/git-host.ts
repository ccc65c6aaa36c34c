/**
 * A local git host for the README's walk-through: the tests' git host (test/support/git-host.ts,
 * Debian's `git http-backend` behind node:http) on a port of your choice, serving one repository
 * (a commit on `main`, a branch `dev`, a tag `v1.0`) to HTTP Basic credentials. Ctrl-C stops it
 * and removes its repositories.
 *
 *   npm run git-host -- [--port 9418] [--repository shop] [--username git-user] [--password the-password]
 */
import { parseArgs } from 'node:util';
import { startGitHost } from '../test/support/git-host.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9418' },
    repository: { type: 'string', default: 'shop' },
    username: { type: 'string', default: 'git-user' },
    password: { type: 'string', default: 'the-password' },
  },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`--port must be a TCP port, got ${values.port}`);

const host = await startGitHost({ port, basicAuth: { username: values.username, password: values.password } });
host.createRepository(values.repository);
console.log(`git host serving ${host.url}/${values.repository}.git (branches main and dev, tag v1.0) to user ${values.username}; Ctrl-C stops it`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void host.stop().then(() => process.exit(0)));
}
