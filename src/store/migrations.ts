import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Migration {
  version: number;
  sql: string;
}

/** The numbered SQL files of one dialect (`migrations/<dialect>/000001_name.sql` at the package root). */
export function loadMigrations(dialect: 'sqlite' | 'postgres'): Migration[] {
  // src/store and dist/store sit at the same depth below the package root.
  const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations', dialect);
  return readdirSync(dir)
    .filter((f) => /^\d{6}_.*\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 6)), sql: readFileSync(join(dir, f), 'utf8') }));
}
