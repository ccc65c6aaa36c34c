/**
 * Roles and the permissions they grant, as Google publishes them on "Developer Connect roles and
 * permissions" (https://cloud.google.com/iam/docs/roles-permissions/developerconnect): the role table
 * gives each predefined role's permissions, and the permission table ("Included in roles") says
 * which basic roles (Owner, Editor, Viewer) include each Developer Connect permission. Both are
 * copied here as data; nothing is derived from a pattern such as "every *.get".
 *
 * The Developer Connect Service Agent and Insights Config Agent roles are left out: they are granted
 * to Google's own service agents and consist of permissions of other services.
 */

/** Every Developer Connect permission on Google's page, with the basic roles that include it. */
const DEVELOPER_CONNECT_PERMISSIONS: Record<string, 'viewer' | 'editor' | 'owner'> = {
  'developerconnect.accountConnectors.create': 'editor',
  'developerconnect.accountConnectors.delete': 'editor',
  'developerconnect.accountConnectors.get': 'viewer',
  'developerconnect.accountConnectors.list': 'viewer',
  'developerconnect.accountConnectors.update': 'editor',
  'developerconnect.connections.constructGitHubAppManifest': 'editor',
  'developerconnect.connections.create': 'editor',
  'developerconnect.connections.delete': 'editor',
  'developerconnect.connections.fetchGitHubInstallations': 'viewer',
  'developerconnect.connections.fetchLinkableGitRepositories': 'viewer',
  'developerconnect.connections.generateGitHubStateToken': 'editor',
  'developerconnect.connections.get': 'viewer',
  'developerconnect.connections.httpProxyRead': 'owner',
  'developerconnect.connections.httpProxyWrite': 'owner',
  'developerconnect.connections.list': 'viewer',
  'developerconnect.connections.processGitHubAppCreationCallback': 'editor',
  'developerconnect.connections.processGitHubOAuthCallback': 'editor',
  'developerconnect.connections.update': 'editor',
  'developerconnect.deploymentEvents.get': 'viewer',
  'developerconnect.deploymentEvents.list': 'viewer',
  'developerconnect.gitRepositoryLinks.create': 'editor',
  'developerconnect.gitRepositoryLinks.delete': 'editor',
  'developerconnect.gitRepositoryLinks.fetchGitRefs': 'viewer',
  'developerconnect.gitRepositoryLinks.fetchReadToken': 'owner',
  'developerconnect.gitRepositoryLinks.fetchReadWriteToken': 'owner',
  'developerconnect.gitRepositoryLinks.get': 'viewer',
  'developerconnect.gitRepositoryLinks.gitProxyRead': 'owner',
  'developerconnect.gitRepositoryLinks.gitProxyWrite': 'owner',
  'developerconnect.gitRepositoryLinks.list': 'viewer',
  'developerconnect.insightsConfigs.create': 'editor',
  'developerconnect.insightsConfigs.delete': 'editor',
  'developerconnect.insightsConfigs.get': 'viewer',
  'developerconnect.insightsConfigs.list': 'viewer',
  'developerconnect.insightsConfigs.update': 'editor',
  'developerconnect.locations.get': 'viewer',
  'developerconnect.locations.list': 'viewer',
  'developerconnect.operations.cancel': 'editor',
  'developerconnect.operations.delete': 'editor',
  'developerconnect.operations.get': 'viewer',
  'developerconnect.operations.list': 'viewer',
  'developerconnect.providers.list': 'viewer',
  'developerconnect.users.delete': 'editor',
  'developerconnect.users.deleteSelf': 'editor',
  'developerconnect.users.fetchAccessToken': 'viewer',
  'developerconnect.users.finishOAuth': 'editor',
  'developerconnect.users.getSelf': 'viewer',
  'developerconnect.users.list': 'viewer',
  'developerconnect.users.startOAuth': 'editor',
};

/**
 * The project permissions of the basic roles that the emulator checks. Viewer and Editor may read a
 * project's allow policy; only Owner may change it (IAM basic roles, cloud.google.com/iam/docs/roles-overview#basic).
 */
const PROJECT_PERMISSIONS: Record<string, 'viewer' | 'editor' | 'owner'> = {
  'resourcemanager.projects.get': 'viewer',
  'resourcemanager.projects.getIamPolicy': 'viewer',
  'resourcemanager.projects.setIamPolicy': 'owner',
};

const RANK = { viewer: 0, editor: 1, owner: 2 } as const;

function basicRole(level: keyof typeof RANK): string[] {
  return Object.entries({ ...DEVELOPER_CONNECT_PERMISSIONS, ...PROJECT_PERMISSIONS })
    .filter(([, least]) => RANK[least] <= RANK[level])
    .map(([permission]) => permission);
}

const PROJECT_READ = ['resourcemanager.projects.get', 'resourcemanager.projects.list'];
const LOCATIONS = ['developerconnect.locations.get', 'developerconnect.locations.list'];
const OPERATIONS_READ = ['developerconnect.operations.get', 'developerconnect.operations.list'];

