import { timestampMs } from '@bufbuild/protobuf/wkt';
import { InstallationState_Stage, type Connection } from '../gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import type { FieldType, FilterExpr, FilterValue } from './filter.js';
import { matchesFilter } from './filter-match.js';
import type { OrderKey } from './order-by.js';

/** The fields ListConnections filters on (AIP-160); `labels.KEY` and `annotations.KEY` for map entries. */
export const CONNECTION_FILTER_FIELDS: Readonly<Record<string, FieldType>> = {
  name: 'string',
  uid: 'string',
  etag: 'string',
  disabled: 'bool',
  reconciling: 'bool',
  create_time: 'timestamp',
  update_time: 'timestamp',
  'installation_state.stage': 'string',
  'labels.*': 'string',
  'annotations.*': 'string',
};

/** The fields ListConnections orders by (AIP-132). */
export const CONNECTION_ORDER_FIELDS: readonly string[] = ['name', 'create_time', 'update_time'];

/** A connection's value of a filter or order field; undefined when it has none. */
function valueOf(connection: Connection, field: string): FilterValue | undefined {
  switch (field) {
    case 'name':
      return connection.name;
    case 'uid':
      return connection.uid;
    case 'etag':
      return connection.etag;
    case 'disabled':
      return connection.disabled;
    case 'reconciling':
      return connection.reconciling;
    case 'create_time':
      return connection.createTime && timestampMs(connection.createTime);
    case 'update_time':
      return connection.updateTime && timestampMs(connection.updateTime);
    case 'installation_state.stage':
      return connection.installationState && InstallationState_Stage[connection.installationState.stage];
  }
  const [map, key = ''] = field.split('.', 2);
  const entries = map === 'labels' ? connection.labels : map === 'annotations' ? connection.annotations : undefined;
  // hasOwn: a key such as `constructor` must not find Object's.
  return entries && Object.hasOwn(entries, key) ? entries[key] : undefined;
}

type SortValue = string | number | boolean | null;

/**
 * The position of a connection in a listing: the order_by values, then create time and name, so the
 * order is total and, without order_by, oldest first as the unfiltered listing is. A page cursor is
 * the position of the last connection on the page.
 */
function positionOf(connection: Connection, order: readonly OrderKey[]): SortValue[] {
  return [...order.map((key) => valueOf(connection, key.field) ?? null), valueOf(connection, 'create_time') ?? null, connection.name];
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
 * One page of a filtered or ordered listing, worked out in memory from every connection of the
 * parent: the store keeps connections as opaque protos, so it can neither filter nor sort them.
 * `after` is the cursor of the previous page; pages neither repeat nor skip when connections are
 * created or deleted between them, because the cursor is a position, not an offset.
 */
export function connectionsPage(
  all: readonly Connection[],
  options: { filter?: FilterExpr; order: readonly OrderKey[]; pageSize: number; after?: string },
): { items: Connection[]; next?: string } {
  const { filter, order } = options;
  const after = options.after === undefined ? undefined : (JSON.parse(options.after) as SortValue[]);
  const listed = all
    .filter((c) => filter === undefined || matchesFilter(filter, (field) => valueOf(c, field)))
    .map((connection) => ({ connection, position: positionOf(connection, order) }))
    .filter((entry) => after === undefined || comparePositions(entry.position, after, order) > 0)
    .sort((a, b) => comparePositions(a.position, b.position, order));
  const page = listed.slice(0, options.pageSize);
  const last = page.at(-1);
  return {
    items: page.map((entry) => entry.connection),
    next: listed.length > options.pageSize && last ? JSON.stringify(last.position) : undefined,
  };
}
