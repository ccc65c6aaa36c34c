import { performance } from 'node:perf_hooks';
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { resourceIndex } from '../src/api/list-page.js';
import {
  ConnectionSchema,
  GitHubConfig_GitHubApp,
  InstallationState_Stage,
} from '../src/gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { connections } from '../src/resources/connections/index.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { HttpClient } from './http-client.js';
import { PARENT } from './lifecycle.js';
import { median, round } from './stats.js';

const TYPE_URL = `type.googleapis.com/${ConnectionSchema.typeName}`;
const T0 = Date.UTC(2026, 0, 1);
/** Labels of the seeded connections: none is `env=prod`, so that filter matches nothing. */
const ENVS = ['dev', 'staging', 'test'];

/**
 * Writes `count` connections under PARENT, each with the done create operation that made it, into
 * the store of `dataDir`, as the server would have committed them (same message shape, same index);
 * through the store, in groups of concurrent writes (one transaction each), so 50,000 take seconds.
 */
export async function seedConnections(dataDir: string, count: number): Promise<void> {
  const store = SqliteStore.open(dataDir);
  try {
    const GROUP = 2500;
    for (let start = 0; start < count; start += GROUP) {
      const writes: Promise<unknown>[] = [];
      for (let i = start; i < Math.min(count, start + GROUP); i++) {
        const id = `seed-${i.toString().padStart(6, '0')}`;
        const name = `${PARENT}/connections/${id}`;
        const etag = i.toString(16).padStart(16, '0');
        const time = timestampFromMs(T0 + i);
        const connection = create(ConnectionSchema, {
          name,
          uid: `00000000-0000-4000-8000-${i.toString().padStart(12, '0')}`,
          etag,
          createTime: time,
          updateTime: time,
          labels: { env: ENVS[i % ENVS.length]!, team: `team-${i % 7}` },
          connectionConfig: { case: 'githubConfig', value: { githubApp: GitHubConfig_GitHubApp.DEVELOPER_CONNECT } },
          installationState: { stage: InstallationState_Stage.PENDING_USER_OAUTH },
        });
        const data = toBinary(ConnectionSchema, connection);
        const put = { name, parent: PARENT, collection: 'connections', etag, data, index: resourceIndex(connections, connection) };
        writes.push(
          store.insertOperation(
            { name: `${PARENT}/operations/operation-seed-${i}`, parent: PARENT, kind: 'connections.create', input: '{}', verb: 'create', target: name, createTime: new Date(T0 + i) },
            { finished: { outcome: { response: { typeUrl: TYPE_URL, value: data } }, endTime: new Date(T0 + i), change: { require: [], put } } },
          ),
        );
      }
      await Promise.all(writes);
    }
  } finally {
    await store.close();
  }
}

/** The Lists measured at depth: path (under /v1/), and what the first page must hold. */
export const LIST_QUERIES = [
  { label: 'ListConnections', path: `${PARENT}/connections`, items: 'connections', expect: 50 },
  { label: 'ListConnections filter=labels.env="prod" (none match)', path: `${PARENT}/connections?filter=${encodeURIComponent('labels.env="prod"')}`, items: 'connections', expect: 0 },
  { label: 'ListConnections orderBy=create_time desc', path: `${PARENT}/connections?orderBy=${encodeURIComponent('create_time desc')}`, items: 'connections', expect: 50 },
  { label: 'ListOperations filter=error.code=1 (none match)', path: `${PARENT}/operations?filter=${encodeURIComponent('error.code=1')}`, items: 'operations', expect: 0 },
] as const;

/** Sequential first-page calls of each query: latency in ms, one array per query. */
export async function listLatencies(client: HttpClient, calls: number): Promise<number[][]> {
  const samples: number[][] = [];
  for (const query of LIST_QUERIES) {
    const times: number[] = [];
    for (let i = 0; i < calls; i++) {
      const t = performance.now();
      const reply = await client.call('GET', `/v1/${query.path}`);
      times.push(performance.now() - t);
      if (reply.status !== 200) throw new Error(`${query.label}: HTTP ${reply.status} ${reply.body.slice(0, 300)}`);
      const got = ((JSON.parse(reply.body) as Record<string, unknown[] | undefined>)[query.items] ?? []).length;
      if (got !== query.expect) throw new Error(`${query.label}: ${got} items on the first page, expected ${query.expect}`);
    }
    samples.push(times);
  }
  return samples;
}

export interface DepthRow {
  label: string;
  shallowMs: number;
  deepMs: number;
  ratio: number;
}

/** Median latency per query at each depth (all samples of all rounds), and deep / shallow. */
export function summarizeDepth(shallow: number[][][], deep: number[][][]): DepthRow[] {
  return LIST_QUERIES.map((query, q) => {
    const shallowMs = round(median(shallow.flatMap((round) => round[q] ?? [])), 3);
    const deepMs = round(median(deep.flatMap((round) => round[q] ?? [])), 3);
    return { label: query.label, shallowMs, deepMs, ratio: round(deepMs / shallowMs, 2) };
  });
}
