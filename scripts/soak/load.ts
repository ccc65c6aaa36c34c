/**
 * The mixed load: K clients, each one call at a time over REST, choosing by a seeded generator among
 * creates (with a requestId, retried with the same id while the server is down, as AIP-155 allows),
 * creates cancelled at once, gets, lists, cancels of running operations, deletes of done ones,
 * replays of acknowledged requestIds, and gets of the connections that succeeded. Whatever the server
 * acknowledges goes into the ledger; whatever contradicts an earlier answer goes into the findings.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Findings, Ledger, outcomeOf, Random, type Acknowledged } from './ledger.js';
import { RestClient, type Json, type Tally } from './rest.js';

export const PARENT = 'projects/demo/locations/us-central1';
const CREATE_BODY: Json = { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } };
/** While the server is down (a SIGKILL and restart), a create is sent again with its requestId this often, this many times. */
const RETRY_MS = 1_000;
const RETRIES = 30;

type Action = 'create' | 'createThenCancel' | 'get' | 'list' | 'cancel' | 'delete' | 'replay' | 'getConnection';
const WEIGHTS: [Action, number][] = [
  ['create', 25],
  ['createThenCancel', 12],
  ['get', 25],
  ['list', 8],
  ['cancel', 10],
  ['delete', 8],
  ['replay', 5],
  ['getConnection', 7],
];
const TOTAL_WEIGHT = WEIGHTS.reduce((sum, [, weight]) => sum + weight, 0);

function choose(random: Random): Action {
  let roll = random.below(TOTAL_WEIGHT);
  for (const [action, weight] of WEIGHTS) {
    if (roll < weight) return action;
    roll -= weight;
  }
  return 'get';
}

export interface LoadOptions {
  url: string;
  clients: number;
  seed: number;
  /** Pause between two calls of one client, so the soak loads the server without saturating a shared machine. */
  thinkMs: number;
}

export class Load {
  readonly ledger = new Ledger();
  readonly findings = new Findings();
  /** Creates acknowledged only on a later attempt with the same requestId (the first got no answer). */
  acknowledgedOnRetry = 0;
  /** Replays that reached the server after the soak's own DeleteOperation of the first operation: they started new work. */
  replaysAfterDelete = 0;
  cancelsAcknowledged = 0;
  deletesAcknowledged = 0;
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  private readonly clients: RestClient[] = [];

  constructor(
    private readonly options: LoadOptions,
    private readonly tally: Tally,
  ) {}

  start(): void {
    for (let i = 0; i < this.options.clients; i++) {
      const client = new RestClient(this.options.url, this.tally);
      this.clients.push(client);
      this.loops.push(this.run(client, new Random(this.options.seed * 1_000 + i)));
    }
  }

  /** Lets every client finish the call it is making, then returns. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    for (const client of this.clients) client.close();
  }

  private async run(client: RestClient, random: Random): Promise<void> {
    while (!this.stopped) {
      await this.act(client, random, choose(random));
      await sleep(this.options.thinkMs * (0.5 + random.next()));
    }
  }

  private async act(client: RestClient, random: Random, action: Action): Promise<void> {
    switch (action) {
      case 'create':
      case 'createThenCancel': {
        const entry = await this.create(client, random);
        if (entry && action === 'createThenCancel') await this.cancel(client, entry);
        return;
      }
      case 'get': {
        const entry = this.ledger.pick(random);
        if (entry) await this.get(client, entry);
        return;
      }
      case 'list': {
        const filter = random.next() < 0.5 ? '&filter=done%3Dfalse' : '';
        const sentAt = performance.now();
        const answer = await client.call('list', 'GET', `/v1/${PARENT}/operations?pageSize=50${filter}`);
        for (const operation of (answer?.status === 200 ? (answer.json.operations as Json[] | undefined) : undefined) ?? []) {
          const entry = this.ledger.get(String(operation.name));
          if (entry) this.observe(entry, operation, 'list', sentAt);
        }
        return;
      }
      case 'cancel': {
        const entry = this.ledger.pickRunning(random);
        if (entry) await this.cancel(client, entry);
        return;
      }
      case 'delete': {
        const entry = this.ledger.pickDone(random);
        if (!entry) return;
        entry.deleteSent = true;
        const answer = await client.call('delete', 'DELETE', `/v1/${entry.operation}`);
        if (answer?.status === 200) {
          entry.deleted = true;
          this.deletesAcknowledged++;
        }
        return;
      }
      case 'replay': {
        const entry = this.ledger.pick(random);
        if (entry && !entry.deleteSent) await this.replay(client, entry);
        return;
      }
      case 'getConnection': {
        const entry = this.ledger.pickDone(random);
        if ((entry?.seen !== 'succeeded' && entry?.seen !== 'cancelled') || entry.connectionReused) return;
        const answer = await client.call('getConnection', 'GET', `/v1/${entry.connection}`);
        if (entry.seen === 'succeeded' && answer?.status === 404) this.findings.add('connection of a succeeded create answered 404', entry.connection);
        if (entry.seen === 'cancelled' && answer?.status === 200) this.findings.add('connection of a cancelled create exists', entry.connection);
        return;
      }
    }
  }

  /** CreateConnection with a requestId, sent again with the same id until it is answered (or the soak ends). */
  private async create(client: RestClient, random: Random): Promise<Acknowledged | undefined> {
    const connectionId = this.ledger.newConnectionId();
    const requestId = random.uuid();
    const path = `/v1/${PARENT}/connections?connectionId=${connectionId}&requestId=${requestId}`;
    for (let attempt = 1; attempt <= RETRIES; attempt++) {
      const sentAt = performance.now();
      const answer = await client.call(attempt === 1 ? 'create' : 'create (retry)', 'POST', path, CREATE_BODY);
      if (answer === undefined) {
        if (this.stopped) return undefined;
        await sleep(RETRY_MS);
        continue;
      }
      if (answer.status !== 200) {
        if (answer.status < 500) this.findings.add(`create answered ${answer.status}`, `${path} attempt ${attempt}: ${JSON.stringify(answer.json).slice(0, 200)}`);
        return undefined;
      }
      if (attempt > 1) this.acknowledgedOnRetry++;
      const entry: Acknowledged = {
        operation: String(answer.json.name),
        connection: `${PARENT}/connections/${connectionId}`,
        connectionId,
        requestId,
        ackedAt: Date.now(),
        cancelAcked: false,
        deleteSent: false,
        deleted: false,
      };
      this.ledger.add(entry);
      this.observe(entry, answer.json, 'create', sentAt);
      return entry;
    }
    return undefined;
  }

