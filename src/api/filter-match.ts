import type { FilterExpr, FilterValue } from './filter.js';

/**
 * Evaluates a parsed AIP-160 filter against one item in memory, with the semantics the SQL
 * compiler gives the store (src/store/filter-sql.ts): a field the item does not have matches only
 * `!=`, a trailing `*` is a prefix match, and NOT is true whenever its argument is not.
 * `valueOf` returns an item's value of a filter field, undefined when it has none.
 */
export function matchesFilter(expr: FilterExpr, valueOf: (field: string) => FilterValue | undefined): boolean {
  switch (expr.kind) {
    case 'and':
      return expr.args.every((arg) => matchesFilter(arg, valueOf));
    case 'or':
      return expr.args.some((arg) => matchesFilter(arg, valueOf));
    case 'not':
      return !matchesFilter(expr.arg, valueOf);
    case 'compare': {
      const actual = valueOf(expr.field);
      if (actual === undefined) return expr.op === '!=';
      const wanted = expr.value;
      if (typeof wanted === 'string' && wanted.endsWith('*') && (expr.op === '=' || expr.op === '!=')) {
        return String(actual).startsWith(wanted.slice(0, -1)) === (expr.op === '=');
      }
      switch (expr.op) {
        case '=':
          return actual === wanted;
        case '!=':
          return actual !== wanted;
        case '<':
          return actual < wanted;
        case '<=':
          return actual <= wanted;
        case '>':
          return actual > wanted;
        case '>=':
          return actual >= wanted;
      }
    }
  }
}
