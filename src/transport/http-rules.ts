import { getOption, hasOption, type DescMethod, type DescService } from '@bufbuild/protobuf';
import { http } from '../gen/google/api/annotations_pb.js';

/** One REST binding of a method (AIP-127): verb, compiled path template and body field. */
export interface HttpRoute {
  method: DescMethod;
  httpMethod: string;
  template: string;
  /** '' (no body), '*' (the whole request) or a top-level field name. */
  body: string;
  /** Matches the URL path; group i captures the value of `variables[i]`. */
  pattern: RegExp;
  /** Field paths (proto names, dotted) bound by the template, in capture order. */
  variables: string[];
}

/**
 * The mixins' rules come from Developer Connect's service configuration (developerconnect_v1.yaml
 * in googleapis), not from the mixin protos, whose annotations point at other paths. IAMPolicy is
 * served on projects only, at Resource Manager v1's paths (projects.getIamPolicy and its siblings).
 */
const MIXIN_RULES: Record<string, { httpMethod: string; template: string; body: string }> = {
  'google.cloud.location.Locations.GetLocation': { httpMethod: 'GET', template: '/v1/{name=projects/*/locations/*}', body: '' },
  'google.cloud.location.Locations.ListLocations': { httpMethod: 'GET', template: '/v1/{name=projects/*}/locations', body: '' },
  'google.longrunning.Operations.CancelOperation': {
    httpMethod: 'POST',
    template: '/v1/{name=projects/*/locations/*/operations/*}:cancel',
    body: '*',
  },
  'google.longrunning.Operations.DeleteOperation': {
    httpMethod: 'DELETE',
    template: '/v1/{name=projects/*/locations/*/operations/*}',
    body: '',
  },
  'google.longrunning.Operations.GetOperation': {
    httpMethod: 'GET',
    template: '/v1/{name=projects/*/locations/*/operations/*}',
    body: '',
  },
  'google.longrunning.Operations.ListOperations': {
    httpMethod: 'GET',
    template: '/v1/{name=projects/*/locations/*}/operations',
    body: '',
  },
  'google.iam.v1.IAMPolicy.GetIamPolicy': { httpMethod: 'POST', template: '/v1/{resource=projects/*}:getIamPolicy', body: '*' },
  'google.iam.v1.IAMPolicy.SetIamPolicy': { httpMethod: 'POST', template: '/v1/{resource=projects/*}:setIamPolicy', body: '*' },
  'google.iam.v1.IAMPolicy.TestIamPermissions': { httpMethod: 'POST', template: '/v1/{resource=projects/*}:testIamPermissions', body: '*' },
};

/** Every REST route of the given services: annotations for Developer Connect, the service config for mixins. */
export function httpRoutes(services: readonly DescService[]): HttpRoute[] {
  const routes: HttpRoute[] = [];
  for (const service of services) {
    for (const method of service.methods) {
      const mixin = MIXIN_RULES[`${service.typeName}.${method.name}`];
      if (mixin) {
        routes.push(compileRoute(method, mixin.httpMethod, mixin.template, mixin.body));
        continue;
      }
      if (service.typeName.startsWith('google.longrunning') || service.typeName.startsWith('google.cloud.location')) continue;
      if (!hasOption(method, http)) continue;
      const rule = getOption(method, http);
      for (const r of [rule, ...rule.additionalBindings]) {
        const { case: verb, value } = r.pattern;
        if (verb === undefined) continue;
        const httpMethod = verb === 'custom' ? value.kind : verb.toUpperCase();
        const template = verb === 'custom' ? value.path : value;
        routes.push(compileRoute(method, httpMethod, template, r.body));
      }
    }
  }
  return routes;
}

// Hand-written: the template grammar of google/api/http.proto is small, and no maintained npm
// package compiles it to a matcher (google-gax's PathTemplate renders, it does not route).
function compileRoute(method: DescMethod, httpMethod: string, template: string, body: string): HttpRoute {
  const variables: string[] = [];
  let verb = '';
  let path = template;
  const verbAt = template.lastIndexOf(':');
  if (verbAt > template.lastIndexOf('}') && verbAt > template.lastIndexOf('/')) {
    verb = template.slice(verbAt);
    path = template.slice(0, verbAt);
  }
  let source = '';
  for (const piece of path.split(/(\{[^}]+\})/)) {
    if (piece.startsWith('{')) {
      const [field = '', segments = '*'] = piece.slice(1, -1).split('=');
      variables.push(field);
      source += `(${segmentsPattern(segments)})`;
    } else {
      source += segmentsPattern(piece);
    }
  }
  return { method, httpMethod, template, body, pattern: new RegExp(`^${source}${escape(verb)}$`), variables };
}

function segmentsPattern(segments: string): string {
  return segments
    .split('/')
    .map((s) => (s === '**' ? '[^:]+' : s === '*' ? '[^/:]+' : escape(s)))
    .join('/');
}

function escape(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
