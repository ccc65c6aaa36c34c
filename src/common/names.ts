import { ApiError } from './errors.js';

// Resource ids as Google's APIs accept them in names (AIP-122): no slashes, no empty segments.
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$/;

export interface LocationName {
  project: string;
  location: string;
}

function parse(name: string, field: string, pattern: readonly string[]): string[] {
  const parts = name.split('/');
  // Made only for the error: names are parsed on nearly every call, and nearly all of them are valid.
  const example = () => pattern.map((p, i) => (i % 2 === 0 ? p : `{${p}}`)).join('/');
  if (parts.length !== pattern.length) {
    throw ApiError.invalidArgument(`${field} '${name}' is not a valid name: expected ${example()}.`, field);
  }
  const ids: string[] = [];
  parts.forEach((part, i) => {
    const expected = pattern[i] ?? '';
    if (i % 2 === 0) {
      if (part !== expected) {
        throw ApiError.invalidArgument(`${field} '${name}' is not a valid name: expected ${example()}.`, field);
      }
    } else {
      if (!SEGMENT.test(part)) {
        throw ApiError.invalidArgument(
          `${field} '${name}' has an invalid ${expected} id '${part}': ids are 1-128 letters, digits, '.', '_', '~' or '-'.`,
          field,
        );
      }
      ids.push(part);
    }
  });
  return ids;
}

export function parseProjectName(name: string, field = 'name'): { project: string } {
  const [project = ''] = parse(name, field, ['projects', 'project']);
  return { project };
}

export function parseLocationName(name: string, field = 'name'): LocationName {
  const [project = '', location = ''] = parse(name, field, ['projects', 'project', 'locations', 'location']);
  return { project, location };
}

export function parseOperationName(name: string, field = 'name'): LocationName & { operation: string } {
  const [project = '', location = '', operation = ''] = parse(name, field, [
    'projects',
    'project',
    'locations',
    'location',
    'operations',
    'operation',
  ]);
  return { project, location, operation };
}

export function parseConnectionName(name: string, field = 'name'): LocationName & { connection: string } {
  const [project = '', location = '', connection = ''] = parse(name, field, [
    'projects',
    'project',
    'locations',
    'location',
    'connections',
    'connection',
  ]);
  return { project, location, connection };
}

export function locationName(l: LocationName): string {
  return `projects/${l.project}/locations/${l.location}`;
}

/**
 * Parses a name against a resource pattern of its proto (`projects/{project}/locations/{location}`)
 * and returns its ids by variable name; INVALID_ARGUMENT naming `field` when it does not match.
 */
export function parseByPattern(name: string, pattern: string, field = 'name'): Record<string, string> {
  let segments = patternSegments.get(pattern);
  if (segments === undefined) {
    segments = pattern.split('/').map((s) => (s.startsWith('{') ? s.slice(1, -1) : s));
    patternSegments.set(pattern, segments);
  }
  const ids = parse(name, field, segments);
  const result: Record<string, string> = {};
  ids.forEach((id, i) => (result[segments[2 * i + 1]!] = id));
  return result;
}

/** The segments of each pattern parseByPattern has seen: the resources' patterns, a few dozen. */
const patternSegments = new Map<string, string[]>();
