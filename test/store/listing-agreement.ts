/**
 * The store's filtered and sorted listings (SQL over the resource index) held equal to the
 * in-memory reference of src/api (matchesFilter, orderedPage), page by page, over many filters and
 * orders on the same data: like filter-sql.test.ts, two implementations that must agree.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseFilter, type FieldType, type FilterValue } from '../../src/api/filter.js';
import { orderedPage, positionKeys } from '../../src/api/list-page.js';
import { parseOrderBy } from '../../src/api/order-by.js';
import type { Page, ResourceIndex, ResourceRecord, Store } from '../../src/store/store.js';

const FIELDS: Record<string, FieldType> = {
  name: 'string',
  state: 'string',
  rank: 'int',
  flag: 'bool',
  create_time: 'timestamp',
  'labels.*': 'string',
};
const ORDER_FIELDS = ['name', 'create_time', 'rank', 'state'];
const P = 'projects/p/locations/us-central1';
const Q = 'projects/q/locations/us-central1';
const T0 = Date.UTC(2026, 0, 1);

interface Item {
  name: string;
  index: ResourceIndex;
}

/** A deterministic pseudo-random sequence (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Resources with every kind of value the index holds: repeated sort values (create times shared by
 * several, so name decides), nulls in sort fields, labels some lack, LIKE wildcards and non-ASCII
 * text in values. `common` gives every resource `labels.common = yes`.
 */
function items(parent: string, count: number, seed: number, common = false): Item[] {
  const next = random(seed);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)] as T;
  return Array.from({ length: count }, (_, i) => {
    const name = `${parent}/things/t${pick(['', 'a', 'b'])}-${i.toString(36)}`;
    const index: Record<string, FilterValue | null> = {
      name,
      create_time: next() < 0.05 ? null : T0 + Math.floor(next() * (count / 3)) * 1000,
      rank: next() < 0.2 ? null : Math.floor(next() * 10) - 2,
      state: pick([null, 'ACTIVE', 'ACTIVE', 'DELETING', 'é-state', '😀 smile']),
      flag: next() < 0.4,
    };
    const env = pick([undefined, 'prod', 'prod', 'dev', 'preview', '100%_done']);
    if (env !== undefined) index['labels.env'] = env;
    if (next() < 0.3) index['labels.team'] = pick(['a', 'b', 'a%b']);
    if (common) index['labels.common'] = 'yes';
    return { name, index };
  });
}

const FILTERS = [
  'flag = true',
  'flag != true',
  'state = ACTIVE',
  'state != ACTIVE',
  'state = "é*"',
  'state = "😀*"',
  'state = *',
  'state != *',
  'rank > 3',
  'rank <= 0',
  'rank = -1',
  'rank != 2',
  'NOT rank < 5',
  'rank >= 2 AND rank < 6',
  'labels.env = prod',
  'labels.env != prod',
  'labels.env = pr*',
  'labels.env = "100%_*"',
  'labels.env = "1%*"',
  'labels.env = *',
  'labels.env != *',
  '-labels.env = prod',
  'labels.team = "a%*"',
  'labels.missing = x',
  'labels.missing != x',
  'labels.env = prod AND rank >= 2',
  'labels.env = prod OR flag = true',
  '(labels.env = dev OR labels.team = b) AND NOT flag = true',
  'labels.env = prod labels.team = a',
  `name = "${P}/things/ta*"`,
  `name = "${Q}/things/tb*" AND state != DELETING`,
  `create_time > "2026-01-01T00:00:20Z"`,
  `create_time <= "2026-01-01T00:00:10Z" OR rank = 1`,
  'labels.common = yes',
  'labels.common = yes AND rank = 3',
  'labels.common = yes AND labels.env = preview AND NOT state = ACTIVE',
  'labels.common != yes',
];
const ORDERS = ['', 'rank', 'rank desc', 'create_time desc', 'name desc', 'rank desc, name', 'state, rank desc', 'state desc, create_time'];

