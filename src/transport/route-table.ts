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
 * The REST routes by HTTP method and number of '/' in the path, so a request is tested against the
 * few templates of its shape rather than all of them. A template with a `**` variable (any number
 * of segments) is tested for every path of its method.
 */
export class RouteTable {
  /** HTTP method → number of '/' → templates of that shape; looked up with no string built per request. */
  private readonly byShape = new Map<string, Entry[][]>();
  private readonly anyShape = new Map<string, Entry[]>();

  constructor(routes: readonly HttpRoute[]) {
    for (const route of routes) {
      const entry = { route, binder: new RequestBinder(route) };
      if (route.template.includes('**')) {
        this.anyShape.set(route.httpMethod, [...(this.anyShape.get(route.httpMethod) ?? []), entry]);
        continue;
      }
      const shapes = this.byShape.get(route.httpMethod) ?? [];
      const n = slashes(route.template.replace(/\{[^}=]+=([^}]+)\}/g, '$1'));
      (shapes[n] ??= []).push(entry);
      this.byShape.set(route.httpMethod, shapes);
    }
  }

  match(httpMethod: string, path: string): RouteMatch | undefined {
    return find(this.byShape.get(httpMethod)?.[slashes(path)], path) ?? find(this.anyShape.get(httpMethod), path);
  }
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
