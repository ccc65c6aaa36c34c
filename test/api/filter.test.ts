import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ApiError, Code } from '../../src/common/errors.js';
import { parseFilter, type FieldType, type FilterExpr } from '../../src/api/filter.js';

const FIELDS: Record<string, FieldType> = {
  done: 'bool',
  'metadata.verb': 'string',
  'metadata.target': 'string',
  'error.code': 'int',
};

const parse = (text: string): FilterExpr | undefined => parseFilter(text, FIELDS);

const eq = (field: string, value: string | number | boolean): FilterExpr => ({ kind: 'compare', field, op: '=', value });
const a = eq('metadata.verb', 'a');
const b = eq('metadata.verb', 'b');
const c = eq('metadata.verb', 'c');

/** Asserts that parsing fails with INVALID_ARGUMENT and returns the message. */
function parseError(text: string): string {
  let caught: unknown;
  try {
    parse(text);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ApiError, `expected an ApiError for ${JSON.stringify(text)}, got ${String(caught)}`);
  assert.equal(caught.code, Code.INVALID_ARGUMENT);
  assert.equal(caught.errorInfo?.metadata?.['field'], 'filter');
  return caught.message;
}

describe('parseFilter', () => {
  it('returns undefined for empty or blank filters', () => {
    assert.equal(parse(''), undefined);
    assert.equal(parse('  \t\n '), undefined);
  });

  it('parses typed comparisons', () => {
    assert.deepEqual(parse('done = true'), eq('done', true));
    assert.deepEqual(parse('done!=false'), { kind: 'compare', field: 'done', op: '!=', value: false });
    assert.deepEqual(parse('error.code >= 5'), { kind: 'compare', field: 'error.code', op: '>=', value: 5 });
    assert.deepEqual(parse('error.code<-3'), { kind: 'compare', field: 'error.code', op: '<', value: -3 });
    assert.deepEqual(parse('error.code = -0'), eq('error.code', 0));
    assert.deepEqual(parse('metadata.verb = create'), eq('metadata.verb', 'create'));
    assert.deepEqual(parse('metadata.verb = true'), eq('metadata.verb', 'true'));
    assert.deepEqual(parse('metadata.target = projects/p-1/locations/us.central1'), eq('metadata.target', 'projects/p-1/locations/us.central1'));
    assert.deepEqual(parse('metadata.verb = -x'), eq('metadata.verb', '-x'));
  });

  it('gives OR higher precedence than AND, as AIP-160 does', () => {
    // a AND b OR c  ==  a AND (b OR c)
    assert.deepEqual(parse('metadata.verb = a AND metadata.verb = b OR metadata.verb = c'), {
      kind: 'and',
      args: [a, { kind: 'or', args: [b, c] }],
    });
    // a OR b AND c  ==  (a OR b) AND c
    assert.deepEqual(parse('metadata.verb = a OR metadata.verb = b AND metadata.verb = c'), {
      kind: 'and',
      args: [{ kind: 'or', args: [a, b] }, c],
    });
  });

  it('treats juxtaposition as AND, binding looser than OR', () => {
    assert.deepEqual(parse('metadata.verb = a metadata.verb = b'), { kind: 'and', args: [a, b] });
    assert.deepEqual(parse('metadata.verb = a metadata.verb = b OR metadata.verb = c'), {
      kind: 'and',
      args: [a, { kind: 'or', args: [b, c] }],
    });
    assert.deepEqual(parse('metadata.verb=a metadata.verb=b AND metadata.verb=c'), { kind: 'and', args: [a, b, c] });
  });

  it('supports parentheses', () => {
    assert.deepEqual(parse('(metadata.verb = a AND metadata.verb = b) OR metadata.verb = c'), {
      kind: 'or',
      args: [{ kind: 'and', args: [a, b] }, c],
    });
    assert.deepEqual(parse('((((done = true))))'), eq('done', true));
    assert.deepEqual(parse('(metadata.verb = a OR (metadata.verb = b OR metadata.verb = c))'), { kind: 'or', args: [a, b, c] });
  });

  it('supports NOT and - as negation, binding tightest', () => {
    assert.deepEqual(parse('NOT done = true'), { kind: 'not', arg: eq('done', true) });
    assert.deepEqual(parse('-done = true'), { kind: 'not', arg: eq('done', true) });
    assert.deepEqual(parse('NOT metadata.verb = a OR metadata.verb = b'), {
      kind: 'or',
      args: [{ kind: 'not', arg: a }, b],
    });
    assert.deepEqual(parse('-(metadata.verb = a OR metadata.verb = b)'), {
      kind: 'not',
      arg: { kind: 'or', args: [a, b] },
    });
    assert.deepEqual(parse('NOT(done = true)'), { kind: 'not', arg: eq('done', true) });
    assert.deepEqual(parse('done = true -error.code = 3'), {
      kind: 'and',
      args: [eq('done', true), { kind: 'not', arg: eq('error.code', 3) }],
    });
  });

  it('decodes quoted strings and escapes', () => {
    assert.deepEqual(parse('metadata.verb = "a b"'), eq('metadata.verb', 'a b'));
    // Quotes are escaped with a backslash, not doubled as in SQL.
    assert.match(parseError("metadata.verb = 'it''s'"), /position 21: expected a field name or '\(', found string 's'/);
    assert.deepEqual(parse(String.raw`metadata.verb = "say \"hi\"\n"`), eq('metadata.verb', 'say "hi"\n'));
    assert.deepEqual(parse(String.raw`metadata.verb = 'it\'s \\ ok'`), eq('metadata.verb', "it's \\ ok"));
    assert.deepEqual(parse('metadata.verb = "AND"'), eq('metadata.verb', 'AND'));
    assert.deepEqual(parse('metadata.verb = "x = (y)"'), eq('metadata.verb', 'x = (y)'));
    assert.deepEqual(parse('metadata.verb = ""'), eq('metadata.verb', ''));
  });

  it('keeps a trailing * for prefix matches and rejects other wildcards', () => {
    assert.deepEqual(parse('metadata.target = projects/p/*'), eq('metadata.target', 'projects/p/*'));
    assert.deepEqual(parse('metadata.target = "100%*"'), eq('metadata.target', '100%*'));
    assert.match(parseError('metadata.target = "*.foo"'), /position 19: '\*' is only supported at the end/);
    assert.match(parseError('metadata.target = a*b'), /only supported at the end/);
  });

  it('rejects unknown fields, listing the allowed ones', () => {
    const message = parseError('done = true AND verb = create');
    assert.equal(
      message,
      `Invalid filter at position 17: unknown field 'verb' in "done = true AND verb = create"; ` +
        'allowed fields: done, error.code, metadata.target, metadata.verb',
    );
    assert.match(parseError('constructor = x'), /unknown field 'constructor'/);
    assert.match(parseError('__proto__ = x'), /unknown field '__proto__'/);
  });

  it('type-checks values and operators', () => {
    assert.match(parseError('done = yes'), /position 8: bool field 'done' must be compared with true or false, found 'yes'/);
    assert.match(parseError('done = "true"'), /bool field 'done'/);
    assert.match(parseError('done > false'), /position 6: operator '>' cannot be used with bool field 'done'/);
    assert.match(parseError('metadata.verb < b'), /operator '<' cannot be used with string field 'metadata.verb'/);
    assert.match(parseError('error.code = 1.5'), /int field 'error.code' must be compared with an integer, found '1.5'/);
    assert.match(parseError('error.code = "5"'), /int field 'error.code'/);
    assert.match(parseError('error.code = 99999999999999999999'), /out of range/);
  });

  it('reports syntax errors with a 1-based position and a snippet', () => {
    assert.equal(
      parseError('done = '),
      `Invalid filter at position 8: expected a value after '=', found the end of the filter in "done = "`,
    );
    assert.match(parseError('done'), /position 5: expected a comparison operator \(=, !=, <, <=, >, >=\) after 'done'/);
    assert.match(parseError('metadata.verb : create'), /position 15: the ':' \(has\) operator is not supported/);
    assert.match(parseError('done = true AND'), /position 16: expected a field name or '\(', found the end of the filter/);
    assert.match(parseError('AND done = true'), /position 1: expected a field name or '\(', found 'AND'/);
    assert.match(parseError('done = true OR OR done = false'), /position 16: expected a field name/);
    assert.match(parseError('(done = true'), /position 13: expected '\)' to close the '\(' at position 1/);
    assert.match(parseError('done = true)'), /position 12: unexpected '\)' without a matching '\('/);
    assert.match(parseError('()'), /position 2: expected a field name or '\('/);
    assert.match(parseError('done = true = false'), /position 13: unexpected '='/);
    assert.match(parseError('metadata.verb = "open'), /position 17: unterminated string/);
    assert.match(parseError(String.raw`metadata.verb = "a\qb"`), /position 19: unsupported escape sequence '\\q'/);
    assert.match(parseError('done ! true'), /position 6: unexpected '!'/);
    assert.match(parseError('- done = true'), /position 1: '-' must be followed directly/);
    assert.match(parseError('NOT NOT done = true'), /position 5: expected a field name or '\(' after 'NOT', found 'NOT'/);
    assert.match(parseError('metadata.verb = OR'), /found keyword 'OR' \(quote it/);
    assert.match(parseError('"done" = true'), /position 1: expected a field name or '\(', found string "done"/);
    assert.match(parseError('has(done)'), /function calls such as 'has\(\.\.\.\)' are not supported/);
    assert.match(parseError('done = true "x"'), /position 13: expected a field name/);
  });

  it('shows a window of long filters around the error', () => {
    const text = `${'metadata.verb = a AND '.repeat(10)}done = maybe${' AND metadata.verb = b'.repeat(10)}`;
    const message = parseError(text);
    const position = text.indexOf('maybe') + 1;
    assert.ok(message.startsWith(`Invalid filter at position ${position}: bool field 'done'`), message);
    assert.ok(message.endsWith(` in "… metadata.verb = a AND done = maybe AND metadata.verb = b AN…"`), message);
  });

  it('limits length and nesting depth', () => {
    const long = `metadata.verb = "${'x'.repeat(2000)}"`;
    assert.match(parseError(long), /Invalid filter: it is 2018 characters long; the limit is 2000/);
    // Over-long input is rejected even when it is only whitespace.
    assert.match(parseError(' '.repeat(2001)), /the limit is 2000/);

    const nested = (n: number): string => `${'('.repeat(n)}done = true${')'.repeat(n)}`;
    assert.deepEqual(parse(nested(50)), eq('done', true));
    assert.match(parseError(nested(51)), /position 51: parentheses are nested deeper than 50 levels/);
    // Hostile input within the length limit fails cleanly instead of overflowing the stack.
    assert.match(parseError('('.repeat(2000)), /nested deeper than 50/);
    assert.match(parseError('-('.repeat(1000)), /nested deeper than 50/);
    assert.match(parseError('NOT ('.repeat(400)), /nested deeper than 50/);
  });

  it('never throws anything but ApiError on junk input', () => {
    const alphabet = ['(', ')', '"', "'", '\\', '-', '=', '!', '<', '>', ':', '*', ' ', 'AND', 'OR', 'NOT', 'done', 'error.code', '1', 'x'];
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 2000; i++) {
      let text = '';
      const len = Math.floor(random() * 12);
      for (let j = 0; j < len; j++) text += alphabet[Math.floor(random() * alphabet.length)] ?? '';
      try {
        parse(text);
      } catch (err) {
        assert.ok(err instanceof ApiError, `non-ApiError for ${JSON.stringify(text)}: ${String(err)}`);
        assert.equal(err.code, Code.INVALID_ARGUMENT, `for ${JSON.stringify(text)}: ${err.message}`);
      }
    }
  });
});

