import { Option } from 'commander';

/** `--database-url` (or DATABASE_URL): the commands that open the store find it where the server keeps it. */
export function databaseUrlOption(what = "the server's PostgreSQL database (postgres://…), when it keeps its state there rather than in --data-dir"): Option {
  return new Option('--database-url <url>', what).env('DATABASE_URL');
}
