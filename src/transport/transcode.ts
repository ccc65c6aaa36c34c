import { create, fromJson, ScalarType, type DescField, type DescMessage, type JsonObject, type JsonValue, type Message } from '@bufbuild/protobuf';
import { ApiError } from '../common/errors.js';
import { registry } from '../proto/registry.js';
import type { HttpRoute } from './http-rules.js';

/** System parameters Google's front end accepts on every method; they never bind to request fields. */
const SYSTEM_PARAMETERS = new Set(['$alt', 'alt', '$.xgafv', 'prettyPrint', 'key', 'access_token', 'quotaUser', 'fields', '$fields', 'callback']);

export interface RestCall {
  request: Message;
  /** `alt=json;enum-encoding=int`, as google-gax's REST fallback asks: enums go out as numbers. */
  enumAsInteger: boolean;
}

/**
 * Builds the request messages of one REST route (AIP-127 / google.api.HttpRule): path variables,
 * then the body (the whole request for '*', one field otherwise), then query parameters for
 * the fields neither binds. The JSON is parsed by protobuf-es, which rejects unknown fields.
 */
export class RequestBinder {
  private readonly input: DescMessage;
  /** The top-level field of each path variable, in capture order. */
  private readonly tops: DescField[];
  private readonly paths: string[][];
  /**
   * Set when every variable is a top-level string field: then a call with neither body nor query
   * (GetOperation, the hottest call) becomes a message with those fields set, without a JSON round trip.
   */
  private readonly direct: boolean;

  constructor(private readonly route: HttpRoute) {
    this.input = route.method.input;
    this.paths = route.variables.map((v) => v.split('.'));
    this.tops = this.paths.map((path) => fieldByName(this.input, path[0] ?? ''));
    this.direct = this.paths.every((path, i) => path.length === 1 && this.tops[i]?.fieldKind === 'scalar' && this.tops[i].scalar === ScalarType.STRING);
  }

  bind(captures: readonly string[], query: URLSearchParams | undefined, rawBody: string): RestCall {
    if (this.direct && query === undefined && rawBody.length === 0) {
      const request = create(this.input) as Message & Record<string, unknown>;
      for (let i = 0; i < this.tops.length; i++) request[(this.tops[i] as DescField).localName] = decodePathValue(captures[i] ?? '');
      return { request, enumAsInteger: false };
    }
    return this.bindJson(captures, query, rawBody);
  }

  private bindJson(captures: readonly string[], query: URLSearchParams | undefined, rawBody: string): RestCall {
    const { route, input } = this;
    let json: JsonObject = {};
    const bodyValue = parseBody(rawBody, route.body);
    if (bodyValue !== undefined) {
      const bodyField = route.body === '*' ? undefined : fieldByName(input, route.body);
      if (bodyField === undefined) checkJsonNumbers(bodyValue, input, '');
      else checkFieldJson(bodyField, bodyValue, bodyField.name);
    }
    if (route.body === '*') {
      if (bodyValue !== undefined) json = asObject(bodyValue, 'The request body');
    } else if (route.body !== '' && bodyValue !== undefined) {
      json[fieldByName(input, route.body).jsonName] = bodyValue;
    }

    const bound = new Set<string>();
    this.paths.forEach((path, i) => {
      const top = this.tops[i] as DescField;
      if (route.body === '*' && (json[top.jsonName] !== undefined || json[top.name] !== undefined)) {
        throw ApiError.invalidArgument(`Field '${top.name}' is bound by the URL path and must not be set in the request body.`, top.name);
      }
      setPath(json, input, path, decodePathValue(captures[i] ?? ''), true);
      bound.add(top.name);
    });

    let enumAsInteger = false;
    for (const [key, value] of query ?? []) {
      if (SYSTEM_PARAMETERS.has(key)) {
        if (key === '$alt' || key === 'alt') enumAsInteger = /enum-encoding=int/.test(value);
        continue;
      }
      if (route.body === '*') {
        throw ApiError.invalidArgument(`Cannot bind query parameter '${key}': the request body carries every field of this method.`, key);
      }
      const path = key.split('.');
      const top = fieldByName(input, path[0] ?? '', key);
      if (route.body !== '' && top.name === route.body) {
        throw ApiError.invalidArgument(`Cannot bind query parameter '${key}': the field is carried by the request body.`, key);
      }
      if (bound.has(top.name)) {
        throw ApiError.invalidArgument(`Cannot bind query parameter '${key}': the field is bound by the URL path.`, key);
      }
      setPath(json, input, path, value, false);
    }

    try {
      return { request: fromJson(input, json, { registry }), enumAsInteger };
    } catch (error) {
      throw ApiError.invalidArgument(`Invalid request: ${(error as Error).message}`);
    }
  }
}

