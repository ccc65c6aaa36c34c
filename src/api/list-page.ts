import { fromBinary, type Message } from '@bufbuild/protobuf';
import type { ResourceStore } from '../store/store.js';
import { parseFilter, type FilterExpr, type FilterValue } from './filter.js';
import { matchesFilter } from './filter-match.js';
import { parseOrderBy, type OrderKey } from './order-by.js';
import { MAX_PAGE_SIZE, pageSize, type PageTokens } from './page-token.js';
import type { ResourceModule } from './resource-module.js';
import { fieldValue } from './resource-schema.js';

export interface ListRequest {
  parent: string;
  collection: string;
  filter: string;
  orderBy: string;
  pageSize: number;
  pageToken: string;
  tokens: PageTokens;
}

/**
 * One page of an AIP-132 List of any resource: without filter and order_by straight from the
 * store's keyset pages (oldest first); with them, worked out in memory from every resource of the
 * parent, since the store keeps resources as opaque protos and can neither filter nor sort them.
 */
export async function listPage(store: ResourceStore, module: ResourceModule, request: ListRequest): Promise<{ items: Message[]; nextPageToken: string }> {
  const filter = parseFilter(request.filter, module.filterFields);
  const order = parseOrderBy(request.orderBy, module.orderFields);
  const size = pageSize(request.pageSize);
  const query = `${request.collection}|${request.parent}|${request.filter}|${request.orderBy}`;
  const after = request.tokens.read(query, request.pageToken);
  const decode = (data: Uint8Array) => fromBinary(module.schema, data);
  if (filter === undefined && order.length === 0) {
    const page = await store.listResources({ parent: request.parent, collection: request.collection, pageSize: size, after });
    return { items: page.items.map((r) => decode(r.data)), nextPageToken: request.tokens.issue(query, page.next) };
  }
  const all: Message[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listResources({ parent: request.parent, collection: request.collection, pageSize: MAX_PAGE_SIZE, after: cursor });
    for (const r of page.items) all.push(decode(r.data));
    cursor = page.next;
  } while (cursor !== undefined);
  const page = orderedPage(all, (item, field) => fieldValue(module.schema, item, field), { filter, order, pageSize: size, after });
  return { items: page.items, nextPageToken: request.tokens.issue(query, page.next) };
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
 * One page of a filtered or ordered listing. `after` is the cursor of the previous page; pages
 * neither repeat nor skip when items are created or deleted between them, because the cursor is a
 * position, not an offset.
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
