/** A parsed list filter (AIP-160), as the store evaluates it; src/api/filter.ts parses text into it. */
export type FilterValue = string | number | boolean;
export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';
export type FilterExpr =
  | { kind: 'and'; args: FilterExpr[] }
  | { kind: 'or'; args: FilterExpr[] }
  | { kind: 'not'; arg: FilterExpr }
  | { kind: 'compare'; field: string; op: CompareOp; value: FilterValue };
