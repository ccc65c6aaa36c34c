import { readFileSync } from 'node:fs';
import { parseProjectName } from '../common/names.js';
import type { Store } from '../store/store.js';
import { ROOT_RESOURCE } from './policies.js';
import { etagOf, normalizeGroups, normalizePolicy, type Groups, type Policy } from './policy.js';

/**
 * The file of `serve --iam-policy FILE`, JSON:
 *
 * ```json
 * {
 *   "policies": {
 *     "*": { "bindings": [{ "role": "roles/owner", "members": ["user:admin@example.com"] }] },
 *     "projects/demo": {
 *       "version": 1,
 *       "bindings": [
 *         { "role": "roles/developerconnect.viewer", "members": ["user:a@example.com", "group:devs@example.com"] }
 *       ]
 *     }
 *   },
 *   "groups": { "devs@example.com": ["user:b@example.com", "serviceAccount:ci@demo.iam.gserviceaccount.com"] }
 * }
 * ```
 *
 * `policies` maps a resource — `projects/{project}`, or `*` for the root policy that applies to every
 * project — to a google.iam.v1.Policy in its JSON form (`bindings`, optional `version`; an `etag`, as
 * `gcloud projects get-iam-policy --format=json` prints it, is ignored). `groups` maps a group's email
 * to its members (users, service accounts, other groups). Both are optional.
 */
export interface PolicyFile {
  policies: Record<string, Policy>;
  groups: Groups;
}

/** Reads and validates a policy file; throws an Error that names the file and the offending entry. */
export function loadPolicyFile(path: string): PolicyFile {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`${path}: cannot read the IAM policy file: ${(error as Error).message}`, { cause: error });
  }
  const fail = (where: string, message: string): never => {
    throw new Error(`${path}: ${where}: ${message}`);
  };
  const top = object(json, 'the file', ['policies', 'groups'], fail);

  const groupsJson = object(top.groups ?? {}, 'groups', undefined, fail);
  const rawGroups: Record<string, string[]> = {};
  for (const [email, members] of Object.entries(groupsJson)) rawGroups[email] = strings(members, `groups["${email}"]`, fail);
  const groups = attempt(() => normalizeGroups(rawGroups), 'groups', fail);

  const policies: Record<string, Policy> = {};
  for (const [resource, value] of Object.entries(object(top.policies ?? {}, 'policies', undefined, fail))) {
    const where = `policies["${resource}"]`;
    if (resource !== ROOT_RESOURCE) attempt(() => parseProjectName(resource, 'resource'), where, fail);
    const policy = object(value, where, ['version', 'bindings', 'etag'], fail);
    if (policy.version !== undefined && typeof policy.version !== 'number') fail(`${where}.version`, 'must be a number.');
    const bindings = array(policy.bindings ?? [], `${where}.bindings`, fail).map((b, i) => {
      const binding = object(b, `${where}.bindings[${i}]`, ['role', 'members', 'condition'], fail);
      if (typeof binding.role !== 'string') fail(`${where}.bindings[${i}].role`, 'must be a string.');
      return { role: binding.role as string, members: strings(binding.members, `${where}.bindings[${i}].members`, fail), condition: binding.condition };
    });
    policies[resource] = attempt(() => normalizePolicy({ version: policy.version as number | undefined, bindings }), where, fail);
  }

  const referenced = [...Object.values(policies).flatMap((p) => p.bindings.flatMap((b) => b.members)), ...Object.values(groups).flat()];
  for (const member of referenced) {
    if (member.startsWith('group:') && !Object.hasOwn(groups, member.slice('group:'.length))) {
      fail('groups', `${member} is a member in the file but its group is not defined under "groups".`);
    }
  }
  return { policies, groups };
}

/**
 * Applies a loaded policy file at start, before serving: each policy replaces the stored policy of
 * its resource (resources the file does not name keep theirs), and the file's groups replace every
 * stored group, since the file is where groups are defined.
 */
export async function applyPolicyFile(store: Store, file: PolicyFile): Promise<void> {
  for (const [resource, policy] of Object.entries(file.policies)) {
    await store.setIamPolicy({ resource, ...policy, etag: etagOf(policy) });
  }
  await store.setIamGroups(file.groups);
}

type Fail = (where: string, message: string) => never;

function attempt<T>(work: () => T, where: string, fail: Fail): T {
  try {
    return work();
  } catch (error) {
    return fail(where, (error as Error).message);
  }
}

function object(value: unknown, where: string, keys: readonly string[] | undefined, fail: Fail): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail(where, 'must be a JSON object.');
  const record = value as Record<string, unknown>;
  const unknown = keys && Object.keys(record).find((key) => !keys.includes(key));
  if (unknown) fail(where, `unknown field "${unknown}" (expected ${keys.map((k) => `"${k}"`).join(', ')}).`);
  return record;
}

function array(value: unknown, where: string, fail: Fail): unknown[] {
  return Array.isArray(value) ? value : fail(where, 'must be a JSON array.');
}

function strings(value: unknown, where: string, fail: Fail): string[] {
  const list = array(value, where, fail);
  if (!list.every((item): item is string => typeof item === 'string')) fail(where, 'must be an array of strings.');
  return list as string[];
}
