/**
 * Reads `/metrics` as Prometheus does: the text exposition format (version 0.0.4), parsed
 * strictly, so that a line a scraper would refuse fails the test instead of being skipped.
 */
import assert from 'node:assert/strict';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  /** Metric family → its `# TYPE` (counter, gauge, histogram, …). */
  types: Map<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** Parses an exposition; throws on any line that is not a comment, a blank or a well-formed sample. */
export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (type) types.set(type[1]!, type[2]!);
      continue;
    }
    samples.push(parseSample(line, i + 1));
  }
  // Every sample belongs to a family that declared its type (a histogram's _bucket, _sum and _count too).
  for (const sample of samples) {
    const family = types.has(sample.name) ? sample.name : sample.name.replace(/_(bucket|sum|count|total|created)$/, '');
    assert.ok(types.has(family), `sample ${sample.name} has no # TYPE line`);
  }
  return { samples, types };
}

function parseSample(line: string, lineNumber: number): Sample {
  const fail = (why: string): never => assert.fail(`/metrics line ${lineNumber} (${why}): ${line}`);
  const name = NAME.exec(line)?.[0] ?? fail('no metric name');
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    rest = rest.slice(1);
    while (!rest.startsWith('}')) {
      const label = LABEL_NAME.exec(rest)?.[0] ?? fail('bad label name');
      rest = rest.slice(label.length);
      if (!rest.startsWith('="')) fail('expected ="');
      rest = rest.slice(2);
      let value = '';
      for (;;) {
        const c = rest[0] ?? fail('unterminated label value');
        rest = rest.slice(1);
        if (c === '"') break;
        if (c !== '\\') {
          value += c;
          continue;
        }
        const escaped = rest[0];
        rest = rest.slice(1);
        if (escaped === 'n') value += '\n';
        else if (escaped === '\\' || escaped === '"') value += escaped;
        else fail('bad escape in a label value');
      }
      if (label in labels) fail(`label ${label} twice`);
      labels[label] = value;
      if (rest.startsWith(',')) rest = rest.slice(1);
      else if (!rest.startsWith('}')) fail('expected , or }');
    }
    rest = rest.slice(1);
  }
  const fields = rest.trim().split(/\s+/);
  if (!rest.startsWith(' ') || fields.length < 1 || fields.length > 2) fail('expected a value and an optional timestamp');
  const text = fields[0]!;
  const value = text === '+Inf' ? Infinity : text === '-Inf' ? -Infinity : text === 'NaN' ? NaN : Number(text);
  if (Number.isNaN(value) && text !== 'NaN') fail('value is not a number');
  return { name, labels, value };
}

/** Fetches and parses `${base}/metrics`, checking the status and content type a scraper checks. */
export async function scrape(base: string): Promise<Exposition> {
  const response = await fetch(`${base}/metrics`);
  const body = await response.text();
  assert.equal(response.status, 200, body);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseExposition(body);
}

function matches(sample: Sample, name: string, labels: Record<string, string>): boolean {
  return sample.name === name && Object.entries(labels).every(([k, v]) => sample.labels[k] === v);
}

/** The sum of the samples named `name` whose labels include `labels` (0 when there are none). */
export function valueOf(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  return exposition.samples.filter((s) => matches(s, name, labels)).reduce((sum, s) => sum + s.value, 0);
}

/** How each series of `name` moved from `before` to `after`, keyed by its labels (JSON, sorted by name); unmoved series are left out. */
export function moved(before: Exposition, after: Exposition, name: string): Record<string, number> {
  const was = new Map(before.samples.filter((s) => s.name === name).map((s) => [seriesKey(s.labels), s.value]));
  const changes: Record<string, number> = {};
  for (const sample of after.samples.filter((s) => s.name === name)) {
    const delta = sample.value - (was.get(seriesKey(sample.labels)) ?? 0);
    if (delta !== 0) changes[seriesKey(sample.labels)] = delta;
  }
  return changes;
}

/** The key `moved` gives a series with these labels. */
export function seriesKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))));
}

/**
 * Checks one histogram series as a scraper relies on it: cumulative buckets that never decrease,
 * the `+Inf` bucket equal to `_count`. Returns its count and sum.
 */
export function histogram(exposition: Exposition, name: string, labels: Record<string, string>): { count: number; sum: number } {
  const buckets = exposition.samples
    .filter((s) => matches(s, `${name}_bucket`, labels))
    .map((s) => ({ le: s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), value: s.value }))
    .sort((a, b) => a.le - b.le);
  assert.ok(buckets.length > 1, `${name}${JSON.stringify(labels)} has buckets`);
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, `${name} buckets are cumulative`);
  const count = valueOf(exposition, `${name}_count`, labels);
  assert.equal(buckets.at(-1)!.le, Infinity);
  assert.equal(buckets.at(-1)!.value, count, `${name}: the +Inf bucket is _count`);
  return { count, sum: valueOf(exposition, `${name}_sum`, labels) };
}
