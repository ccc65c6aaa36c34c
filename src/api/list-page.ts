import { fromBinary, type Message } from '@bufbuild/protobuf';
import type { ResourceIndex, ResourceStore, SortKey } from '../store/store.js';
import { parseFilter, type FilterExpr, type FilterValue } from './filter.js';
import { matchesFilter } from './filter-match.js';
import { parseOrderBy, type OrderKey } from './order-by.js';
import { pageSize, type PageTokens } from './page-token.js';
import type { ResourceModule } from './resource-module.js';
import { indexValues } from './resource-schema.js';

export interface ListRequest {
  parent: string;
  collection: string;
  filter: string;
  orderBy: string;
  pageSize: number;
  pageToken: string;
  tokens: PageTokens;
  /**
   * The resources of the listing that an operation runs on now (AIP-128 `reconciling`), asked
   * only for a filter on `reconciling`: Get and List show those `reconciling` though it is not
   * stored, so the filter matches them too.
   */
  reconciling?: () => Promise<ReadonlySet<string>>;
}

/** The fields that place a resource in a listing after its order_by fields: oldest first, then by name, so the order is total. */
const POSITION_FIELDS = ['create_time', 'name'];

/**
 * One page of an AIP-132 List of any resource, found by the store: without filter and order_by
 * in the order resources were stored (oldest first); with them, through the index of the values
 * the filter and order_by see (`resourceIndex`), written with every resource, so a page costs
 * about the same with 200 resources in the parent as with 50,000.
 */
export async function listPage(store: ResourceStore, module: ResourceModule, request: ListRequest): Promise<{ items: Message[]; nextPageToken: string }> {
  let filter = parseFilter(request.filter, module.filterFields);
  if (filter && request.reconciling && mentions(filter, 'reconciling')) filter = withRunning(filter, await request.reconciling());
  const order = parseOrderBy(request.orderBy, module.orderFields);
  const size = pageSize(request.pageSize);
  const sorted = filter !== undefined || order.length > 0 ? { filter, order: positionKeys(order) } : undefined;
  // A sorted listing's cursor is the store's position; `|position` makes a token from before it
  // (a position worked out in memory) another request's, refused rather than misread.
  const query = `${request.collection}|${request.parent}|${request.filter}|${request.orderBy}${sorted ? '|position' : ''}`;
  const after = request.tokens.read(query, request.pageToken);
  const page = await store.listResources({ parent: request.parent, collection: request.collection, pageSize: size, after, ...sorted });
  return { items: page.items.map((r) => fromBinary(module.schema, r.data)), nextPageToken: request.tokens.issue(query, page.next) };
}

function mentions(filter: FilterExpr, field: string): boolean {
  switch (filter.kind) {
    case 'and':
    case 'or':
      return filter.args.some((arg) => mentions(arg, field));
    case 'not':
      return mentions(filter.arg, field);
    case 'compare':
      return filter.field === field;
  }
}

/**
 * The filter with `reconciling` as Get and List show it: stored, or an operation runs on the
 * resource (one of `running`, by name). `reconciling = true` becomes `(reconciling = true OR name = …)`;
 * `reconciling = false`, `(reconciling = false AND NOT (name = …))`.
 */
function withRunning(filter: FilterExpr, running: ReadonlySet<string>): FilterExpr {
  if (running.size === 0) return filter;
  switch (filter.kind) {
    case 'and':
    case 'or':
      return { kind: filter.kind, args: filter.args.map((arg) => withRunning(arg, running)) };
    case 'not':
      return { kind: 'not', arg: withRunning(filter.arg, running) };
    case 'compare': {
      if (filter.field !== 'reconciling' || typeof filter.value !== 'boolean' || (filter.op !== '=' && filter.op !== '!=')) return filter;
      const wanted = (filter.op === '=') === filter.value;
      const anyRunning: FilterExpr = { kind: 'or', args: [...running].map((name) => ({ kind: 'compare', field: 'name', op: '=', value: name })) };
      return wanted
        ? { kind: 'or', args: [filter, anyRunning] }
        : { kind: 'and', args: [filter, { kind: 'not', arg: anyRunning }] };
    }
  }
}

/** The fields a module's resources are indexed by: what its List filters and sorts by, and what places them. */
export function indexedFields(module: ResourceModule): readonly string[] {
  let fields = indexedFieldsOf.get(module);
  if (fields === undefined) {
    fields = [...new Set([...Object.keys(module.filterFields), ...module.orderFields, ...POSITION_FIELDS])];
    indexedFieldsOf.set(module, fields);
  }
  return fields;
}

/** indexedFields of each module, worked out once: every write of a resource asks for them. */
const indexedFieldsOf = new WeakMap<ResourceModule, readonly string[]>();

/** A resource's values of its module's indexed fields, for the store to write with it. */
export function resourceIndex(module: ResourceModule, resource: Message): ResourceIndex {
  return indexValues(module.schema, resource, indexedFields(module));
}

/**
 * The store's sort keys for an order_by: its fields, then create time and name (orderedPage's
 * position), each once: a field already sorted by decides nothing the second time.
 */
export function positionKeys(order: readonly OrderKey[]): SortKey[] {
  const keys: SortKey[] = [...order];
  for (const field of POSITION_FIELDS) if (!keys.some((k) => k.field === field)) keys.push({ field, descending: false });
  return keys;
}

type SortValue = string | number | boolean | null;
type ValueOf<T> = (item: T, field: string) => FilterValue | undefined;

/**
 * The position of an item in a listing: the order_by values, then create time and name, so the
 * order is total and, without order_by, oldest first as the unfiltered listing is. A page cursor is
 * the position of the last item on the page.
 */
function positionOf<T>(item: T, valueOf: ValueOf<T>, order: readonly OrderKey[]): SortValue[] {
  return [...order.map((key) => valueOf(item, key.field) ?? null), valueOf(item, 'create_time') ?? null, valueOf(item, 'name') ?? null];
}

function compareValues(a: SortValue, b: SortValue): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

function comparePositions(a: readonly SortValue[], b: readonly SortValue[], order: readonly OrderKey[]): number {
  for (let i = 0; i < a.length; i++) {
    const c = compareValues(a[i] ?? null, b[i] ?? null);
    if (c !== 0) return order[i]?.descending ? -c : c;
  }
  return 0;
}

/**
 * One page of a filtered or ordered listing, worked out in memory: the reference the store's
 * listings are held equal to (test/store/resource-listing.test.ts). `after` is the cursor of the
 * previous page; pages neither repeat nor skip when items are created or deleted between them,
 * because the cursor is a position, not an offset.
 */
export function orderedPage<T>(
  all: readonly T[],
  valueOf: ValueOf<T>,
  options: { filter?: FilterExpr; order: readonly OrderKey[]; pageSize: number; after?: string },
): { items: T[]; next?: string } {
  const { filter, order } = options;
  const after = options.after === undefined ? undefined : (JSON.parse(options.after) as SortValue[]);
  const listed = all
    .filter((item) => filter === undefined || matchesFilter(filter, (field) => valueOf(item, field)))
    .map((item) => ({ item, position: positionOf(item, valueOf, order) }))
    .filter((entry) => after === undefined || comparePositions(entry.position, after, order) > 0)
    .sort((a, b) => comparePositions(a.position, b.position, order));
  const page = listed.slice(0, options.pageSize);
  const last = page.at(-1);
  return {
    items: page.map((entry) => entry.item),
    next: listed.length > options.pageSize && last ? JSON.stringify(last.position) : undefined,
  };
}
