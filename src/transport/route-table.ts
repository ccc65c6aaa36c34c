import type { HttpRoute } from './http-rules.js';
import { RequestBinder } from './transcode.js';

export interface RouteMatch {
  route: HttpRoute;
  binder: RequestBinder;
  /** The values of the route's variables, in order, still percent-encoded. */
  captures: string[];
}

interface Entry {
  route: HttpRoute;
  binder: RequestBinder;
}

/**
 * The templates of one shape (HTTP method and number of '/'), keyed by the literal segment that
 * tells most of them apart (`operations` in `/v1/projects/p/locations/l/operations/o`): a path is
 * tested against the templates with its literal there and those with a variable there, in their
 * order, rather than against all of them.
 */
interface Shape {
  /** Which segment is the key (0 is the empty one before the leading '/'); -1: none, test them all. */
  at: number;
  byLiteral: Map<string, Entry[]>;
  /** The templates with a variable at the key segment (all of them when there is no key). */
  others: Entry[];
}

/**
 * The REST routes by HTTP method and number of '/' in the path, then by a literal segment, so a
 * request is tested against the few templates that can match it rather than all of them. A
 * template with a `**` variable (any number of segments) is tested for every path of its method.
 */
export class RouteTable {
  /** HTTP method → number of '/' → templates of that shape; looked up with no string built per request. */
  private readonly byShape = new Map<string, Shape[]>();
  private readonly anyShape = new Map<string, Entry[]>();

  constructor(routes: readonly HttpRoute[]) {
    const grouped = new Map<string, Entry[][]>();
    for (const route of routes) {
      const entry = { route, binder: new RequestBinder(route) };
      if (route.template.includes('**')) {
        this.anyShape.set(route.httpMethod, [...(this.anyShape.get(route.httpMethod) ?? []), entry]);
        continue;
      }
      const shapes = grouped.get(route.httpMethod) ?? [];
      (shapes[slashes(expanded(route))] ??= []).push(entry);
      grouped.set(route.httpMethod, shapes);
    }
    for (const [httpMethod, shapes] of grouped) this.byShape.set(httpMethod, shapes.map((entries) => keyed(entries)));
  }

  match(httpMethod: string, path: string): RouteMatch | undefined {
    const shape = this.byShape.get(httpMethod)?.[slashes(path)];
    const candidates = shape && (shape.at < 0 ? shape.others : (shape.byLiteral.get(segment(path, shape.at)) ?? shape.others));
    return find(candidates, path) ?? find(this.anyShape.get(httpMethod), path);
  }
}

/** The template with each `{field=pattern}` replaced by its pattern. */
function expanded(route: HttpRoute): string {
  return route.template.replace(/\{[^}=]+=([^}]+)\}/g, '$1');
}

/** Keys the templates of one shape by the segment where their literals differ most. */
function keyed(entries: Entry[]): Shape {
  const segments = entries.map(({ route }) => expanded(route).split('/'));
  const literal = (s: string | undefined) => s !== undefined && !s.includes('*') && !s.includes('{');
  let at = -1;
  let most = 1;
  for (let i = 0; i < (segments[0]?.length ?? 0); i++) {
    const distinct = new Set(segments.map((s) => s[i]).filter(literal)).size;
    if (distinct > most) [at, most] = [i, distinct];
  }
  if (at < 0) return { at, byLiteral: new Map(), others: entries };
  const others = entries.filter((_, j) => !literal(segments[j]![at]));
  const byLiteral = new Map<string, Entry[]>();
  // Each literal's list keeps the templates' order, those with a variable there included: the first match wins, as in a scan of all.
  for (const value of new Set(segments.map((s) => s[at]!).filter(literal))) {
    byLiteral.set(value, entries.filter((_, j) => segments[j]![at] === value || !literal(segments[j]![at])));
  }
  return { at, byLiteral, others };
}

function find(entries: readonly Entry[] | undefined, path: string): RouteMatch | undefined {
  if (entries === undefined) return undefined;
  for (const { route, binder } of entries) {
    const m = route.pattern.exec(path);
    if (m) return { route, binder, captures: m.slice(1) };
  }
  return undefined;
}

function slashes(path: string): number {
  let n = 0;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 47) n++;
  return n;
}

/** The `at`-th segment of a path between its '/'s (the path has more than `at` of them). */
function segment(path: string, at: number): string {
  let start = 0;
  for (let k = 0; k < at; k++) start = path.indexOf('/', start) + 1;
  const end = path.indexOf('/', start);
  return path.slice(start, end < 0 ? path.length : end);
}
