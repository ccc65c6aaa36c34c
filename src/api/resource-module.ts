import type { DescMessage, DescMethod, Message, MessageShape } from '@bufbuild/protobuf';
import type { InstallationTokens } from '../git/github-app.js';
import type { GitTokens } from '../git/link-tokens.js';
import type { Operation } from '../gen/google/longrunning/operations_pb.js';
import type { OAuthTickets } from '../oauth/tickets.js';
import type { ResourceChange, ResourceRecord, ResourceStore } from '../store/store.js';
import type { KnownLocations } from './locations.js';
import type { PageTokens } from './page-token.js';
import type { SecretVersions } from './secrets.js';
import type { CallContext } from './context.js';
import type { FieldType } from './filter.js';
import type { MaybePromise } from '../common/maybe-promise.js';

/** A method of a resource beyond the standard ones (AIP-136), served through the same table and checks. */
export interface CustomMethod {
  method: DescMethod;
  /** The IAM permission, checked on the resource named by the request field `on` before the method runs. */
  permission: string;
  on: string;
  run(request: Message, context: CallContext): MaybePromise<Message>;
}

/** What a resource's hooks and custom methods may use of the server. */
export interface ResourceDeps {
  store: ResourceStore;
  /** Page tokens of List-like custom methods (FetchGitRefs). */
  tokens: PageTokens;
  secrets: SecretVersions;
  gitTokens: GitTokens;
  /** GitHub Enterprise apps' installation tokens, reused by the git methods and the git proxy until they near their end. */
  installationTokens: InstallationTokens;
  oauth: OAuthTickets;
  /** The locations served (`serve --locations`). */
  locations: KnownLocations;
  /**
   * Commits a change to resources that no operation carries (FinishOAuth making a User), with its
   * preconditions checked in the same transaction.
   */
  applyChange(change: ResourceChange): Promise<void>;
  /** The server's own base URL (`http://127.0.0.1:8080`), known once it listens. */
  publicUrl(): string;
}

/** A module's own standard methods, for its custom methods (DeleteSelf deletes the caller's User). */
export interface OwnMethods {
  deleteByName(name: string): Promise<Operation>;
}

/** What `derive` knows besides the resource. */
export interface DeriveContext<R extends DescMessage = DescMessage> {
  /** The stored parent, for a resource under another (a link's connection). */
  parent?: ResourceRecord;
  publicUrl: string;
  /**
   * The API request that writes the resource: a create (an update with allow_missing that makes
   * it too), or an update of `before`, the resource as stored. Unset when a fixture seeds the
   * resource: it stands for one that exists already.
   */
  request?: { kind: 'create' } | { kind: 'update'; before: MessageShape<R> };
}

/** What a resource's module may do when the server writes it, beyond the fields every resource has. */
export interface ResourceHooks<R extends DescMessage> {
  /** Checks a create request's resource beyond its REQUIRED fields; throws ApiError naming `field` (the request field). */
  validate?(resource: MessageShape<R>, field: string): void;
  /**
   * Sets server-kept fields that follow from the rest (a connection's installation_state), on create
   * and on update, in place, after the client's fields are applied.
   */
  derive?(resource: MessageShape<R>, context: DeriveContext<R>): void;
  /** Whether an update from `before` to `after` removes every resource below this one (a connector's Users when its scopes change). */
  dropsChildren?(before: MessageShape<R>, after: MessageShape<R>): boolean;
}

/**
 * A Developer Connect resource as one declaration: its message (name pattern, plural and field
 * behaviours come from the proto's annotations), which of the service's methods are its AIP
 * standard methods, the fields List filters and orders by, and what is particular to it. The
 * standard methods themselves are one implementation for every resource (standard-methods.ts);
 * adding a resource is a folder under src/resources and a line in src/resources/index.ts.
 */
export interface ResourceModule<R extends DescMessage = DescMessage> {
  schema: R;
  methods: { create?: DescMethod; get?: DescMethod; list?: DescMethod; update?: DescMethod; delete?: DescMethod };
  /** AIP-160 fields of List; `labels.*` stands for every `labels.KEY`. */
  filterFields: Readonly<Record<string, FieldType>>;
  /** AIP-132 fields of List's order_by. */
  orderFields: readonly string[];
  hooks?: ResourceHooks<R>;
  /** Methods of its own, made once the server's parts exist. */
  custom?: (deps: ResourceDeps, own: OwnMethods) => CustomMethod[];
}

/** The filter fields of a declarative-friendly resource (AIP-148 times, labels and annotations), which most have. */
export const STANDARD_FILTER_FIELDS: Readonly<Record<string, FieldType>> = {
  create_time: 'timestamp',
  update_time: 'timestamp',
  'labels.*': 'string',
  'annotations.*': 'string',
};

/** Declares a module with its message type carried through to its hooks. */
export function defineResource<R extends DescMessage>(module: ResourceModule<R>): ResourceModule {
  return module as unknown as ResourceModule;
}