export interface AgreementOptions {
  /** Runs once every resource is written, before the first listing (PostgreSQL: gather the planner's statistics). */
  loaded?: (store: Store) => Promise<void>;
  /** The order_by texts to check; default all of ORDERS. */
  orders?: readonly string[];
}

/** Registers the agreement of `open`'s store with the in-memory reference (each backend's test file calls it). */
export function listingAgreement(name: string, open: () => Promise<Store>, options: AgreementOptions = {}): void {
  describe(`listResources with filter and order, against the in-memory reference: ${name}`, () => {
    let store: Store;
    const small = items(P, 150, 1);
    const wide = items(Q, 1100, 2, true);

    before(async () => {
      store = await open();
      const others = [...items(P, 20, 3).map((i) => ({ ...i, collection: 'others' })), ...items('projects/r/locations/us-central1', 20, 4)];
      const records = [...small, ...wide, ...others].map(
        (i): ResourceRecord => ({ ...i, parent: i.name.split('/').slice(0, 4).join('/'), collection: 'collection' in i ? String(i.collection) : 'things', etag: 'e', data: Buffer.from(i.name) }),
      );
      // The names of `others` repeat those of P: store them under names of their own.
      for (const r of records) if (r.collection === 'others') r.name = r.name.replace('/things/', '/others/');
      await Promise.all(
        records.map((record, n) =>
          store.insertOperation(
            { name: `${record.parent}/operations/op-${n}`, parent: record.parent, kind: 'things.create', input: '{}', verb: 'create', target: record.name, createTime: new Date(T0) },
            { finished: { outcome: {}, endTime: new Date(T0), change: { require: [], put: record } } },
          ),
        ),
      );
      await options.loaded?.(store);
    });
    after(() => store.close());

    /** Every page of the store's listing and of orderedPage's, as names. */
    async function bothWays(all: Item[], parent: string, filterText: string, orderText: string, pageSize: number) {
      const filter = parseFilter(filterText, FIELDS);
      const order = parseOrderBy(orderText, ORDER_FIELDS);
      const valueOf = (item: Item, field: string) => item.index[field] ?? undefined;
      const expected = pages((after) => Promise.resolve(orderedPage(all, valueOf, { filter, order, pageSize, after })));
      const actual = pages((after) => store.listResources({ parent, collection: 'things', pageSize, after, filter, order: positionKeys(order) }));
      return { actual: await actual, expected: await expected };
    }

    for (const orderText of options.orders ?? ORDERS) {
      it(`agrees on every filter, ordered by '${orderText}', page by page`, async () => {
        for (const filterText of FILTERS) {
          for (const [all, parent, pageSize] of [[small, P, 7], [small, P, 1000], [wide, Q, 150]] as const) {
            if (filterText === '' && orderText === '') continue;
            const { actual, expected } = await bothWays(all, parent, filterText, orderText, pageSize);
            assert.deepEqual(actual, expected, `filter '${filterText}', order_by '${orderText}', page size ${pageSize}, ${all.length} resources`);
          }
        }
      });
    }

    it('agrees with pages of one resource', async () => {
      for (const [filterText, orderText] of [['labels.env = prod', 'rank desc'], ['NOT flag = true', ''], ['rank = 3', 'state']] as const) {
        const { actual, expected } = await bothWays(small, P, filterText, orderText, 1);
        assert.ok(expected.length > 3);
        assert.deepEqual(actual, expected, `filter '${filterText}', order_by '${orderText}'`);
      }
    });
  });
}

/** Follows cursors to the end and returns the names on each page. */
async function pages(read: (after?: string) => Promise<Page<{ name: string }>>): Promise<string[][]> {
  const result: string[][] = [];
  let after: string | undefined;
  do {
    const page = await read(after);
    result.push(page.items.map((i) => i.name));
    assert.ok(result.length < 2000, 'the cursor does not advance');
    after = page.next;
  } while (after !== undefined);
  return result;
}
