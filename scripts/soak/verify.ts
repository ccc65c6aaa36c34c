/**
 * The end of the soak: with the load stopped and the server restarted cleanly, waits for the work to
 * settle, then holds the server to its ledger. Every acknowledged create's operation exists (unless the
 * soak deleted it) and is done, with the outcome any earlier done answer gave; an operation whose
 * deletion was acknowledged stays gone; a succeeded create's connection exists, a cancelled one's does not.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Acknowledged, Ledger } from './ledger.js';
import { outcomeOf } from './ledger.js';
import { PARENT } from './load.js';
import type { Json, RestClient } from './rest.js';

export interface Verdict {
  acknowledgedCreates: number;
  /** Acknowledged writes lost, by how: an operation gone, a done outcome changed, a succeeded create's connection gone, a deleted operation back. */
  lost: Record<string, number>;
  lostTotal: number;
  /** Acknowledged operations not done after the settle period. */
  stuck: number;
  /** Done, but not as a create should end: cancelled with its connection made, or failed with another code. */
  inconsistent: Record<string, number>;
  outcomes: Record<string, number>;
  /** ms from the clean restart until no operation was running (or the settle period, if some still were). */
  settleMs: number;
  examples: string[];
}

/** Every item of a collection, page by page. */
async function listAll(client: RestClient, collection: string, field: string, filter = ''): Promise<Json[]> {
  const items: Json[] = [];
  let pageToken = '';
  do {
    const query = `pageSize=1000${filter ? `&filter=${encodeURIComponent(filter)}` : ''}${pageToken ? `&pageToken=${encodeURIComponent(pageToken)}` : ''}`;
    const answer = await client.call('verify', 'GET', `/v1/${PARENT}/${collection}?${query}`);
    if (answer?.status !== 200) throw new Error(`listing ${collection} for the verification failed: ${answer ? `${answer.status} ${JSON.stringify(answer.json).slice(0, 300)}` : 'no answer'}`);
    items.push(...((answer.json[field] as Json[] | undefined) ?? []));
    pageToken = String(answer.json.nextPageToken ?? '');
  } while (pageToken);
  return items;
}

/** Waits until no operation runs, or `settleMs` has passed; returns how long it took. */
export async function settle(client: RestClient, settleMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < settleMs) {
    const running = await listAll(client, 'operations', 'operations', 'done=false');
    if (running.length === 0) break;
    await sleep(500);
  }
  return performance.now() - started;
}

export async function verify(client: RestClient, ledger: Ledger, settleMs: number): Promise<Verdict> {
  const settleTook = await settle(client, settleMs);
  const operations = new Map((await listAll(client, 'operations', 'operations')).map((op) => [String(op.name), op]));
  const connections = new Set((await listAll(client, 'connections', 'connections')).map((c) => String(c.name)));
  const lost: Record<string, number> = {};
  const inconsistent: Record<string, number> = {};
  const outcomes: Record<string, number> = {};
  const examples: string[] = [];
  const note = (into: Record<string, number>, kind: string, entry: Acknowledged, detail = ''): void => {
    into[kind] = (into[kind] ?? 0) + 1;
    if (examples.length < 20) examples.push(`${kind}: ${entry.operation} (${entry.connectionId})${detail}`);
  };
  let stuck = 0;
  for (const entry of ledger.creates) {
    let operation = operations.get(entry.operation);
    if (operation === undefined && !entry.deleteSent) {
      // Not in the list: ask for it by name before calling it lost.
      const answer = await client.call('verify', 'GET', `/v1/${entry.operation}`);
      if (answer?.status === 200) {
        operation = answer.json;
        note(inconsistent, 'missing from ListOperations but found by GetOperation', entry);
      } else {
        note(lost, 'operation gone', entry, ` → ${answer?.status ?? 'no answer'}`);
        continue;
      }
    }
    if (operation !== undefined && entry.deleted) note(lost, 'deleted operation came back', entry);
    const outcome = operation === undefined ? entry.seen : outcomeOf(operation);
    if (outcome === undefined) {
      stuck++;
      if (examples.length < 20) examples.push(`stuck: ${entry.operation} ${JSON.stringify(operation?.metadata ?? {}).slice(0, 200)}`);
      continue;
    }
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    if (entry.seen !== undefined && outcome !== entry.seen) note(lost, 'done outcome changed', entry, `: ${entry.seen} → ${outcome}`);
    if (entry.connectionReused) continue;
    const made = connections.has(entry.connection);
    if (outcome === 'succeeded' && !made) note(lost, 'succeeded, connection missing', entry);
    else if (outcome === 'cancelled' && made) note(inconsistent, 'cancelled, connection made', entry);
    else if (outcome !== 'succeeded' && outcome !== 'cancelled') note(inconsistent, `ended with ${outcome}`, entry, ` ${JSON.stringify(operation?.error ?? {}).slice(0, 200)}`);
  }
  return {
    acknowledgedCreates: ledger.creates.length,
    lost,
    lostTotal: Object.values(lost).reduce((a, b) => a + b, 0),
    stuck,
    inconsistent,
    outcomes,
    settleMs: settleTook,
    examples,
  };
}
