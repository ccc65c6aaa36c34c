import type { ResourceModule } from '../api/resource-module.js';
import { connections } from './connections/index.js';
import { gitRepositoryLinks } from './git-repository-links/index.js';

/** Every Developer Connect resource the server serves: one line each. */
export const RESOURCES: readonly ResourceModule[] = [connections, gitRepositoryLinks];
