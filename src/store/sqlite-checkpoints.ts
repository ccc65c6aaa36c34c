import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** SQLite's answer to `PRAGMA wal_checkpoint`: frames in the WAL, and how many of them are now in the database file. */
interface CheckpointResult {
  log: number;
  checkpointed: number;
}

/** The worker is asked for a checkpoint after this many commits since it was last asked. */
const COMMITS_PER_CHECKPOINT = 50;
/** A WAL this many frames long (8 MB of 4 KB pages; SQLite's own limit is 1,000) is started over by the writer (see below). */
const RESTART_FRAMES = 2_000;
/** With no answer from the worker after this many commits, the writer checkpoints itself, as SQLite would have. */
const COMMITS_WITHOUT_ANSWER = 1_000;

/**
 * The worker: on a connection of its own to the file, a PASSIVE checkpoint each time it is asked,
 * answered with SQLite's result. Code of its own rather than a module, so that it runs the same
 * from dist/ and from the sources under tsx (whose loader a worker does not inherit); the
 * checkpoint's syncs follow the connection that runs it, hence the writer's `synchronous`.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('synchronous = NORMAL');
parentPort.on('message', () => parentPort.postMessage(db.pragma('wal_checkpoint(PASSIVE)')[0]));
parentPort.postMessage('ready');
`;

/**
 * WAL checkpoints off the event loop. SQLite runs one inside the commit that takes the WAL past
 * 1,000 frames: it copies the pages into the database file and syncs both, which took 5-50 ms on
 * this machine's disk while every call in flight waited (the slow tail of `npm run bench`'s
 * cancel latency). Here the writer's connection has none of its own (`wal_autocheckpoint = 0`):
 * a worker thread, on a connection of its own, runs a PASSIVE checkpoint every
 * COMMITS_PER_CHECKPOINT commits, beside the writes (WAL lets a checkpoint and a writer run together).
 *
 * The WAL starts over from its first frame only at a write that finds every frame already in the
 * database file: between bursts of writes, after the worker's checkpoint. Under writes that never
 * pause it would only grow, so once it is RESTART_FRAMES long the writer checkpoints, right after
 * the worker's: only the frames written meanwhile are left to copy. If the worker fails, the
 * writer's own checkpoints are turned back on.
 */
export class WalCheckpoints {
  private readonly worker: Worker;
  /** Until the worker has started, the writer keeps SQLite's own checkpoints. */
  private ready = false;
  private asked = false;
  private sinceAsked = 0;
  private stopped = false;

  constructor(
    file: string,
    private readonly db: Database.Database,
  ) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER, { eval: true, workerData: { file, driver } });
    // It never keeps the process alive: a server or command that ends needs no checkpoint of it.
    this.worker.unref();
    this.worker.on('message', (message: CheckpointResult | 'ready') => this.answered(message));
    this.worker.on('error', () => this.writerCheckpoints());
    this.worker.on('exit', () => this.writerCheckpoints());
  }

  /** Counts a commit of the writer, and asks for a checkpoint when one is due. */
  committed(): void {
    if (this.stopped || !this.ready) return;
    this.sinceAsked++;
    if (!this.asked && this.sinceAsked >= COMMITS_PER_CHECKPOINT) {
      this.asked = true;
      this.sinceAsked = 0;
      this.worker.postMessage('checkpoint');
    } else if (this.asked && this.sinceAsked >= COMMITS_WITHOUT_ANSWER) {
      this.sinceAsked = 0;
      this.db.pragma('wal_checkpoint(PASSIVE)');
    }
  }

  /** Stops the worker (and its connection), so that the writer's connection is the last to close and SQLite checkpoints at its close. */
  async close(): Promise<void> {
    this.stopped = true;
    await this.worker.terminate();
  }

  private answered(message: CheckpointResult | 'ready'): void {
    if (this.stopped || !this.db.open) return;
    if (message === 'ready') {
      this.db.pragma('wal_autocheckpoint = 0');
      this.ready = true;
      return;
    }
    this.asked = false;
    if (message.log >= RESTART_FRAMES) this.db.pragma('wal_checkpoint(PASSIVE)');
  }

  private writerCheckpoints(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ready && this.db.open) this.db.pragma('wal_autocheckpoint = 1000');
  }
}
