/** The console's pages, by URL under /console/. Every page has its own URL, so reload, back and links work. */
export type Route =
  | { page: 'picker'; project?: string }
  | { page: 'operations'; project: string; location: string; query: URLSearchParams }
  | { page: 'operation'; project: string; location: string; id: string }
  /** A collection (odd number of segments after the location) or one resource (even), e.g. connections/c1/gitRepositoryLinks. */
  | { page: 'resources'; project: string; location: string; segments: string[] }
  | { page: 'iam'; project: string }
  /** The server's fault rules (not a project's: they act on every call). */
  | { page: 'faults' }
  | { page: 'not-found'; path: string };

export const BASE = '/console';
/** Ids as AIP-122 allows them (and project ids, which may hold dots): nothing a URL or a REST path must escape. */
const ID = /^[A-Za-z0-9][A-Za-z0-9._~-]*$/;

export function parseRoute(pathname: string, search: string): Route {
  const rest = pathname.startsWith(`${BASE}/`) ? pathname.slice(BASE.length + 1) : '';
  const parts = rest.split('/').filter((p) => p !== '');
  if (parts.some((p) => !ID.test(p))) return { page: 'not-found', path: pathname };
  const [projects, project, locations, location, collection, ...more] = parts;
  if (parts.length === 0) return { page: 'picker' };
  if (parts.length === 1 && projects === 'faults') return { page: 'faults' };
  if (projects !== 'projects' || project === undefined) return { page: 'not-found', path: pathname };
  if (locations === undefined) return { page: 'picker', project };
  if (locations === 'iam' && parts.length === 3) return { page: 'iam', project };
  if (locations !== 'locations' || location === undefined) return { page: 'not-found', path: pathname };
  if (collection === undefined || (collection === 'operations' && more.length === 0)) {
    return { page: 'operations', project, location, query: new URLSearchParams(search) };
  }
  if (collection === 'operations' && more.length === 1 && more[0] !== undefined) return { page: 'operation', project, location, id: more[0] };
  return { page: 'resources', project, location, segments: [collection, ...more] };
}

export const paths = {
  picker: (project?: string) => (project ? `${BASE}/projects/${project}` : `${BASE}/`),
  location: (project: string, location: string) => `${BASE}/projects/${project}/locations/${location}`,
  operations: (project: string, location: string, query?: URLSearchParams) => {
    const q = query?.toString() ?? '';
    return `${paths.location(project, location)}/operations${q === '' ? '' : `?${q}`}`;
  },
  /** The console page of a resource or operation name (`projects/p/locations/l/...`), if it has one. */
  ofName: (name: string) => (/^projects\/[^/]+\/locations\/[^/]+\/.+/.test(name) ? `${BASE}/${name}` : undefined),
  iam: (project: string) => `${BASE}/projects/${project}/iam`,
  faults: () => `${BASE}/faults`,
};
