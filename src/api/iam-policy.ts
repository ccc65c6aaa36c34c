import { create } from '@bufbuild/protobuf';
import {
  TestIamPermissionsResponseSchema,
  type GetIamPolicyRequest,
  type SetIamPolicyRequest,
  type TestIamPermissionsRequest,
  type TestIamPermissionsResponse,
} from '../gen/google/iam/v1/iam_policy_pb.js';
import { BindingSchema, PolicySchema, type Policy } from '../gen/google/iam/v1/policy_pb.js';
import type { Authorizer } from '../auth/principal.js';
import type { IamPolicies } from '../iam/policies.js';
import { normalizePolicy, type StoredPolicy } from '../iam/policy.js';
import { EtagMismatchError } from '../store/store.js';
import type { CallContext } from './context.js';
import { ApiError, Code } from '../common/errors.js';
import { parseProjectName } from '../common/names.js';

/** Paths SetIamPolicyRequest.update_mask may name; without a mask, Google uses `bindings, etag`. */
const MASK_PATHS = new Set(['bindings', 'etag', 'version', 'audit_configs']);
const DEFAULT_MASK = ['bindings', 'etag'];
/** Valid GetPolicyOptions.requested_policy_version values (google/iam/v1/options.proto). */
const REQUESTABLE_VERSIONS = new Set([0, 1, 3]);

/**
 * `google.iam.v1.IAMPolicy` on projects, with the semantics of Resource Manager v1's
 * projects.getIamPolicy / setIamPolicy / testIamPermissions. Only `projects/{project}` has a policy
 * here: Developer Connect's own resources take theirs from their project, so any other resource is
 * INVALID_ARGUMENT rather than NOT_FOUND (nothing could ever be found there).
 */
export class IamPolicyApi {
  constructor(
    private readonly policies: IamPolicies,
    private readonly authorizer: Authorizer,
  ) {}

  async getIamPolicy(request: GetIamPolicyRequest): Promise<Policy> {
    parseProjectName(request.resource, 'resource');
    const version = request.options?.requestedPolicyVersion ?? 0;
    if (!REQUESTABLE_VERSIONS.has(version)) {
      throw ApiError.invalidArgument(`Requested policy version ${version} is not valid: expected 1 or 3.`, 'options.requested_policy_version');
    }
    return toPolicyMessage(await this.policies.get(request.resource));
  }

  /**
   * Replaces the policy (AIP-134 style with an update mask). A non-empty etag must be the etag of
   * the policy as it is now, or the call fails ABORTED and nothing changes: the read-modify-write
   * cycle of google/iam/v1/policy.proto.
   */
  async setIamPolicy(request: SetIamPolicyRequest): Promise<Policy> {
    parseProjectName(request.resource, 'resource');
    const policy = request.policy;
    if (!policy) throw ApiError.invalidArgument('policy is required.', 'policy');
    const mask = request.updateMask?.paths.length ? request.updateMask.paths : DEFAULT_MASK;
    for (const path of mask) {
      if (!MASK_PATHS.has(path)) throw ApiError.invalidArgument(`update_mask path '${path}' is not a field of Policy.`, 'update_mask');
      if (path === 'audit_configs') {
        throw ApiError.invalidArgument('devconnect-emulator does not keep audit configs in IAM policies.', 'update_mask');
      }
    }
    const current = await this.policies.get(request.resource);
    const replacesBindings = mask.includes('bindings');
    const next = normalizePolicy({
      version: replacesBindings || mask.includes('version') ? policy.version : current.version,
      bindings: replacesBindings ? policy.bindings : current.bindings,
    });
    const requestEtag = mask.includes('etag') && policy.etag.length > 0 ? Buffer.from(policy.etag).toString('base64') : undefined;
    // Bindings kept from the policy just read must still be the stored ones when the write lands.
    const expectedEtag = requestEtag ?? (replacesBindings ? undefined : current.etag);
    try {
      return toPolicyMessage(await this.policies.set(request.resource, next, expectedEtag));
    } catch (error) {
      if (!(error instanceof EtagMismatchError)) throw error;
      // Google's words for a stale etag.
      throw new ApiError(Code.ABORTED, 'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.');
    }
  }

  /** Needs no permission (Resource Manager: "There are no permissions required for making this API call"). */
  async testIamPermissions(request: TestIamPermissionsRequest, context: CallContext): Promise<TestIamPermissionsResponse> {
    parseProjectName(request.resource, 'resource');
    const wildcard = request.permissions.find((p) => p.includes('*'));
    if (wildcard !== undefined) {
      throw ApiError.invalidArgument(`Permissions with wildcards (such as '*' or 'storage.*') are not allowed: '${wildcard}'.`, 'permissions');
    }
    const permissions = await this.authorizer.permitted(context.principal, request.resource, request.permissions);
    return create(TestIamPermissionsResponseSchema, { permissions });
  }
}

function toPolicyMessage(policy: StoredPolicy): Policy {
  return create(PolicySchema, {
    version: policy.version,
    bindings: policy.bindings.map((b) => create(BindingSchema, { role: b.role, members: [...b.members] })),
    etag: Buffer.from(policy.etag, 'base64'),
  });
}