function parseBody(raw: string, bodyRule: string): JsonValue | undefined {
  if (raw.trim() === '') return undefined;
  if (bodyRule === '') throw ApiError.invalidArgument('This method takes no request body.');
  try {
    return JSON.parse(raw) as JsonValue;
  } catch (error) {
    throw ApiError.invalidArgument(`Invalid JSON payload received. ${(error as Error).message}`);
  }
}

function asObject(value: JsonValue, what: string): JsonObject {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw ApiError.invalidArgument(`${what} must be a JSON object.`);
  }
  return value;
}

function decodePathValue(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw ApiError.invalidArgument(`The URL path has an invalid percent-encoding: '${raw}'.`);
  }
}

/** A field by its proto name or JSON name, as the JSON mapping accepts both. */
function fieldByName(message: DescMessage, name: string, parameter = name): DescField {
  const field = message.fields.find((f) => f.name === name || f.jsonName === name);
  if (!field) {
    throw ApiError.invalidArgument(`Cannot bind query parameter '${parameter}': ${message.typeName} has no field '${name}'.`, parameter);
  }
  return field;
}

function setPath(json: JsonObject, message: DescMessage, path: string[], value: string, fromUrlPath: boolean, protoPrefix = ''): void {
  const [head = '', ...rest] = path;
  const field = fieldByName(message, head, path.join('.'));
  if (rest.length > 0) {
    if (field.fieldKind !== 'message') {
      throw ApiError.invalidArgument(`Cannot bind '${path.join('.')}': '${head}' is not a message field.`, head);
    }
    const child = json[field.jsonName] ?? {};
    const object = asObject(child, `Field '${head}'`);
    json[field.jsonName] = object;
    setPath(object, field.message, rest, value, fromUrlPath, `${protoPrefix}${field.name}.`);
    return;
  }
  const existing = json[field.jsonName];
  if (fromUrlPath && existing !== undefined && existing !== value) {
    throw ApiError.invalidArgument(`Field '${head}' is bound by the URL path and must not be set in the request body.`, head);
  }
  // Only a repeated field takes a parameter more than once; Google's front end refuses the rest
  // rather than keep the first or the last value.
  if (!fromUrlPath && existing !== undefined && field.fieldKind !== 'list') {
    throw ApiError.badField(`${protoPrefix}${field.name}`, `Parameter '${protoPrefix}${field.name}' is given more than once, but it is not a repeated field.`);
  }
  const converted = scalarFromString(field, value);
  if (field.fieldKind === 'list') {
    const list = Array.isArray(existing) ? existing : [];
    list.push(converted);
    json[field.jsonName] = list;
  } else {
    json[field.jsonName] = converted;
  }
}

/**
 * Query values are strings; the JSON mapping accepts strings for numbers and enum names, but not
 * for bools, nor enum numbers (`?refType=2`, which Google's clients send with enum-encoding=int).
 */
