/**
 * fast-check arbitraries for the server's inputs, made from what the server itself is made from:
 * the REST routes of the google.api.http annotations and the request messages' descriptors. Each
 * yields mostly plausible values (so a call gets past the first check and reaches the next) and
 * sometimes hostile ones.
 */
import { ScalarType, type DescField, type DescMessage, type JsonObject, type JsonValue } from '@bufbuild/protobuf';
import fc from 'fast-check';
import type { HttpRoute } from '../../src/transport/http-rules.js';

/** Ids the fuzzed server has resources under, by the collection that precedes them in a name. */
export interface KnownIds {
  [collection: string]: readonly string[];
}

/** A resource id as AIP-122 allows it. */
export const validId = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/);

/** Text of every kind: ASCII, any Unicode, control characters, and lone surrogates. */
export const anyText = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('', ' ', '\u0000', 'a\u0000b', '\ud800', '..', '.', '%', '*', '/', '\\', '"', "'", 'null', 'true', '-1', '0x10', '1e3', 'x'.repeat(300)),
);

/** One path segment, percent-encoded: a known id most often, else a valid-looking one or hostile text. */
function segment(known: readonly string[]): fc.Arbitrary<string> {
  const raw = fc.oneof({ weight: 6, arbitrary: known.length > 0 ? fc.constantFrom(...known) : validId }, { weight: 2, arbitrary: validId }, { weight: 2, arbitrary: anyText });
  return fc.oneof(
    { weight: 9, arbitrary: raw.map((text) => encodeURIComponent(text.replace(/[\ud800-\udfff]/g, 'x'))) },
    // Percent-encodings that are not UTF-8, or not percent-encodings at all.
    { weight: 1, arbitrary: fc.constantFrom('%FF', '%C3', '%ED%A0%80', '%G1', '%', '%2F', '%00', 'a%2Fb', '%2E%2E') },
  );
}

/** A URL path for a route: its literal segments, and each variable's pattern filled with segments. */
export function pathFor(route: HttpRoute, known: KnownIds): fc.Arbitrary<string> {
  const parts = route.template.split(/(\{[^}]*\})/).filter((p) => p !== '');
  return fc.tuple(
    ...parts.map((part) => {
      if (!part.startsWith('{')) return fc.constant(part);
      const pattern = part.slice(1, -1).split('=')[1] ?? '*';
      const segments = pattern.split('/');
      return fc
        .tuple(...segments.map((s, i) => (s === '*' || s === '**' ? segment(known[segments[i - 1] ?? ''] ?? []) : fc.constant(s))))
        .map((filled) => filled.join('/'));
    }),
  ).map((filled) => filled.join(''));
}

/**
 * Whether a generated value must be one the JSON mapping and the server's limits accept (`valid`),
 * or may be anything (`hostile`, a plausible value most often, so that calls still get far).
 */
type Mode = 'valid' | 'hostile';

/** A plausible value, or in hostile mode sometimes a wrong one. */
function either<T>(mode: Mode, plausible: fc.Arbitrary<T>, wrong: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return mode === 'valid' ? plausible : fc.oneof({ weight: 4, arbitrary: plausible }, { weight: 1, arbitrary: wrong });
}

/** A JSON value for one scalar of a field, of the type the JSON mapping expects, or in hostile mode sometimes not. */
function scalarJson(field: DescField, scalar: ScalarType, mode: Mode): fc.Arbitrary<JsonValue> {
  switch (scalar) {
    case ScalarType.STRING:
      return either<JsonValue>(mode, stringFor(field), anyText);
    case ScalarType.BOOL:
      return either<JsonValue>(mode, fc.boolean(), fc.constantFrom('true', 1, null));
    case ScalarType.BYTES:
      return either<JsonValue>(mode, fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b).toString('base64')), anyText);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return either<JsonValue>(mode, fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), fc.constantFrom('NaN', 'Infinity', '1e3', '-0', 'x'));
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return either<JsonValue>(mode, fc.bigInt({ min: 0n, max: 2n ** 53n }).map(String), fc.oneof(fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(String), fc.constantFrom('0x10', '1e3', ' 5', '+5', '1.5', '')));
    default:
      return either<JsonValue>(mode, fc.integer({ min: 0, max: 1000 }), fc.oneof(fc.integer(), fc.constantFrom(2 ** 31, -(2 ** 31) - 1, '0x10', '1e3', '1.0', 1.5, '')));
  }
}

