// Hand-written because there is no maintained npm package that parses AIP-160 filters.
/**
 * AIP-160 (https://google.aip.dev/160) filter parser for the subset the emulator supports.
 *
 * Grammar (from the AIP's EBNF, minus functions, global restrictions and the `:` operator):
 *
 *   filter      : [expression]
 *   expression  : sequence {AND sequence}
 *   sequence    : factor {factor}              -- juxtaposition is an implicit AND
 *   factor      : term {OR term}
 *   term        : [NOT | '-'] simple
 *   simple      : restriction | '(' expression ')'
 *   restriction : field comparator value
 *
 * Note the AIP's precedence: OR binds tighter than AND, so `a AND b OR c` is `a AND (b OR c)`.
 *
 * Values are typed by the caller's field table:
 *   - bool:   `true` / `false`, with `=` / `!=` only;
 *   - int:    integers (possibly negative), with any comparator;
 *   - string: quoted strings or bare words, with `=` / `!=` only. A trailing `*` is kept in the
 *             value and means "starts with" (see compileFilter in src/store/filter-sql.ts); a `*`
 *             anywhere else is rejected, since only prefix matching is supported.
 *   - timestamp: a quoted RFC 3339 time (`"2026-01-31T12:00:00Z"`), with any comparator; the value
 *             becomes milliseconds since the epoch.
 *
 * A field table entry `labels.*` stands for every `labels.KEY` (the entries of a map field).
 *
 * Every failure is an ApiError INVALID_ARGUMENT whose message gives the 1-based position and a
 * snippet of the filter, because the person reading it usually typed the filter by hand.
 */
import type { CompareOp, FilterExpr, FilterValue } from '../store/filter-expr.js';
import { ApiError, Code } from '../common/errors.js';

export type FieldType = 'string' | 'bool' | 'int' | 'timestamp';
export type { CompareOp, FilterExpr, FilterValue };

/** Longer filters are rejected outright: nobody types them, and they bound the parser's work. */
export const MAX_FILTER_LENGTH = 2000;
/** Deepest parenthesis nesting accepted; keeps the recursive-descent parser far from the stack limit. */
export const MAX_FILTER_DEPTH = 50;

/** The request field that errors are attributed to (ErrorInfo metadata). */
const FILTER_FIELD = 'filter';
const COMPARATORS = '=, !=, <, <=, >, >=';
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const INTEGER = /^-?[0-9]+$/;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;
/** AIP-160 keywords are upper case; `and` is an ordinary word. */
const KEYWORDS = new Set(['AND', 'OR', 'NOT']);
/** Characters that end a bare word (besides whitespace). `-` only matters at the start of a token. */
const WORD_END = new Set(['(', ')', '"', "'", '=', '<', '>', '!', ':']);
const ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\',
  '"': '"',
  "'": "'",
  n: '\n',
  r: '\r',
  t: '\t',
};

type TokenKind = 'word' | 'string' | 'op' | 'lparen' | 'rparen' | 'minus' | 'eof';

interface Token {
  kind: TokenKind;
  /** The token as written in the filter. */
  raw: string;
  /** Decoded content for strings; the same as raw otherwise. */
  value: string;
  /** 0-based offsets into the filter text. */
  start: number;
  end: number;
}

/** Parses `text` against the allowed fields (name -> type). Empty/whitespace text returns undefined. */
export function parseFilter(
  text: string,
  fields: Readonly<Record<string, FieldType>>,
): FilterExpr | undefined {
  if (text.length > MAX_FILTER_LENGTH) {
    throw ApiError.invalidArgument(
      `Invalid filter: it is ${text.length} characters long; the limit is ${MAX_FILTER_LENGTH}`,
      FILTER_FIELD,
    );
  }
  if (text.trim() === '') return undefined;
  try {
    return new Parser(text, fields).parse();
  } catch (err) {
    if (err instanceof ApiError) throw err;
    // Only a bug in this file can get here; callers are promised nothing but ApiError.
    throw new ApiError(Code.INTERNAL, `Internal error while parsing the filter: ${String(err)}`);
  }
}

class Parser {
  private readonly tokens: Token[];
  private index = 0;

  constructor(
    private readonly text: string,
    private readonly fields: Readonly<Record<string, FieldType>>,
  ) {
    this.tokens = this.tokenize();
  }

