/**
 * Compiles a parsed AIP-160 filter (src/api/filter.ts) into a SQL boolean expression that runs
 * unchanged on SQLite and PostgreSQL, apart from placeholder syntax (see toNumberedPlaceholders).
 */
import type { FilterExpr, FilterValue } from './filter-expr.js';

export interface SqlFragment {
  sql: string;
  params: unknown[];
}

/**
 * Compiles a FilterExpr to a SQL boolean expression using `?` placeholders; `columns` maps each
 * filter field to a SQL column expression (trusted text, inlined as is).
 *
 * - Bool values compile to 1/0, so bool columns must be stored as integers in both dialects.
 * - A string value ending in `*` is a prefix match, compiled to `substr(col, 1, n) = ?` rather
 *   than LIKE, so `%` and `_` in values are literal and no collation affects the result.
 * - `!=` is true for NULL columns (an operation without an error has no error code, and it is
 *   indeed "not code 5"): `(col IS NULL OR col <> ?)`.
 * - NOT compiles to `(x) IS NOT TRUE`, so that negating a comparison on a NULL column (which SQL
 *   evaluates to NULL, not FALSE) still matches: `NOT error.code = 5` agrees with `error.code != 5`.
 */
export function compileFilter(expr: FilterExpr, columns: Readonly<Record<string, string>>): SqlFragment {
  const params: unknown[] = [];
  const sql = compile(expr, columns, params);
  return { sql, params };
}

function compile(expr: FilterExpr, columns: Readonly<Record<string, string>>, params: unknown[]): string {
  switch (expr.kind) {
    case 'and':
    case 'or': {
      // Empty and/or are the identities of their operators; the parser never produces them.
      if (expr.args.length === 0) return expr.kind === 'and' ? '(1 = 1)' : '(1 = 0)';
      const joiner = expr.kind === 'and' ? ' AND ' : ' OR ';
      return `(${expr.args.map((arg) => compile(arg, columns, params)).join(joiner)})`;
    }
    case 'not':
      // Inner parentheses: `a = ? IS NOT TRUE` would parse differently across dialects.
      return `((${compile(expr.arg, columns, params)}) IS NOT TRUE)`;
    case 'compare': {
      const col = Object.hasOwn(columns, expr.field) ? columns[expr.field] : undefined;
      if (col === undefined) {
        // A programming error (the field table and the column map disagree), not a user error.
        throw new Error(`compileFilter: no column mapped for filter field '${expr.field}'`);
      }
      const value = sqlValue(expr.value);
      if (typeof value === 'string' && value.endsWith('*') && (expr.op === '=' || expr.op === '!=')) {
        return prefixMatch(col, value.slice(0, -1), expr.op === '=', params);
      }
      params.push(value);
      switch (expr.op) {
        case '=':
          return `${col} = ?`;
        case '!=':
          return `(${col} IS NULL OR ${col} <> ?)`;
        default:
          return `${col} ${expr.op} ?`;
      }
    }
  }
}

function sqlValue(value: FilterValue): string | number {
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}

function prefixMatch(col: string, prefix: string, positive: boolean, params: unknown[]): string {
  // `*` alone matches every value that is present.
  if (prefix === '') return positive ? `${col} IS NOT NULL` : `${col} IS NULL`;
  // Both dialects count substr() in characters (code points), not UTF-16 units. The length is a
  // number we computed, so it is inlined: a parameter there would need a type cast on PostgreSQL.
  const length = [...prefix].length;
  params.push(prefix);
  const match = `substr(${col}, 1, ${length}) = ?`;
  return positive ? match : `(${col} IS NULL OR substr(${col}, 1, ${length}) <> ?)`;
}

/**
 * Rewrites `?` placeholders to PostgreSQL's `$1, $2, ...`. Only valid for SQL from compileFilter
 * (and column expressions) that contains no other `?`, e.g. in string literals.
 */
export function toNumberedPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}