/** A plausible string for a field: a name, URI or id where the field holds one. */
function stringFor(field: DescField): fc.Arbitrary<string> {
  const n = field.name;
  let plausible: fc.Arbitrary<string>;
  if (n === 'name' || n === 'parent' || n.endsWith('_version') || n === 'resource' || n === 'connection' || n === 'service' || n === 'workload') {
    plausible = fc.constantFrom('projects/demo/locations/us-central1', 'projects/demo/locations/us-central1/connections/keep-me', 'projects/demo/secrets/s/versions/1', 'projects/demo');
  } else if (n.endsWith('uri') || n === 'uri') {
    plausible = fc.constantFrom('https://git.example.com', 'https://example.com/repo.git', 'http://127.0.0.1:1/x');
  } else if (n === 'request_id') {
    plausible = fc.uuid({ version: 4 });
  } else if (n.endsWith('_id')) {
    plausible = validId;
  } else {
    plausible = fc.string({ maxLength: 16 }).map((t) => t.replace(/\0/g, ''));
  }
  return plausible;
}

/** The well-known types' JSON forms (proto3 JSON mapping), valid and wrong. */
function wktJson(typeName: string, mode: Mode): fc.Arbitrary<JsonValue> | undefined {
  switch (typeName) {
    case 'google.protobuf.Timestamp':
      return either<JsonValue>(
        mode,
        fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()),
        fc.constantFrom('0001-01-01T00:00:00Z', '2026-02-30T00:00:00Z', 'yesterday', '', 0),
      );
    case 'google.protobuf.Duration':
      return either<JsonValue>(mode, fc.integer({ min: 0, max: 1000 }).map((s) => `${s}s`), fc.constantFrom('-1s', '1.5s', '1m', '', 's'));
    case 'google.protobuf.FieldMask':
      return either<JsonValue>(mode, fc.constantFrom('labels', 'annotations', 'labels,annotations', 'disabled'), fc.oneof(fc.constantFrom('*', 'name', 'nope', ''), anyText));
    case 'google.protobuf.Empty':
      return fc.constant({});
    default:
      return undefined;
  }
}

/** A label key or value as Google allows them (keys start with a letter, values may be empty). */
const labelKey = fc.stringMatching(/^[a-z][a-z0-9_-]{0,8}$/);
const labelValue = fc.stringMatching(/^[a-z0-9_-]{0,8}$/);

/** The JSON of one field's value: a scalar, enum, message, list or map. */
function fieldJson(field: DescField, depth: number, mode: Mode): fc.Arbitrary<JsonValue> {
  switch (field.fieldKind) {
    case 'scalar':
      return scalarJson(field, field.scalar, mode);
    case 'enum':
      return enumJson(field.enum.values, mode);
    case 'message':
      return messageOrWkt(field.message, depth, mode);
    case 'list': {
      const item =
        field.listKind === 'scalar' ? scalarJson(field, field.scalar, mode) : field.listKind === 'enum' ? enumJson(field.enum.values, mode) : messageOrWkt(field.message, depth, mode);
      return fc.array(item, { maxLength: 2 });
    }
    case 'map': {
      const labels = field.name === 'labels';
      const value =
        field.mapKind === 'scalar'
          ? labels
            ? either<JsonValue>(mode, labelValue, anyText)
            : scalarJson(field, field.scalar, mode)
          : field.mapKind === 'enum'
            ? enumJson(field.enum.values, mode)
            : messageOrWkt(field.message, depth, mode);
      const key = labels ? either(mode, labelKey, anyText) : either(mode, fc.stringMatching(/^[a-z][a-z0-9./-]{0,8}$/), fc.string({ maxLength: 8 }));
      return fc.dictionary(key, value, { maxKeys: 3 });
    }
  }
}

function enumJson(values: readonly { name: string; number: number }[], mode: Mode): fc.Arbitrary<JsonValue> {
  const valid = fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...values.map((v) => v.name)) }, { weight: 1, arbitrary: fc.constantFrom(...values.map((v) => v.number)) });
  return either<JsonValue>(mode, valid, fc.oneof(fc.integer({ min: -2, max: 40 }), fc.constantFrom('NOPE', '', 'github_app')));
}

function messageOrWkt(desc: DescMessage, depth: number, mode: Mode): fc.Arbitrary<JsonValue> {
  return wktJson(desc.typeName, mode) ?? (depth >= 3 ? fc.constant({}) : messageJson(desc, mode, depth + 1));
}

/**
 * A JSON object of a message: any subset of its fields, and at most one member of each oneof.
 * `valid`: every value one the JSON mapping and the server's limits accept; `hostile`: any.
 */
export function messageJson(desc: DescMessage, mode: Mode = 'hostile', depth = 0): fc.Arbitrary<JsonObject> {
  const single = desc.fields.filter((f) => f.oneof === undefined);
  const record = fc.record(Object.fromEntries(single.map((f) => [f.jsonName, fieldJson(f, depth, mode)])), { requiredKeys: [] });
  const oneofs = desc.oneofs.map((oneof) => fc.option(fc.oneof(...oneof.fields.map((f) => fieldJson(f, depth, mode).map((v) => [f.jsonName, v] as const))), { nil: undefined }));
  return fc.tuple(record, ...oneofs).map(([fields, ...chosen]) => {
    const json: JsonObject = { ...(fields as JsonObject) };
    for (const pick of chosen) if (pick) json[pick[0]] = pick[1];
    return json;
  });
}