function scalarFromString(field: DescField, value: string): JsonValue {
  const scalar = field.fieldKind === 'scalar' || field.fieldKind === 'list' ? field.scalar : undefined;
  if (scalar === ScalarType.BOOL) {
    if (value === 'true' || value === 'false') return value === 'true';
    throw ApiError.invalidArgument(`Parameter '${field.name}' must be true or false (got '${value}').`, field.name);
  }
  const isEnum = field.fieldKind === 'enum' || (field.fieldKind === 'list' && field.listKind === 'enum');
  if (isEnum && /^-?\d+$/.test(value)) return Number(value);
  // The JSON mapping would also read `0x10`, `1e3`, `+5` and `1.0` as integers: a query parameter is
  // a decimal number, as Google's front end reads it.
  if (scalar !== undefined && INTEGER_TYPES.has(scalar) && !/^-?\d+$/.test(value)) {
    throw ApiError.badField(field.name, `Parameter '${field.name}' must be a decimal integer (got '${value.slice(0, 40)}').`);
  }
  if ((scalar === ScalarType.DOUBLE || scalar === ScalarType.FLOAT) && !DECIMAL.test(value)) {
    throw ApiError.badField(field.name, `Parameter '${field.name}' must be a decimal number (got '${value.slice(0, 40)}').`);
  }
  return value;
}

const INTEGER_TYPES: ReadonlySet<ScalarType> = new Set([
  ScalarType.INT32,
  ScalarType.INT64,
  ScalarType.UINT32,
  ScalarType.UINT64,
  ScalarType.SINT32,
  ScalarType.SINT64,
  ScalarType.FIXED32,
  ScalarType.FIXED64,
  ScalarType.SFIXED32,
  ScalarType.SFIXED64,
]);
const DECIMAL = /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * protobuf-es reads an integer given as a JSON string with BigInt()/Number(), which also take
 * `"0x10"`, `" 12"` and `"0b1"`; the proto3 JSON mapping (and Google's front end) takes a decimal
 * string only. Walks the body along the message's fields and refuses such strings, naming the field;
 * protobuf-es does every other check when it parses the body.
 */
function checkJsonNumbers(value: JsonValue, message: DescMessage, path: string): void {
  if (message.typeName.startsWith('google.protobuf.') || value === null || typeof value !== 'object' || Array.isArray(value)) return;
  for (const [key, child] of Object.entries(value)) {
    const field = message.fields.find((f) => f.jsonName === key || f.name === key);
    if (field !== undefined) checkFieldJson(field, child, `${path}${field.name}`);
  }
}

function checkFieldJson(field: DescField, value: JsonValue, path: string): void {
  if (value === null) return;
  if (field.fieldKind === 'list' && Array.isArray(value)) {
    value.forEach((item, i) => checkValueJson(field, item, `${path}[${i}]`));
  } else if (field.fieldKind === 'map' && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, item] of Object.entries(value)) checkValueJson(field, item, `${path}[${JSON.stringify(key)}]`);
  } else {
    checkValueJson(field, value, path);
  }
}

function checkValueJson(field: DescField, value: JsonValue, path: string): void {
  const kind = field.fieldKind === 'list' ? field.listKind : field.fieldKind === 'map' ? field.mapKind : field.fieldKind;
  if (kind === 'message' && field.message) return checkJsonNumbers(value, field.message, `${path}.`);
  const scalar = field.fieldKind === 'scalar' ? field.scalar : field.fieldKind === 'list' && field.listKind === 'scalar' ? field.scalar : field.fieldKind === 'map' && field.mapKind === 'scalar' ? field.scalar : undefined;
  if (typeof value !== 'string' || scalar === undefined) return;
  if (INTEGER_TYPES.has(scalar) && !/^-?\d+$/.test(value)) {
    throw ApiError.badField(path, `Invalid value at '${path}': an integer as a JSON string must be decimal digits (got ${JSON.stringify(value.slice(0, 40))}).`);
  }
  if ((scalar === ScalarType.DOUBLE || scalar === ScalarType.FLOAT) && !DECIMAL.test(value) && !['NaN', 'Infinity', '-Infinity'].includes(value)) {
    throw ApiError.badField(path, `Invalid value at '${path}': a number as a JSON string must be decimal (got ${JSON.stringify(value.slice(0, 40))}).`);
  }
}