describe('parseFilter: timestamps and map entries', () => {
  const fields: Record<string, FieldType> = { create_time: 'timestamp', 'labels.*': 'string', name: 'string' };
  const errorOf = (text: string): string => {
    try {
      parseFilter(text, fields);
    } catch (err) {
      assert.ok(err instanceof ApiError && err.code === Code.INVALID_ARGUMENT);
      return err.message;
    }
    assert.fail(`expected ${text} to be refused`);
  };

  it('reads a quoted RFC 3339 time as milliseconds, with every comparator', () => {
    assert.deepEqual(parseFilter('create_time >= "2026-01-31T12:00:00.5+01:00"', fields), {
      kind: 'compare',
      field: 'create_time',
      op: '>=',
      value: Date.UTC(2026, 0, 31, 11, 0, 0, 500),
    });
    assert.match(errorOf('create_time > 2026'), /quoted RFC 3339 time/);
    assert.match(errorOf('create_time > "yesterday"'), /quoted RFC 3339 time/);
    assert.match(errorOf('create_time > "2026-13-45T99:00:00Z"'), /quoted RFC 3339 time/);
  });

  it('accepts any key of a map field, and only one level below it', () => {
    assert.deepEqual(parseFilter('labels.env = prod', fields), eq('labels.env', 'prod'));
    assert.match(errorOf('labels.env.x = prod'), /unknown field 'labels.env.x'/);
    assert.match(errorOf('labels = prod'), /unknown field 'labels'/);
    assert.match(errorOf('tags.env = prod'), /unknown field 'tags.env'/);
    assert.match(errorOf('labels.env > prod'), /operator '>' cannot be used with string field/);
  });
});