  parse(): FilterExpr {
    const expr = this.parseExpression(0);
    const tok = this.peek();
    if (tok.kind === 'rparen') this.fail(tok.start, "unexpected ')' without a matching '('");
    if (tok.kind !== 'eof') this.fail(tok.start, `unexpected ${describe(tok)}`);
    return expr;
  }

  // ---- grammar -----------------------------------------------------------------------------

  private parseExpression(depth: number): FilterExpr {
    const args = [this.parseSequence(depth)];
    while (this.isKeyword(this.peek(), 'AND')) {
      this.next();
      args.push(this.parseSequence(depth));
    }
    return combine('and', args);
  }

  private parseSequence(depth: number): FilterExpr {
    const args = [this.parseFactor(depth)];
    while (this.startsTerm(this.peek())) args.push(this.parseFactor(depth));
    return combine('and', args);
  }

  private parseFactor(depth: number): FilterExpr {
    const args = [this.parseTerm(depth)];
    while (this.isKeyword(this.peek(), 'OR')) {
      this.next();
      args.push(this.parseTerm(depth));
    }
    return combine('or', args);
  }

  private parseTerm(depth: number): FilterExpr {
    const tok = this.peek();
    if (this.isKeyword(tok, 'NOT')) {
      this.next();
      return { kind: 'not', arg: this.parseSimple(depth, "after 'NOT'") };
    }
    if (tok.kind === 'minus') {
      this.next();
      // AIP-160 writes negation as `-a = 1`; a detached `-` is almost certainly a typo.
      if (this.peek().start !== tok.end) {
        this.fail(tok.start, "'-' must be followed directly (without a space) by a comparison or '('");
      }
      return { kind: 'not', arg: this.parseSimple(depth, "after '-'") };
    }
    return this.parseSimple(depth, '');
  }

  private parseSimple(depth: number, context: string): FilterExpr {
    const tok = this.peek();
    if (tok.kind === 'lparen') {
      if (depth >= MAX_FILTER_DEPTH) {
        this.fail(tok.start, `parentheses are nested deeper than ${MAX_FILTER_DEPTH} levels`);
      }
      this.next();
      const expr = this.parseExpression(depth + 1);
      const close = this.peek();
      if (close.kind !== 'rparen') {
        this.fail(close.start, `expected ')' to close the '(' at position ${tok.start + 1}, found ${describe(close)}`);
      }
      this.next();
      return expr;
    }
    return this.parseRestriction(context);
  }

  private parseRestriction(context: string): FilterExpr {
    const fieldTok = this.next();
    const where = context ? ` ${context}` : '';
    if (fieldTok.kind !== 'word' || KEYWORDS.has(fieldTok.raw) || !FIELD_NAME.test(fieldTok.raw)) {
      this.fail(fieldTok.start, `expected a field name or '('${where}, found ${describe(fieldTok)}`);
    }
    const field = fieldTok.raw;
    if (this.peek().kind === 'lparen' && this.peek().start === fieldTok.end) {
      this.fail(fieldTok.start, `function calls such as '${field}(...)' are not supported`);
    }
    const type = this.typeOf(field);
    if (type === undefined) {
      const allowed = Object.keys(this.fields).sort().join(', ');
      this.fail(fieldTok.start, `unknown field '${field}'`, `allowed fields: ${allowed || '(none)'}`);
    }

    const opTok = this.next();
    if (opTok.kind === 'op' && opTok.raw === ':') {
      this.fail(opTok.start, "the ':' (has) operator is not supported; use '=' instead");
    }
    if (opTok.kind !== 'op') {
      this.fail(opTok.start, `expected a comparison operator (${COMPARATORS}) after '${field}', found ${describe(opTok)}`);
    }
    const op = opTok.raw as CompareOp;
    if (type !== 'int' && type !== 'timestamp' && op !== '=' && op !== '!=') {
      this.fail(opTok.start, `operator '${op}' cannot be used with ${type} field '${field}'; use '=' or '!='`);
    }
    return { kind: 'compare', field, op, value: this.parseValue(field, type, op) };
  }

  /** The type of a field: its own entry, or the `map.*` entry of the map it is a key of. */
  private typeOf(field: string): FieldType | undefined {
    // hasOwn, not `in`: a field called `constructor` or `__proto__` must not resolve to Object's.
    if (Object.hasOwn(this.fields, field)) return this.fields[field];
    const dot = field.indexOf('.');
    const map = dot > 0 && field.indexOf('.', dot + 1) === -1 ? `${field.slice(0, dot)}.*` : undefined;
    return map !== undefined && Object.hasOwn(this.fields, map) ? this.fields[map] : undefined;
  }