/** Any JSON value, as protobuf-es types one (a JSON round trip also turns -0 into 0). */
const anyJson = fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.parse(JSON.stringify(v)) as JsonValue);

type Mutation = 'replace' | 'delete' | 'unknown-key' | 'wrap-in-array' | 'stringify';

/** A JSON object with one of its values (at any depth) changed into something the schema does not expect. */
export function mutated(base: fc.Arbitrary<JsonObject>): fc.Arbitrary<JsonObject> {
  return fc
    .tuple(base, fc.nat(), fc.constantFrom<Mutation>('replace', 'delete', 'unknown-key', 'wrap-in-array', 'stringify'), anyJson)
    .map(([json, at, mutation, replacement]) => {
      const copy = structuredClone(json);
      const slots: { parent: JsonObject; key: string }[] = [];
      const visit = (value: JsonValue): void => {
        if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
        for (const key of Object.keys(value)) {
          slots.push({ parent: value, key });
          visit(value[key] as JsonValue);
        }
      };
      visit(copy);
      if (slots.length === 0 || mutation === 'unknown-key') {
        copy[`unknown${at % 7}`] = replacement;
        return copy;
      }
      const { parent, key } = slots[at % slots.length]!;
      if (mutation === 'delete') delete parent[key];
      else if (mutation === 'wrap-in-array') parent[key] = [parent[key] as JsonValue];
      else if (mutation === 'stringify') parent[key] = JSON.stringify(parent[key]);
      else parent[key] = replacement;
      return copy;
    });
}

/** A query string of parameters drawn from `names`, with values of any kind; a name may repeat. */
export function queryFor(names: readonly string[], values: fc.Arbitrary<string> = anyText): fc.Arbitrary<string> {
  const name = fc.oneof({ weight: 8, arbitrary: names.length > 0 ? fc.constantFrom(...names) : fc.constant('x') }, { weight: 1, arbitrary: fc.constantFrom('$alt', 'alt', 'key', 'fields', 'nope', '', 'a.b.c') });
  return fc
    .array(fc.tuple(name, fc.oneof(values, fc.integer().map(String), fc.constantFrom('true', 'false', '0x10', '1e3', '+5', ' 5'))), { maxLength: 4 })
    .map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v.replace(/[\ud800-\udfff]/g, 'x'))}`).join('&'));
}

/**
 * An AIP-160 filter over `fields` (by type), as a person would write one, or a mangled one: words
 * and quotes cut, doubled or dropped.
 */
export function filterText(fields: Readonly<Record<string, 'string' | 'bool' | 'int' | 'timestamp'>>): fc.Arbitrary<string> {
  const names = Object.keys(fields).map((f) => f.replace('.*', '.env'));
  const value = (field: string): fc.Arbitrary<string> => {
    switch (fields[field] ?? fields[field.replace(/\.[^.]+$/, '.*')]) {
      case 'bool':
        return fc.constantFrom('true', 'false', 'TRUE', '1');
      case 'int':
        return fc.oneof(fc.integer().map(String), fc.constantFrom('99999999999999999999', '-0', '1.5'));
      case 'timestamp':
        return fc.oneof(
          fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => `"${d.toISOString()}"`),
          fc.constantFrom('"2026-02-30T00:00:00Z"', '"2026-01-01T24:00:00Z"', '"2026-01-01"', '2026-01-01T00:00:00Z', '"2026-01-01T00:00:00+99:00"'),
        );
      default:
        return fc.oneof(validId, fc.string({ maxLength: 6 }).map((s) => JSON.stringify(s)), fc.constantFrom('"a*"', '"*a"', 'DEVELOPER_CONNECT', 'PENDING_USER_OAUTH'));
    }
  };
  const restriction = fc
    .constantFrom(...names)
    .chain((field) => fc.tuple(fc.constant(field), fc.constantFrom('=', '!=', '<', '<=', '>', '>=', ':'), value(field)))
    .map(([f, op, v]) => `${f} ${op} ${v}`);
  const expression: fc.Arbitrary<string> = fc.letrec<{ expr: string }>((tie) => ({
    expr: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      restriction,
      fc.tuple(tie('expr'), fc.constantFrom(' AND ', ' OR ', ' '), tie('expr')).map(([a, op, b]) => `${a}${op}${b}`),
      tie('expr').map((e) => `NOT ${e}`),
      tie('expr').map((e) => `-${e}`),
      tie('expr').map((e) => `(${e})`),
    ),
  })).expr;
  const mangled = fc.tuple(expression, fc.nat(), fc.nat(), anyText).map(([text, at, len, junk]) => {
    const i = at % (text.length + 1);
    return text.slice(0, i) + junk + text.slice(i + (len % 4));
  });
  return fc.oneof({ weight: 3, arbitrary: expression }, { weight: 2, arbitrary: mangled }, { weight: 1, arbitrary: anyText });
}
