import { EtagMismatchError, type Store } from '../store/store.js';
import { EMPTY_POLICY, etagOf, type Groups, type Policy, type StoredPolicy } from './policy.js';
import { permissionsOf } from './roles.js';

/** The resource key of the server-wide root policy, which applies to every project. */
export const ROOT_RESOURCE = '*';

/** A stored policy with who holds which permission, worked out once when it is loaded. */
export interface LoadedPolicy extends StoredPolicy {
  /** Member → the permissions the policy grants it. */
  grants: ReadonlyMap<string, ReadonlySet<string>>;
}

/**
 * The IAM policies and groups of the store, read through an in-memory cache that every write made
 * through this object invalidates. The store stays the truth: a write made by another process on
 * the same data directory is seen here only after a restart, so policies are changed through the
 * API of the server that enforces them.
 */
export class IamPolicies {
  private readonly policies = new Map<string, Promise<LoadedPolicy>>();
  /** The loaded policies again, as values: the permission check of every call reads them without awaiting. */
  private readonly loaded = new Map<string, LoadedPolicy>();
  private memberships?: Promise<Memberships>;
  private loadedMemberships?: Memberships;

  constructor(private readonly store: Store) {}

  /** The policy of a resource; a resource without one has the empty policy (version 1, no bindings). */
  get(resource: string): Promise<LoadedPolicy> {
    let loaded = this.policies.get(resource);
    if (!loaded) {
      const loading = this.load(resource);
      loaded = loading;
      this.policies.set(resource, loading);
      loading.then(
        (policy) => {
          if (this.policies.get(resource) === loading) this.loaded.set(resource, policy);
        },
        () => {
          if (this.policies.get(resource) === loading) this.policies.delete(resource);
        },
      );
    }
    return loaded;
  }

  /**
   * Replaces the policy of a resource (already validated by normalizePolicy). With `expectedEtag`,
   * only if the policy's etag is still that one; throws EtagMismatchError otherwise, also when
   * another write wins the race between this read and this write.
   */
  async set(resource: string, policy: Policy, expectedEtag?: string): Promise<StoredPolicy> {
    let compareWith: string | null | undefined;
    if (expectedEtag !== undefined) {
      const current = await this.store.getIamPolicy(resource);
      if (expectedEtag !== (current?.etag ?? etagOf(EMPTY_POLICY))) throw new EtagMismatchError(resource);
      compareWith = current ? current.etag : null;
    }
    const stored: StoredPolicy = { ...policy, etag: etagOf(policy) };
    try {
      await this.store.setIamPolicy({ resource, ...stored }, compareWith);
    } finally {
      this.policies.delete(resource);
      this.loaded.delete(resource);
    }
    return stored;
  }

  /** The policy of a resource if it is loaded already; undefined means: call get(). */
  peek(resource: string): LoadedPolicy | undefined {
    return this.loaded.get(resource);
  }

  /** groupsOf, if the groups are loaded already; undefined means: call groupsOf(). */
  peekGroupsOf(member: string): readonly string[] | undefined {
    return this.loadedMemberships?.of(member);
  }

  /** The groups that contain `member` (a canonical member), directly or through other groups, as `group:` members. */
  async groupsOf(member: string): Promise<readonly string[]> {
    if (!this.memberships) {
      const loading = this.store.getIamGroups().then((groups) => new Memberships(groups));
      this.memberships = loading;
      loading.then(
        (memberships) => {
          if (this.memberships === loading) this.loadedMemberships = memberships;
        },
        () => {
          if (this.memberships === loading) this.memberships = undefined;
        },
      );
    }
    return (await this.memberships).of(member);
  }

  /** Replaces every group (already validated by normalizeGroups). */
  async setGroups(groups: Groups): Promise<void> {
    try {
      await this.store.setIamGroups(groups);
    } finally {
      this.memberships = undefined;
      this.loadedMemberships = undefined;
    }
  }

  private async load(resource: string): Promise<LoadedPolicy> {
    const record = await this.store.getIamPolicy(resource);
    const policy: StoredPolicy = record
      ? { version: record.version, bindings: record.bindings, etag: record.etag }
      : { ...EMPTY_POLICY, etag: etagOf(EMPTY_POLICY) };
    const grants = new Map<string, Set<string>>();
    for (const binding of policy.bindings) {
      // A role this version does not know grants nothing.
      const permissions = permissionsOf(binding.role) ?? [];
      for (const member of binding.members) {
        const held = grants.get(member) ?? new Set<string>();
        for (const permission of permissions) held.add(permission);
        grants.set(member, held);
      }
    }
    return { ...policy, grants };
  }
}

/** Which groups each member belongs to, following nested groups. */
class Memberships {
  /** Member → the groups that list it directly, as `group:` members. */
  private readonly direct = new Map<string, string[]>();
  private readonly closure = new Map<string, readonly string[]>();

  constructor(groups: Groups) {
    for (const [email, members] of Object.entries(groups)) {
      for (const member of members) this.direct.set(member, [...(this.direct.get(member) ?? []), `group:${email}`]);
    }
  }

  of(member: string): readonly string[] {
    let found = this.closure.get(member);
    if (!found) {
      const seen = new Set<string>();
      const pending = [member];
      for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
        for (const group of this.direct.get(next) ?? []) {
          if (seen.has(group)) continue;
          seen.add(group);
          pending.push(group);
        }
      }
      found = [...seen];
      this.closure.set(member, found);
    }
    return found;
  }
}
