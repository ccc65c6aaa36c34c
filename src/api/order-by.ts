import { ApiError } from '../common/errors.js';

export interface OrderKey {
  field: string;
  descending: boolean;
}

/**
 * AIP-132 `order_by`: a comma-separated list of fields, each optionally followed by `desc` (or
 * `asc`, the default), e.g. `create_time desc, name`. Fields must be in `allowed`, once each.
 */
export function parseOrderBy(text: string, allowed: readonly string[]): OrderKey[] {
  if (text.trim() === '') return [];
  const keys: OrderKey[] = [];
  for (const part of text.split(',')) {
    const words = part.trim().split(/\s+/);
    const [field = '', direction, ...rest] = words;
    if (field === '' || rest.length > 0 || (direction !== undefined && direction !== 'asc' && direction !== 'desc')) {
      throw ApiError.invalidArgument(`Invalid order_by '${text}': each item is a field name, optionally followed by 'asc' or 'desc'.`, 'order_by');
    }
    if (!allowed.includes(field)) {
      throw ApiError.invalidArgument(`Invalid order_by '${text}': cannot order by '${field}'; allowed fields: ${allowed.join(', ')}.`, 'order_by');
    }
    if (keys.some((k) => k.field === field)) throw ApiError.invalidArgument(`Invalid order_by '${text}': '${field}' appears twice.`, 'order_by');
    keys.push({ field, descending: direction === 'desc' });
  }
  return keys;
}
