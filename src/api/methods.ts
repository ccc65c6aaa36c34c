import type { DescMessage, DescMethod, Message, MessageShape } from '@bufbuild/protobuf';
import { Locations } from '../gen/google/cloud/location/locations_pb.js';
import { IAMPolicy } from '../gen/google/iam/v1/iam_policy_pb.js';
import { Operations } from '../gen/google/longrunning/operations_pb.js';
import type { CallContext } from './context.js';
import { CLOUD_PLATFORM_SCOPE, type Authorizer, type Principal } from '../auth/principal.js';
import { ApiError, Code } from '../common/errors.js';
import type { IamPolicyApi } from './iam-policy.js';
import type { LocationsApi } from './locations.js';
import type { OperationsApi } from './operations.js';
import type { MethodEntry } from './standard-methods.js';
import type { MaybePromise } from '../common/maybe-promise.js';
import { pause } from './pause.js';
import { checkRequestLimits } from './request-limits.js';

type Implementation = (request: Message, context: CallContext) => MaybePromise<Message>;

interface Entry {
  implementation: Implementation;
  /** The IAM permission the method requires, and the resource it is checked on; undefined: none is required. */
  permission: string | undefined;
  resourceOf: (request: Message) => string;
}

/**
 * Fault injection (src/faults): whether to delay or fail a call. Asked only once the call has passed
 * its scope and permission checks, so a caller who may not make the call gets the usual refusal and
 * learns nothing from a rule (not even that one matches), and its call never counts as a firing.
 */
export interface CallFaults {
  /** The fault for this call, or undefined to run it as usual. `resource`: the name the permission is checked on. */
  faultFor(method: DescMethod, resource: () => string): CallFault | undefined;
}

export interface CallFault {
  /** Waited first, cancellably (the client's deadline or cancel ends the wait). */
  delayMs: number;
  /** Thrown after the delay instead of running the method; without it the method then runs. */
  error?: ApiError;
}

/** The implemented methods by full name (`google.longrunning.Operations.GetOperation`); both transports dispatch through it. */
export class MethodTable {
  private readonly entries = new Map<string, Entry>();
  private readonly byDescriptor = new Map<DescMethod, Entry>();

  constructor(
    apis: { operations: OperationsApi; locations: LocationsApi; iamPolicy: IamPolicyApi },
    /** The methods of Developer Connect's resources (src/resources), standard and custom. */
    resourceMethods: readonly MethodEntry[],
    private readonly authorizer: Authorizer,
    private readonly faults?: CallFaults,
  ) {
    const { operations, locations, iamPolicy } = apis;
    const name = (r: { name: string }) => r.name;
    this.add(Operations.method.getOperation, 'developerconnect.operations.get', name, (r) => operations.getOperation(r));
    this.add(Operations.method.listOperations, 'developerconnect.operations.list', name, (r) => operations.listOperations(r));
    this.add(Operations.method.cancelOperation, 'developerconnect.operations.cancel', name, (r) => operations.cancelOperation(r));
    this.add(Operations.method.deleteOperation, 'developerconnect.operations.delete', name, (r) => operations.deleteOperation(r));
    this.add(Operations.method.waitOperation, 'developerconnect.operations.get', name, (r, c) => operations.waitOperation(r, c));
    this.add(Locations.method.getLocation, 'developerconnect.locations.get', name, (r) => locations.getLocation(r));
    this.add(Locations.method.listLocations, 'developerconnect.locations.list', name, (r) => locations.listLocations(r));
    for (const entry of resourceMethods) {
      this.entries.set(entry.method.parent.typeName + '.' + entry.method.name, {
        permission: entry.permission,
        resourceOf: entry.resourceOf,
        implementation: (request, context) => entry.run(request, context),
      });
    }
    const resource = (r: { resource: string }) => r.resource;
    this.add(IAMPolicy.method.getIamPolicy, 'resourcemanager.projects.getIamPolicy', resource, (r) => iamPolicy.getIamPolicy(r));
    this.add(IAMPolicy.method.setIamPolicy, 'resourcemanager.projects.setIamPolicy', resource, (r) => iamPolicy.setIamPolicy(r));
    // Resource Manager: "There are no permissions required for making this API call."
    this.add(IAMPolicy.method.testIamPermissions, undefined, resource, (r, c) => iamPolicy.testIamPermissions(r, c));
  }

  /**
   * Runs a method for an authenticated caller: the OAuth scope first, then the request's limits
   * (request-limits.ts), then the IAM permission on the resource named in the request, then any injected fault, then the method. One not built yet answers UNIMPLEMENTED.
   * Refusals may be thrown synchronously or come as a rejection; callers handle both.
   */
  call(method: DescMethod, request: Message, context: CallContext): MaybePromise<Message> {
    requireScope(context.principal, method);
    const entry = this.entryOf(method);
    if (!entry) {
      throw new ApiError(Code.UNIMPLEMENTED, `Method ${method.parent.typeName}.${method.name} is not implemented by devconnect-emulator yet.`);
    }
    // Checked as a decoding error is, before the permission: the authorizer and the store never see a malformed request.
    checkRequestLimits(method.input, request);
    if (entry.permission === undefined) return this.invoke(method, entry, request, context);
    const checked = this.authorizer.check(context.principal, entry.permission, entry.resourceOf(request));
    if (!(checked instanceof Promise)) return this.invoke(method, entry, request, context);
    return checked.then(() => this.invoke(method, entry, request, context));
  }

  /** The entry of a method, found by its full name once per descriptor: a call then builds no string to find it. */
  private entryOf(method: DescMethod): Entry | undefined {
    let entry = this.byDescriptor.get(method);
    if (entry === undefined) {
      entry = this.entries.get(method.parent.typeName + '.' + method.name);
      if (entry) this.byDescriptor.set(method, entry);
    }
    return entry;
  }

  /** The method's implementation, behind the fault a rule injects into it, if any. */
  private invoke(method: DescMethod, entry: Entry, request: Message, context: CallContext): MaybePromise<Message> {
    const fault = this.faults?.faultFor(method, () => entry.resourceOf(request));
    if (!fault) return entry.implementation(request, context);
    return pause(fault.delayMs, context).then(() => {
      if (fault.error) throw fault.error;
      return entry.implementation(request, context);
    });
  }

  private add<I extends DescMessage, O extends DescMessage>(
    method: DescMethod & { input: I; output: O },
    permission: string | undefined,
    resourceOf: (request: MessageShape<I>) => string,
    implementation: (request: MessageShape<I>, context: CallContext) => MaybePromise<MessageShape<O>>,
  ): void {
    // The transports decode every request with `method.input`, so the request has this shape.
    this.entries.set(method.parent.typeName + '.' + method.name, {
      permission,
      resourceOf: (request) => resourceOf(request as MessageShape<I>),
      implementation: (request, context) => implementation(request as MessageShape<I>, context),
    });
  }
}

/** Every method requires the cloud-platform scope; a token without it is refused as Google does. */
function requireScope(principal: Principal, method: DescMethod): void {
  if (principal.scopes.includes(CLOUD_PLATFORM_SCOPE)) return;
  throw new ApiError(Code.PERMISSION_DENIED, 'Request had insufficient authentication scopes.', {
    reason: 'ACCESS_TOKEN_SCOPE_INSUFFICIENT',
    domain: 'googleapis.com',
    metadata: { service: 'developerconnect.googleapis.com', method: `${method.parent.typeName}.${method.name}` },
  });
}
