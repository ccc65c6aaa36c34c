import type { ResourceModule } from '../api/resource-module.js';
import { accountConnectors } from './account-connectors/index.js';
import { connections } from './connections/index.js';
import { deploymentEvents } from './deployment-events/index.js';
import { gitRepositoryLinks } from './git-repository-links/index.js';
import { insightsConfigs } from './insights-configs/index.js';
import { users } from './users/index.js';

/** Every Developer Connect resource the server serves: one line each, parents before their children. */
export const RESOURCES: readonly ResourceModule[] = [connections, gitRepositoryLinks, accountConnectors, users, insightsConfigs, deploymentEvents];
