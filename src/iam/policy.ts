import { createHash } from 'node:crypto';
import { ApiError } from '../common/errors.js';
import type { IamBinding } from '../store/store.js';
import { permissionsOf } from './roles.js';

/** A valid allow policy in canonical form: one binding per role, sorted by role, members sorted and unique. */
export interface Policy {
  version: number;
  bindings: IamBinding[];
}

/** A policy with the etag that setIamPolicy compares (google.iam.v1.Policy.etag, base64). */
export interface StoredPolicy extends Policy {
  etag: string;
}

/** A policy as a caller writes it: google.iam.v1.Policy's fields, before validation. */
export interface PolicyInput {
  version?: number;
  bindings: readonly { role: string; members: readonly string[]; condition?: unknown }[];
}

/** Group email → its members; a group's members may be users, service accounts and other groups. */
export type Groups = Record<string, string[]>;

/** Valid values of Policy.version (google/iam/v1/policy.proto); 0, unset, means 1. */
const VERSIONS = new Set([0, 1, 3]);

const EMAIL = /^[^@\s:/]+@[^@\s:/]+$/;
const MEMBER_KINDS = 'user:EMAIL, serviceAccount:EMAIL, group:EMAIL, allUsers or allAuthenticatedUsers';

/**
 * A member in canonical form, or undefined when it is not one the emulator accepts: the kinds of
 * google.iam.v1.Binding.members that name principals (not `domain:` or `deleted:`), with the email
 * lowercased, as email addresses compare without case.
 */
export function canonicalMember(member: string): string | undefined {
  if (member === 'allUsers' || member === 'allAuthenticatedUsers') return member;
  const colon = member.indexOf(':');
  if (colon < 0) return undefined;
  const kind = member.slice(0, colon);
  const email = member.slice(colon + 1);
  if ((kind !== 'user' && kind !== 'serviceAccount' && kind !== 'group') || !EMAIL.test(email)) return undefined;
  return `${kind}:${email.toLowerCase()}`;
}

/**
 * Validates a policy and brings it into canonical form. Throws ApiError INVALID_ARGUMENT for a
 * version other than 0, 1 or 3, a role the emulator does not know, a member of an unsupported kind
 * and a binding with a condition (IAM Conditions are not emulated). Bindings of the same role are
 * merged and bindings without members dropped, as Google's IAM stores them.
 */
export function normalizePolicy(input: PolicyInput): Policy {
  const version = input.version ?? 0;
  if (!VERSIONS.has(version)) {
    throw ApiError.invalidArgument(`Policy version ${version} is not valid: expected 1 or 3.`, 'policy.version');
  }
  const byRole = new Map<string, Set<string>>();
  for (const binding of input.bindings) {
    if (!permissionsOf(binding.role)) {
      throw ApiError.invalidArgument(`Role ${binding.role} is not supported for this resource.`, 'policy.bindings.role');
    }
    if (binding.condition !== undefined) {
      throw ApiError.invalidArgument(
        `The binding of ${binding.role} has a condition; devconnect-emulator does not support IAM Conditions.`,
        'policy.bindings.condition',
      );
    }
    const members = byRole.get(binding.role) ?? new Set<string>();
    for (const member of binding.members) {
      const canonical = canonicalMember(member);
      if (canonical === undefined) {
        throw ApiError.invalidArgument(`Policy member '${member}' is not valid: expected ${MEMBER_KINDS}.`, 'policy.bindings.members');
      }
      members.add(canonical);
    }
    byRole.set(binding.role, members);
  }
  const bindings = [...byRole]
    .filter(([, members]) => members.size > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([role, members]) => ({ role, members: [...members].sort() }));
  return { version: version === 0 ? 1 : version, bindings };
}

/**
 * The etag of a policy: 8 bytes of the SHA-256 of its canonical form, base64 (Google's etags are
 * 8 bytes too). Equal policies have equal etags, so a policy that was never set has the etag of
 * the empty policy, and a read-modify-write fails exactly when the policy changed since the read.
 */
export function etagOf(policy: Policy): string {
  const canonical = JSON.stringify({ version: policy.version, bindings: policy.bindings });
  return createHash('sha256').update(canonical).digest().subarray(0, 8).toString('base64');
}

/** The policy of a resource that has none: version 1, no bindings. */
export const EMPTY_POLICY: Policy = { version: 1, bindings: [] };

/** Validates groups: emails as keys, users, service accounts and groups as members. Throws ApiError INVALID_ARGUMENT. */
export function normalizeGroups(groups: Record<string, readonly string[]>): Groups {
  const result: Groups = {};
  for (const [email, members] of Object.entries(groups)) {
    if (!EMAIL.test(email)) throw ApiError.invalidArgument(`Group '${email}' is not an email address.`, 'groups');
    const canonical = members.map((member) => {
      const c = canonicalMember(member);
      if (c === undefined || c === 'allUsers' || c === 'allAuthenticatedUsers') {
        throw ApiError.invalidArgument(
          `Member '${member}' of group ${email} is not valid: expected user:EMAIL, serviceAccount:EMAIL or group:EMAIL.`,
          'groups',
        );
      }
      return c;
    });
    result[email.toLowerCase()] = [...new Set(canonical)].sort();
  }
  return result;
}