  private parseValue(field: string, type: FieldType, op: CompareOp): FilterValue {
    let tok = this.next();
    // `-5` arrives as a minus token glued to a word; rejoin it here, where it is part of a value.
    if (tok.kind === 'minus') {
      const rest = this.peek();
      if (rest.kind !== 'word' || rest.start !== tok.end) {
        this.fail(tok.start, `expected a value after '${op}', found '-'`);
      }
      this.next();
      tok = { kind: 'word', raw: `-${rest.raw}`, value: `-${rest.value}`, start: tok.start, end: rest.end };
    }
    if (tok.kind !== 'word' && tok.kind !== 'string') {
      this.fail(tok.start, `expected a value after '${op}', found ${describe(tok)}`);
    }
    if (tok.kind === 'word' && KEYWORDS.has(tok.raw)) {
      this.fail(tok.start, `expected a value after '${op}', found keyword '${tok.raw}' (quote it to use it as a string)`);
    }

    switch (type) {
      case 'bool':
        if (tok.kind === 'word' && (tok.raw === 'true' || tok.raw === 'false')) return tok.raw === 'true';
        return this.fail(tok.start, `bool field '${field}' must be compared with true or false, found ${describe(tok)}`);
      case 'int': {
        if (tok.kind === 'word' && INTEGER.test(tok.raw)) {
          const n = Number(tok.raw);
          if (Number.isSafeInteger(n)) return n + 0; // `+ 0` turns -0 into 0
          return this.fail(tok.start, `integer ${tok.raw} for field '${field}' is out of range`);
        }
        return this.fail(tok.start, `int field '${field}' must be compared with an integer, found ${describe(tok)}`);
      }
      case 'timestamp': {
        const ms = tok.kind === 'string' ? rfc3339Ms(tok.value) : NaN;
        if (Number.isFinite(ms)) return ms;
        return this.fail(tok.start, `timestamp field '${field}' must be compared with a quoted RFC 3339 time such as "2026-01-31T12:00:00Z", found ${describe(tok)}`);
      }
      case 'string': {
        const value = tok.value;
        const star = value.indexOf('*');
        if (star !== -1 && star !== value.length - 1) {
          this.fail(tok.start, `'*' is only supported at the end of a value (prefix match), found ${describe(tok)}`);
        }
        return value;
      }
    }
  }

  // ---- tokens ------------------------------------------------------------------------------

  private peek(): Token {
    // The token list always ends with eof, and next() never moves past it.
    return this.tokens[this.index] as Token;
  }

  private next(): Token {
    const tok = this.peek();
    if (tok.kind !== 'eof') this.index++;
    return tok;
  }

  private isKeyword(tok: Token, keyword: string): boolean {
    return tok.kind === 'word' && tok.raw === keyword;
  }

  /** True if `tok` can begin another term of an implicit-AND sequence. */
  private startsTerm(tok: Token): boolean {
    switch (tok.kind) {
      case 'lparen':
      case 'minus':
      case 'string': // not valid there, but parsing it as a term gives the clearest error
        return true;
      case 'word':
        return tok.raw !== 'AND' && tok.raw !== 'OR';
      default:
        return false;
    }
  }

  private tokenize(): Token[] {
    const text = this.text;
    const tokens: Token[] = [];
    const push = (kind: TokenKind, start: number, end: number, value?: string): void => {
      const raw = text.slice(start, end);
      tokens.push({ kind, raw, value: value ?? raw, start, end });
    };
    let i = 0;
    while (i < text.length) {
      const c = text.charAt(i);
      if (/\s/.test(c)) {
        i++;
      } else if (c === '(' || c === ')') {
        push(c === '(' ? 'lparen' : 'rparen', i, i + 1);
        i++;
      } else if (c === '<' || c === '>') {
        const len = text.charAt(i + 1) === '=' ? 2 : 1;
        push('op', i, i + len);
        i += len;
      } else if (c === '=' || c === ':') {
        push('op', i, i + 1);
        i++;
      } else if (c === '!') {
        if (text.charAt(i + 1) !== '=') this.fail(i, "unexpected '!' (did you mean '!='?)");
        push('op', i, i + 2);
        i += 2;
      } else if (c === '-') {
        // At the start of a token `-` is negation (or a negative number's sign, which the value
        // parser rejoins); inside a word such as `my-op` it is an ordinary character.
        push('minus', i, i + 1);
        i++;
      } else if (c === '"' || c === "'") {
        i = this.readString(i, push);
      } else {
        const start = i;
        while (i < text.length && !/\s/.test(text.charAt(i)) && !WORD_END.has(text.charAt(i))) i++;
        push('word', start, i);
      }
    }
    push('eof', text.length, text.length);
    return tokens;
  }

