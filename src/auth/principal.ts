import type { MaybePromise } from '../common/maybe-promise.js';

/** Who is calling, as IAM sees it: a member string and the OAuth scopes of the credential. */
export interface Principal {
  /** An IAM member: `user:alice@example.com`, `serviceAccount:ci@proj.iam.gserviceaccount.com`. */
  readonly member: string;
  readonly scopes: readonly string[];
}

/** The one scope every Developer Connect, Locations and Operations method requires. */
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

/** Turns the `Authorization` header of a call into a principal, or throws ApiError UNAUTHENTICATED. */
export interface Authenticator {
  /**
   * `connection` identifies the client connection (a socket) when the transport has one: clients
   * send the same header on every call of a connection, which lets its verification be reused.
   */
  authenticate(authorization: string | undefined, connection?: object): MaybePromise<Principal>;
}

/** Decides whether a principal holds a permission on a resource (IAM). */
export interface Authorizer {
  /**
   * Throws (or rejects with) ApiError PERMISSION_DENIED, in Google's words and with an ErrorInfo,
   * unless permitted. Returns nothing when it could decide at once.
   */
  check(principal: Principal, permission: string, resource: string): MaybePromise<void>;
  /** The subset of `permissions` the principal holds on `resource` (testIamPermissions). */
  permitted(principal: Principal, resource: string, permissions: readonly string[]): Promise<string[]>;
}
