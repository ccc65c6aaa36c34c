import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';

import Database from 'better-sqlite3';

import { parseFilter, type FieldType, type FilterExpr, type FilterValue } from '../../src/api/filter.js';
import { matchesFilter } from '../../src/api/filter-match.js';
import { compileFilter, toNumberedPlaceholders } from '../../src/store/filter-sql.js';

const FIELDS: Record<string, FieldType> = {
  done: 'bool',
  'metadata.verb': 'string',
  'metadata.target': 'string',
  'error.code': 'int',
};
const COLUMNS: Record<string, string> = {
  done: 'done',
  'metadata.verb': 'verb',
  'metadata.target': 'target',
  'error.code': 'error_code',
};

interface Row {
  name: string;
  done: number;
  verb: string;
  target: string;
  error_code: number | null;
}

const ROWS: Row[] = [
  { name: 'running', done: 0, verb: 'create', target: 'projects/p/connections/a', error_code: null },
  { name: 'ok', done: 1, verb: 'create', target: 'projects/p/connections/b', error_code: null },
  { name: 'failed', done: 1, verb: 'delete', target: 'projects/q/connections/c', error_code: 5 },
  { name: 'cancelled', done: 1, verb: 'update', target: 'projects/q/connections/d', error_code: 1 },
  // `%` and `_` would be LIKE wildcards; a prefix match must treat them literally.
  { name: 'percent', done: 1, verb: 'update', target: '100%_done/x', error_code: 13 },
  { name: 'unicode', done: 0, verb: 'create', target: '😀é/target', error_code: null },
];
const ALL = ROWS.map((r) => r.name).sort();

const db = new Database(':memory:');
db.exec('CREATE TABLE ops (name TEXT PRIMARY KEY, done INTEGER NOT NULL, verb TEXT NOT NULL, target TEXT NOT NULL, error_code INTEGER NULL)');
const insert = db.prepare('INSERT INTO ops VALUES (@name, @done, @verb, @target, @error_code)');
for (const row of ROWS) insert.run(row);
after(() => db.close());

/** The rows a filter selects in SQL; every call also checks that the in-memory evaluator (the reference of resource listings, see resource-listing.test.ts) agrees. */
function selectExpr(expr: FilterExpr): string[] {
  const { sql, params } = compileFilter(expr, COLUMNS);
  const rows = db.prepare(`SELECT name FROM ops WHERE ${sql} ORDER BY name`).all(...params) as { name: string }[];
  const selected = rows.map((r) => r.name);
  const inMemory = ROWS.filter((row) => matchesFilter(expr, (field) => valueOf(row, field))).map((r) => r.name);
  assert.deepEqual(names(...inMemory), selected, `matchesFilter disagrees with SQL on ${JSON.stringify(expr)}`);
  return selected;
}

function valueOf(row: Row, field: string): FilterValue | undefined {
  if (field === 'done') return row.done === 1;
  if (field === 'error.code') return row.error_code ?? undefined;
  return field === 'metadata.verb' ? row.verb : row.target;
}

function select(filter: string): string[] {
  const expr = parseFilter(filter, FIELDS);
  assert.ok(expr, `filter ${JSON.stringify(filter)} parsed to nothing`);
  return selectExpr(expr);
}

const names = (...n: string[]): string[] => n.sort();