  /** Reads the quoted string starting at `start`; returns the offset just past its closing quote. */
  private readString(start: number, push: (kind: TokenKind, start: number, end: number, value: string) => void): number {
    const text = this.text;
    const quote = text.charAt(start);
    let value = '';
    let i = start + 1;
    while (i < text.length) {
      const c = text.charAt(i);
      if (c === quote) {
        push('string', start, i + 1, value);
        return i + 1;
      }
      if (c === '\\') {
        const e = text.charAt(i + 1);
        const decoded = ESCAPES[e];
        if (decoded === undefined) {
          const shown = e === '' ? 'a lone \\ at the end' : `'\\${e}'`;
          this.fail(i, `unsupported escape sequence ${shown} in a string (supported: \\\\ \\" \\' \\n \\r \\t)`);
        }
        value += decoded;
        i += 2;
      } else {
        value += c;
        i++;
      }
    }
    return this.fail(start, `unterminated string starting with ${quote}`);
  }

  // ---- errors ------------------------------------------------------------------------------

  /** Throws INVALID_ARGUMENT pointing at 0-based `offset`; `hint` follows the snippet. */
  private fail(offset: number, problem: string, hint?: string): never {
    const message = `Invalid filter at position ${offset + 1}: ${problem} in "${snippet(this.text, offset)}"`;
    throw ApiError.badField(FILTER_FIELD, hint ? `${message}; ${hint}` : message);
  }
}

/**
 * A time as RFC 3339 writes it, in epoch milliseconds, or NaN. Each part is checked against the
 * calendar first: Date.parse would take `2026-02-30` as March 2 and `24:00` as the next day.
 */
function rfc3339Ms(text: string): number {
  const m = RFC3339.exec(text);
  if (!m) return NaN;
  const part = (i: number): number => Number(m[i] ?? 0);
  const [year, month, day] = [part(1), part(2), part(3)];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
  const valid = day >= 1 && day <= days && part(4) <= 23 && part(5) <= 59 && part(6) <= 59 && part(8) <= 23 && part(9) <= 59;
  return valid ? Date.parse(text) : NaN;
}

/** Builds an and/or node, flattening nested nodes of the same kind and unwrapping singletons. */
function combine(kind: 'and' | 'or', parts: FilterExpr[]): FilterExpr {
  const args: FilterExpr[] = [];
  for (const part of parts) {
    if (part.kind === kind) args.push(...part.args);
    else args.push(part);
  }
  return args.length === 1 ? (args[0] as FilterExpr) : { kind, args };
}

function describe(tok: Token): string {
  switch (tok.kind) {
    case 'eof':
      return 'the end of the filter';
    case 'string':
      return `string ${tok.raw}`;
    default:
      return `'${tok.raw}'`;
  }
}

/** The filter itself when short, else a window around `offset`, so messages stay readable. */
function snippet(text: string, offset: number): string {
  const radius = 30;
  if (text.length <= 2 * radius) return text;
  const from = Math.max(0, offset - radius);
  const to = Math.min(text.length, offset + radius);
  return `${from > 0 ? '…' : ''}${text.slice(from, to)}${to < text.length ? '…' : ''}`;
}

/** The same filter over other field names (`names` maps every field the filter may hold): how the API's names become the store's. */
export function renameFields(expr: FilterExpr | undefined, names: Readonly<Record<string, string>>): FilterExpr | undefined {
  if (expr === undefined) return undefined;
  switch (expr.kind) {
    case 'and':
    case 'or':
      return { kind: expr.kind, args: expr.args.map((arg) => renameFields(arg, names)!) };
    case 'not':
      return { kind: 'not', arg: renameFields(expr.arg, names)! };
    case 'compare':
      return { ...expr, field: names[expr.field] ?? expr.field };
  }
}
