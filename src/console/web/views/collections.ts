/**
 * Developer Connect's resource types as the console shows them: a declaration each (columns, child
 * collections, whether it can be deleted), read by one generic list and detail page (resources.ts).
 */
export type Resource = Record<string, unknown>;

export interface Column {
  label: string;
  value(resource: Resource): string;
}

export interface Collection {
  /** The collection's segment in names and REST paths (`connections`). */
  id: string;
  title: string;
  singular: string;
  columns: readonly Column[];
  /** Collections under one of these resources, shown on its page. */
  children: readonly string[];
  /** Whether the API has a Delete for it (DeploymentEvents have none). */
  deletable: boolean;
}

const text = (value: unknown): string => (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : '');
const field = (path: string) => (r: Resource): string => {
  let value: unknown = r;
  for (const key of path.split('.')) value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  return text(value);
};
const time = (path: string) => (r: Resource): string => {
  const value = field(path)(r);
  return value === '' ? '' : new Date(value).toLocaleString();
};
/** A connection's provider: the one `…Config` field it sets (besides the git proxy's and the key's). */
const provider = (r: Resource): string =>
  Object.keys(r)
    .filter((k) => k.endsWith('Config') && k !== 'gitProxyConfig' && k !== 'cryptoKeyConfig')
    .map((k) => k.slice(0, -'Config'.length))
    .join(', ');

const CREATED: Column = { label: 'Created', value: time('createTime') };

export const COLLECTIONS: Readonly<Record<string, Collection>> = {
  connections: {
    id: 'connections',
    title: 'Connections',
    singular: 'connection',
    columns: [
      { label: 'Provider', value: provider },
      { label: 'Installation state', value: field('installationState.stage') },
      { label: 'Disabled', value: (r) => (r.disabled === true ? 'yes' : 'no') },
      CREATED,
    ],
    children: ['gitRepositoryLinks'],
    deletable: true,
  },
  gitRepositoryLinks: {
    id: 'gitRepositoryLinks',
    title: 'Git repository links',
    singular: 'git repository link',
    columns: [{ label: 'Clone URI', value: field('cloneUri') }, { label: 'Git proxy URI', value: field('gitProxyUri') }, CREATED],
    children: [],
    deletable: true,
  },
  accountConnectors: {
    id: 'accountConnectors',
    title: 'Account connectors',
    singular: 'account connector',
    columns: [
      { label: 'Provider', value: field('providerOauthConfig.systemProviderId') },
      { label: 'Scopes', value: (r) => (Array.isArray((r.providerOauthConfig as Resource | undefined)?.scopes) ? ((r.providerOauthConfig as Resource).scopes as unknown[]).map(text).join(' ') : '') },
      CREATED,
    ],
    children: ['users'],
    deletable: true,
  },
  users: {
    id: 'users',
    title: 'Users',
    singular: 'user',
    columns: [{ label: 'Display name', value: field('displayName') }, { label: 'Last token request', value: time('lastTokenRequestTime') }, CREATED],
    children: [],
    deletable: true,
  },
  insightsConfigs: {
    id: 'insightsConfigs',
    title: 'Insights configs',
    singular: 'insights config',
    columns: [{ label: 'App Hub application', value: field('appHubApplication') }, { label: 'State', value: field('state') }, CREATED],
    children: ['deploymentEvents'],
    deletable: true,
  },
  deploymentEvents: {
    id: 'deploymentEvents',
    title: 'Deployment events',
    singular: 'deployment event',
    columns: [{ label: 'State', value: field('state') }, { label: 'Deployed', value: time('deployTime') }, { label: 'Runtime deployment', value: field('runtimeDeploymentUri') }],
    children: [],
    deletable: false,
  },
};

/** The collections directly under a location, in the navigation's order. */
export const TOP_LEVEL = ['connections', 'accountConnectors', 'insightsConfigs'] as const;

/** Whether `segments` (after the location: collection, id, collection, …) follow the resource hierarchy. */
export function validPath(segments: readonly string[]): boolean {
  let allowed: readonly string[] = TOP_LEVEL;
  for (let i = 0; i < segments.length; i += 2) {
    const collection = COLLECTIONS[segments[i] ?? ''];
    if (!collection || !allowed.includes(collection.id)) return false;
    allowed = collection.children;
  }
  return true;
}