describe('compileFilter', () => {
  it('produces ? placeholders with bools as 1/0', () => {
    const expr = parseFilter('done = true AND (metadata.verb = create OR error.code > 3)', FIELDS);
    assert.ok(expr);
    assert.deepEqual(compileFilter(expr, COLUMNS), {
      sql: '(done = ? AND (verb = ? OR error_code > ?))',
      params: [1, 'create', 3],
    });
    assert.deepEqual(compileFilter({ kind: 'compare', field: 'error.code', op: '!=', value: 5 }, COLUMNS), {
      sql: '(error_code IS NULL OR error_code <> ?)',
      params: [5],
    });
    assert.deepEqual(compileFilter({ kind: 'compare', field: 'metadata.target', op: '=', value: 'ab%*' }, COLUMNS), {
      sql: 'substr(target, 1, 3) = ?',
      params: ['ab%'],
    });
  });

  it('evaluates comparisons on a real database', () => {
    assert.deepEqual(select('done = true'), names('ok', 'failed', 'cancelled', 'percent'));
    assert.deepEqual(select('done = false'), names('running', 'unicode'));
    assert.deepEqual(select('done != true'), names('running', 'unicode'));
    assert.deepEqual(select('metadata.verb = create'), names('running', 'ok', 'unicode'));
    assert.deepEqual(select('metadata.verb != "create"'), names('failed', 'cancelled', 'percent'));
    assert.deepEqual(select('error.code = 5'), names('failed'));
    assert.deepEqual(select('error.code >= 5'), names('failed', 'percent'));
    assert.deepEqual(select('error.code < 5'), names('cancelled'));
    assert.deepEqual(select('error.code > -1'), names('failed', 'cancelled', 'percent'));
  });

  it('treats NULL as "not equal" for != and under NOT', () => {
    assert.deepEqual(select('error.code != 5'), names('running', 'ok', 'cancelled', 'percent', 'unicode'));
    assert.deepEqual(select('NOT error.code = 5'), select('error.code != 5'));
    assert.deepEqual(select('-error.code != 5'), select('error.code = 5'));
    // Running operations have no error code, so they are not "below 5" — and are in its negation.
    assert.deepEqual(select('NOT error.code < 5'), names('running', 'ok', 'failed', 'percent', 'unicode'));
  });

  it('combines with AIP-160 precedence', () => {
    // done = true AND (verb = delete OR verb = update)
    assert.deepEqual(select('done = true AND metadata.verb = delete OR metadata.verb = update'), names('failed', 'cancelled', 'percent'));
    assert.deepEqual(select('done = false metadata.verb = create'), names('running', 'unicode'));
    assert.deepEqual(select('(done = false OR error.code = 1) AND -metadata.verb = update'), names('running', 'unicode'));
  });

  it('matches prefixes with a trailing * and no LIKE wildcards', () => {
    assert.deepEqual(select('metadata.target = projects/q/*'), names('failed', 'cancelled'));
    assert.deepEqual(select('metadata.target = "100%_*"'), names('percent'));
    assert.deepEqual(select('metadata.target = "1%*"'), []); // `%` is literal
    assert.deepEqual(select('metadata.target = "100__*"'), []); // `_` is literal
    assert.deepEqual(select('metadata.target != projects/*'), names('percent', 'unicode'));
    assert.deepEqual(select('NOT metadata.target = projects/*'), names('percent', 'unicode'));
    assert.deepEqual(select('metadata.target = "😀é/*"'), names('unicode')); // counts code points
    assert.deepEqual(select('metadata.target = *'), ALL);
    assert.deepEqual(select('metadata.target != *'), []);
    // Without a trailing *, the match is exact.
    assert.deepEqual(select('metadata.target = projects/q/'), []);
  });

  it('makes NOT the exact complement of every filter', () => {
    const filters = [
      'done = true',
      'error.code = 5',
      'error.code != 5',
      'error.code <= 1',
      'metadata.target = projects/*',
      'metadata.target != projects/p/*',
      'metadata.verb = create OR error.code > 1',
      'done = true error.code != 13',
    ];
    for (const filter of filters) {
      const matched = select(filter);
      const negated = select(`NOT (${filter})`);
      assert.deepEqual(names(...matched, ...negated), ALL, filter);
      assert.equal(matched.filter((n) => negated.includes(n)).length, 0, filter);
    }
  });

  it('compiles empty and/or to their identities', () => {
    assert.deepEqual(selectExpr({ kind: 'and', args: [] }), ALL);
    assert.deepEqual(selectExpr({ kind: 'or', args: [] }), []);
  });

  it('rejects fields without a column mapping', () => {
    assert.throws(
      () => compileFilter({ kind: 'compare', field: 'toString', op: '=', value: 'x' }, COLUMNS),
      /no column mapped for filter field 'toString'/,
    );
  });
});

describe('toNumberedPlaceholders', () => {
  it('numbers placeholders in order for PostgreSQL', () => {
    const expr = parseFilter('done = true AND error.code != 5 AND metadata.target = "a*"', FIELDS);
    assert.ok(expr);
    const { sql, params } = compileFilter(expr, COLUMNS);
    assert.equal(
      toNumberedPlaceholders(sql),
      '(done = $1 AND (error_code IS NULL OR error_code <> $2) AND substr(target, 1, 1) = $3)',
    );
    assert.deepEqual(params, [1, 5, 'a']);
    assert.equal(toNumberedPlaceholders('no placeholders'), 'no placeholders');
  });
});
