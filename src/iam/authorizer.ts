import { ApiError, Code } from '../common/errors.js';
import type { Authorizer, Principal } from '../auth/principal.js';
import type { MaybePromise } from '../common/maybe-promise.js';
import { EtagMismatchError, type Store } from '../store/store.js';
import { IamPolicies, ROOT_RESOURCE, type LoadedPolicy } from './policies.js';
import { canonicalMember, etagOf, normalizePolicy } from './policy.js';

const PROJECT = /^projects\/([^/]+)/;

/**
 * The permission check of `--auth jwt`: a principal holds a permission on `projects/{p}/…` when
 * the allow policy of `projects/{p}` or the server-wide root policy grants it, through its own
 * member, a group it belongs to, `allAuthenticatedUsers` or `allUsers`. Resources outside a
 * project are governed by the root policy alone.
 */
export class IamAuthorizer implements Authorizer {
  constructor(private readonly policies: IamPolicies) {}

  check(principal: Principal, permission: string, resource: string): MaybePromise<void> {
    const decided = this.decideNow(principal, permission, resource);
    if (decided === true) return;
    if (decided === false) throw permissionDenied(permission, resource);
    return this.decide(principal, permission, resource).then((granted) => {
      if (!granted) throw permissionDenied(permission, resource);
    });
  }

  private async decide(principal: Principal, permission: string, resource: string): Promise<boolean> {
    const [identities, policies] = await Promise.all([this.identities(principal), this.applicable(resource)]);
    return granted(policies, identities, permission);
  }

  /** The decision from what is loaded already, with no await (the common case); undefined when something must be read. */
  private decideNow(principal: Principal, permission: string, resource: string): boolean | undefined {
    const project = PROJECT.exec(resource)?.[1];
    const root = this.policies.peek(ROOT_RESOURCE);
    const own = project === undefined ? undefined : this.policies.peek(`projects/${project}`);
    if (!root || (project !== undefined && !own)) return undefined;
    const member = memberOf(principal);
    const groups = member === undefined ? [] : this.policies.peekGroupsOf(member);
    if (!groups) return undefined;
    return granted(own ? [own, root] : [root], identitiesOf(member, groups), permission);
  }

  async permitted(principal: Principal, resource: string, permissions: readonly string[]): Promise<string[]> {
    const [identities, policies] = await Promise.all([this.identities(principal), this.applicable(resource)]);
    return permissions.filter((permission) => granted(policies, identities, permission));
  }

  /** Every member string that matches the principal. */
  private async identities(principal: Principal): Promise<readonly string[]> {
    const member = memberOf(principal);
    return identitiesOf(member, member === undefined ? [] : await this.policies.groupsOf(member));
  }

  private applicable(resource: string): Promise<LoadedPolicy[]> {
    const project = PROJECT.exec(resource)?.[1];
    const root = this.policies.get(ROOT_RESOURCE);
    return Promise.all(project === undefined ? [root] : [this.policies.get(`projects/${project}`), root]);
  }
}

/** The principal's own member, or undefined for one that can only match `allUsers`. */
function memberOf(principal: Principal): string | undefined {
  const member = canonicalMember(principal.member);
  return member === 'allUsers' || member === 'allAuthenticatedUsers' ? undefined : member;
}

/**
 * Every member string that matches a principal: itself, its groups, and — as anyone with a
 * credential the server accepted — allAuthenticatedUsers and allUsers.
 */
function identitiesOf(member: string | undefined, groups: readonly string[]): readonly string[] {
  return member === undefined ? ['allUsers'] : [member, ...groups, 'allAuthenticatedUsers', 'allUsers'];
}

function granted(policies: readonly LoadedPolicy[], identities: readonly string[], permission: string): boolean {
  return policies.some((policy) => identities.some((identity) => policy.grants.get(identity)?.has(permission) === true));
}

/**
 * Google's denial, word for word: the same whether or not the resource exists, so a caller without
 * the permission learns nothing about it.
 */
export function permissionDenied(permission: string, resource: string): ApiError {
  return new ApiError(Code.PERMISSION_DENIED, `Permission '${permission}' denied on resource '${resource}' (or it may not exist).`, {
    reason: 'IAM_PERMISSION_DENIED',
    domain: 'iam.googleapis.com',
    metadata: { permission, resource },
  });
}

/**
 * On the first start with `--auth jwt`: when no root policy exists yet, creates one that makes
 * `member` (e.g. `user:admin@example.com`) owner of every project, and returns true. Returns false
 * when a root policy already exists. Call it before the server serves.
 */
export async function bootstrapOwner(store: Store, member: string): Promise<boolean> {
  if (await store.getIamPolicy(ROOT_RESOURCE)) return false;
  const policy = normalizePolicy({ version: 1, bindings: [{ role: 'roles/owner', members: [member] }] });
  try {
    await store.setIamPolicy({ resource: ROOT_RESOURCE, ...policy, etag: etagOf(policy) }, null);
    return true;
  } catch (error) {
    if (error instanceof EtagMismatchError) return false;
    throw error;
  }
}