/** Role name → the permissions it grants. */
export const ROLES: Readonly<Record<string, readonly string[]>> = {
  'roles/owner': basicRole('owner'),
  'roles/editor': basicRole('editor'),
  'roles/viewer': basicRole('viewer'),

  'roles/developerconnect.admin': [
    'developerconnect.connections.constructGitHubAppManifest',
    'developerconnect.connections.create',
    'developerconnect.connections.delete',
    'developerconnect.connections.fetchGitHubInstallations',
    'developerconnect.connections.fetchLinkableGitRepositories',
    'developerconnect.connections.generateGitHubStateToken',
    'developerconnect.connections.get',
    'developerconnect.connections.list',
    'developerconnect.connections.processGitHubAppCreationCallback',
    'developerconnect.connections.processGitHubOAuthCallback',
    'developerconnect.connections.update',
    'developerconnect.gitRepositoryLinks.create',
    'developerconnect.gitRepositoryLinks.delete',
    'developerconnect.gitRepositoryLinks.fetchGitRefs',
    'developerconnect.gitRepositoryLinks.get',
    'developerconnect.gitRepositoryLinks.gitProxyRead',
    'developerconnect.gitRepositoryLinks.gitProxyWrite',
    'developerconnect.gitRepositoryLinks.list',
    ...LOCATIONS,
    'developerconnect.operations.cancel',
    'developerconnect.operations.delete',
    ...OPERATIONS_READ,
    ...PROJECT_READ,
  ],
  'roles/developerconnect.viewer': [
    'developerconnect.connections.get',
    'developerconnect.connections.list',
    'developerconnect.gitRepositoryLinks.get',
    'developerconnect.gitRepositoryLinks.list',
    ...LOCATIONS,
    ...OPERATIONS_READ,
    ...PROJECT_READ,
  ],
  'roles/developerconnect.user': [
    'developerconnect.connections.fetchGitHubInstallations',
    'developerconnect.connections.fetchLinkableGitRepositories',
    'developerconnect.connections.get',
    'developerconnect.connections.list',
    'developerconnect.gitRepositoryLinks.fetchGitRefs',
    'developerconnect.gitRepositoryLinks.get',
    'developerconnect.gitRepositoryLinks.list',
    ...LOCATIONS,
    ...OPERATIONS_READ,
    ...PROJECT_READ,
  ],
  'roles/developerconnect.readTokenAccessor': [
    'developerconnect.connections.get',
    'developerconnect.gitRepositoryLinks.fetchReadToken',
    'developerconnect.gitRepositoryLinks.get',
  ],
  'roles/developerconnect.tokenAccessor': [
    'developerconnect.connections.get',
    'developerconnect.gitRepositoryLinks.fetchReadToken',
    'developerconnect.gitRepositoryLinks.fetchReadWriteToken',
    'developerconnect.gitRepositoryLinks.get',
  ],
  'roles/developerconnect.connectionHttpProxyWriter': [
    'developerconnect.connections.httpProxyRead',
    'developerconnect.connections.httpProxyWrite',
  ],
  'roles/developerconnect.gitProxyReader': ['developerconnect.gitRepositoryLinks.gitProxyRead'],
  'roles/developerconnect.gitProxyUser': [
    'developerconnect.gitRepositoryLinks.gitProxyRead',
    'developerconnect.gitRepositoryLinks.gitProxyWrite',
  ],
  'roles/developerconnect.insightsAdmin': [
    'developerconnect.deploymentEvents.get',
    'developerconnect.deploymentEvents.list',
    'developerconnect.insightsConfigs.create',
    'developerconnect.insightsConfigs.delete',
    'developerconnect.insightsConfigs.get',
    'developerconnect.insightsConfigs.list',
    'developerconnect.insightsConfigs.update',
    ...LOCATIONS,
    ...OPERATIONS_READ,
    ...PROJECT_READ,
  ],
  'roles/developerconnect.insightsViewer': [
    'developerconnect.deploymentEvents.get',
    'developerconnect.deploymentEvents.list',
    'developerconnect.insightsConfigs.get',
    'developerconnect.insightsConfigs.list',
    ...LOCATIONS,
    ...OPERATIONS_READ,
    ...PROJECT_READ,
  ],
  'roles/developerconnect.oauthAdmin': [
    'developerconnect.accountConnectors.create',
    'developerconnect.accountConnectors.delete',
    'developerconnect.accountConnectors.get',
    'developerconnect.accountConnectors.list',
    'developerconnect.accountConnectors.update',
    ...LOCATIONS,
    ...OPERATIONS_READ,
    'developerconnect.providers.list',
    'developerconnect.users.delete',
    'developerconnect.users.deleteSelf',
    'developerconnect.users.fetchAccessToken',
    'developerconnect.users.finishOAuth',
    'developerconnect.users.getSelf',
    'developerconnect.users.list',
    'developerconnect.users.startOAuth',
    ...PROJECT_READ,
  ],
  'roles/developerconnect.oauthUser': [
    'developerconnect.accountConnectors.get',
    'developerconnect.accountConnectors.list',
    ...LOCATIONS,
    ...OPERATIONS_READ,
    'developerconnect.users.deleteSelf',
    'developerconnect.users.fetchAccessToken',
    'developerconnect.users.finishOAuth',
    'developerconnect.users.getSelf',
    'developerconnect.users.startOAuth',
    ...PROJECT_READ,
  ],
};

/** The permissions of a role, or undefined for a role the emulator does not know. */
export function permissionsOf(role: string): readonly string[] | undefined {
  return Object.hasOwn(ROLES, role) ? ROLES[role] : undefined;
}