  private async get(client: RestClient, entry: Acknowledged): Promise<void> {
    const sentAt = performance.now();
    const answer = await client.call('get', 'GET', `/v1/${entry.operation}`);
    if (answer?.status === 200) this.observe(entry, answer.json, 'get', sentAt);
    else if (answer?.status === 404 && !entry.deleteSent) this.findings.add('acknowledged operation answered 404', entry.operation);
  }

  private async cancel(client: RestClient, entry: Acknowledged): Promise<void> {
    const answer = await client.call('cancel', 'POST', `/v1/${entry.operation}:cancel`, {});
    if (answer?.status === 200) {
      entry.cancelAcked = true;
      this.cancelsAcknowledged++;
    }
  }

  /** The same create with the same requestId must get the first operation back (AIP-155), also after restarts. */
  private async replay(client: RestClient, entry: Acknowledged): Promise<void> {
    const path = `/v1/${PARENT}/connections?connectionId=${entry.connectionId}&requestId=${entry.requestId}`;
    const sentAt = performance.now();
    const answer = await client.call('replay', 'POST', path, CREATE_BODY);
    if (answer === undefined || answer.status >= 500) return;
    if (answer.json.name !== entry.operation && entry.deleteSent) {
      // Another client deleted the operation while this replay was on its way, and the server forgets
      // a requestId with its operation: the replay was a new request. Answered 200, it is a create of
      // its own (of the same connection); answered 409, the connection was there already.
      this.replaysAfterDelete++;
      if (answer.status === 200) this.adoptReplay(entry, answer.json, sentAt);
      return;
    }
    if (answer.status !== 200) {
      this.findings.add(`requestId replay answered ${answer.status}`, `${entry.operation}: ${JSON.stringify(answer.json).slice(0, 200)}`);
    } else if (answer.json.name === entry.operation) {
      this.observe(entry, answer.json, 'replay', sentAt);
    } else {
      this.findings.add('requestId replay answered another operation', `${entry.operation} → ${String(answer.json.name)}`);
    }
  }

  /** A replay that became a create of its own: both now share the connection, whose fate neither decides alone. */
  private adoptReplay(entry: Acknowledged, operation: Json, sentAt: number): void {
    entry.connectionReused = true;
    const again: Acknowledged = { ...entry, operation: String(operation.name), ackedAt: Date.now(), cancelAcked: false, deleteSent: false, deleted: false };
    delete again.seen;
    delete again.seenAt;
    this.ledger.add(again);
    this.observe(again, operation, 'replay', sentAt);
  }

  /**
   * A done answer is final: the same outcome ever after. A running answer to a call sent before the
   * done answer arrived (another client's) says nothing: the two crossed.
   */
  private observe(entry: Acknowledged, operation: Json, via: string, sentAt: number): void {
    const outcome = outcomeOf(operation);
    if (entry.seen === undefined) {
      entry.seen = outcome;
      if (outcome !== undefined) entry.seenAt = performance.now();
      return;
    }
    if (outcome === undefined) {
      if (sentAt > (entry.seenAt ?? Infinity)) this.findings.add('done operation answered as running again', `${entry.operation} (${via}; was ${entry.seen})`);
    } else if (outcome !== entry.seen) this.findings.add('done operation changed its outcome', `${entry.operation} (${via}): ${entry.seen} → ${outcome}`);
  }
}
