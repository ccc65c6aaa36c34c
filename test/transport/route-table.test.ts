/**
 * The route table tests a path against the templates of its shape only; it must pick the route
 * that testing every template in order would, for the paths of every route and for paths whose
 * variable segments spell another route's literals.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { services } from '../../src/proto/registry.js';
import { httpRoutes, type HttpRoute } from '../../src/transport/http-rules.js';
import { RouteTable } from '../../src/transport/route-table.js';

const routes = httpRoutes(services);
const table = new RouteTable(routes);

/** The route a linear scan picks: the first whose pattern matches. */
function linear(httpMethod: string, path: string): HttpRoute | undefined {
  return routes.find((r) => r.httpMethod === httpMethod && r.pattern.test(path));
}

/** Paths of a template with each `*` (and `**`) replaced by `value`. */
function pathOf(route: HttpRoute, value: string): string {
  return route.template.replace(/\{[^}=]+=([^}]+)\}/g, '$1').replace(/\{[^}]+\}/g, value).replaceAll('**', `${value}/${value}`).replaceAll('*', value);
}

test('every path is served by the route a scan of all templates in order picks', () => {
  const literals = new Set(routes.flatMap((r) => r.template.split(/[/{}=:*]+/).filter((s) => s !== '')));
  const values = ['x', 'us-central1', 'operations', 'connections', '%2F', ...literals];
  let checked = 0;
  for (const route of routes) {
    for (const value of values) {
      const path = pathOf(route, value);
      for (const variant of [path, `${path}x`, path.replace('/v1/', '/v2/'), `${path}/x`, path.replace(/\/[^/]*$/, '')]) {
        for (const httpMethod of ['GET', 'POST', 'PATCH', 'DELETE']) {
          assert.equal(table.match(httpMethod, variant)?.route, linear(httpMethod, variant), `${httpMethod} ${variant}`);
          checked++;
        }
      }
    }
    assert.equal(table.match(route.httpMethod, pathOf(route, 'x'))?.route.method, route.method, `${route.httpMethod} ${route.template}`);
  }
  assert.ok(checked > 1000);
});
