import type { Precondition } from '../common/preconditions.js';
import type { FilterExpr, FilterValue } from './filter-expr.js';

/** A stored `google.protobuf.Any`: kept as type URL and bytes so the store needs no proto knowledge. */
export interface StoredAny {
  typeUrl: string;
  value: Uint8Array;
}

export interface OperationError {
  code: number;
  message: string;
}

/** One long-running operation as the store keeps it; the API surface turns it into `google.longrunning.Operation`. */
export interface OperationRecord {
  name: string;
  /** `projects/{project}/locations/{location}`: the collection ListOperations reads. */
  parent: string;
  /** The handler that runs the work (e.g. `connections.create`); decides cancel and restart behaviour. */
  kind: string;
  /** The handler's input, serialized by the handler. */
  input: string;
  verb: string;
  target: string;
  createTime: Date;
  endTime?: Date;
  statusMessage: string;
  requestedCancellation: boolean;
  done: boolean;
  error?: OperationError;
  response?: StoredAny;
}

export type NewOperation = Pick<OperationRecord, 'name' | 'parent' | 'kind' | 'input' | 'verb' | 'target' | 'createTime'>;

/**
 * A node's hold on the operations it runs. Only the holder may commit an operation's outcome, and a
 * hold that is not renewed before `until` may be taken over by another node (claimOperations).
 */
export interface Lease {
  /** The node: an id it draws at start. */
  owner: string;
  until: Date;
}

/** Thrown by `finishOperation` when another node holds the operation now; nothing was written. */
export class LeaseLostError extends Error {
  constructor(readonly operation: string) {
    super(`the lease on ${operation} was taken over by another node`);
    this.name = 'LeaseLostError';
  }
}

/** What another node did to an operation, as a store shared by several nodes tells every node. */
export interface OperationEvent {
  /** created: inserted (running or done); status: its status message changed; cancel: cancellation requested. */
  kind: 'created' | 'status' | 'cancel' | 'done' | 'deleted';
  name: string;
}

/** Keeps a store's operation events coming, and says when some may have been missed (the feed was down). */
export interface OperationEvents {
  subscribe(listener: { event(e: OperationEvent): void; gap(): void }): void;
}

/** A value a listing filters or sorts a resource by; null: the resource has none (it sorts first, and matches only `!=`). */
export type IndexValue = FilterValue | null;

/**
 * What listings filter and sort a resource by, as field → value. The names and values are the
 * API layer's (`create_time`, `labels.env`): the store compares and sorts them without knowing what
 * they mean. Each field's values are of one type, the type its filters compare with.
 */
export type ResourceIndex = Readonly<Record<string, IndexValue>>;

/** A stored API resource (a Connection, …): its name, parent, collection, etag and the message as binary proto. */
export interface ResourceRecord {
  name: string;
  /** The resource it belongs to (`projects/p/locations/l`, or a connection for its links). */
  parent: string;
  collection: string;
  /** Compared by `etag` preconditions; the API layer makes a new one on every write. */
  etag: string;
  data: Uint8Array;
  /**
   * Written with the resource, in the same transaction, and replaced with it; never read back.
   * Every field a listing may sort by must be in it (null when the resource has no value): a
   * sorted listing leaves out resources without its first sort field. Without an index, the
   * resource is in no filtered or sorted listing until `indexResource` gives it one.
   */
  index?: ResourceIndex;
}

/** One field a listing sorts by. */
export interface SortKey {
  field: string;
  descending: boolean;
}

/**
 * A change to resources, committed in the same transaction as an operation's outcome. Every
 * precondition in `require` is checked first, in that transaction; when one fails the store throws
 * PreconditionFailedError and writes nothing of the change or the outcome.
 */
export interface ResourceChange {
  require: Precondition[];
  /** Written whole, replacing any resource of that name. */
  put?: ResourceRecord;
  /** Removed; with `cascade`, every resource below it too (AIP-135 `force`). Removing what is gone is no error. */
  delete?: { name: string; cascade: boolean };
  /** Every resource below this one is removed, and it stays (an AccountConnector whose scopes change loses its Users). */
  deleteChildrenOf?: string;
}

export interface Outcome {
  error?: OperationError;
  response?: StoredAny;
}

/** Thrown by `insertOperation` when its request id was used before by a request with another fingerprint; nothing was written. */
export class RequestIdReusedError extends Error {
  constructor(readonly requestKey: string) {
    super(`request id ${requestKey} was used by a different request`);
    this.name = 'RequestIdReusedError';
  }
}

/**
 * What identifies a request that carries a request_id (AIP-155): `key` is the method and the id,
 * `fingerprint` a digest of the rest of the request, which tells a retry from another request.
 */
export interface RequestKey {
  key: string;
  fingerprint: string;
}

/** How `insertOperation` commits a new operation. */
export interface InsertOptions {
  /**
   * AIP-155: checked before anything else. When an operation with this key exists, nothing is
   * written and that operation is returned (a retry), or RequestIdReusedError is thrown if its
   * fingerprint differs (another request with the same id).
   */
  request?: RequestKey;
  /** Checked next, in the same transaction (PreconditionFailedError, nothing written): what the call needs to start at all. */
  require?: Precondition[];
  /** The node that runs the operation, until when (unset for `finished`). */
  lease?: Lease;
  /**
   * The work is already over: the operation is committed done with this outcome, and its change
   * applied (its own preconditions checked), in the same transaction.
   */
  finished?: { outcome: Outcome; endTime: Date; change?: ResourceChange };
}

/** Keyset page request: `after` is the cursor returned with the previous page (opaque to callers). */
export interface PageQuery {
  parent: string;
  pageSize: number;
  after?: string;
}

export interface Page<T> {
  items: T[];
  /** Cursor of the last item when more items may follow. */
  next?: string;
}

/**
 * The public half of a service-account key. The private half exists only in the key file given to
 * the user; tokens signed with it are verified against `publicKeyPem`.
 */
export interface ServiceAccountKeyRecord {
  /** The key file's `private_key_id` and the `kid` of JWTs signed with it: 40 hex digits. */
  keyId: string;
  project: string;
  /** `NAME@PROJECT.iam.gserviceaccount.com`. */
  email: string;
  /** SPKI PEM. */
  publicKeyPem: string;
  createTime: Date;
  /** Set once the key is deleted; a deleted key verifies nothing. */
  deleteTime?: Date;
}

export type NewServiceAccountKey = Pick<ServiceAccountKeyRecord, 'keyId' | 'project' | 'email' | 'publicKeyPem' | 'createTime'>;

/** One binding of an IAM allow policy: a role and the members it is granted to. */
export interface IamBinding {
  role: string;
  members: string[];
}

/** An IAM allow policy as stored: opaque to the store except `resource` and `etag`, which it compares. */
export interface IamPolicyRecord {
  /** `projects/{project}`, or `*` for the server-wide root policy. */
  resource: string;
  version: number;
  bindings: IamBinding[];
  etag: string;
}

/** Thrown by `setIamPolicy` when the stored policy is not the one the caller expected; nothing was written. */
export class EtagMismatchError extends Error {
  constructor(readonly resource: string) {
    super(`the IAM policy of ${resource} changed since it was read`);
    this.name = 'EtagMismatchError';
  }
}

/** Long-running operations: the engine's state. */
export interface OperationStore {
  /**
   * Commits a new operation: running, unless `options.finished` says how it ended. Resolves with
   * the committed record: another operation's when `options.request` names a retry.
   */
  insertOperation(op: NewOperation, options?: InsertOptions): Promise<OperationRecord>;
  getOperation(name: string): Promise<OperationRecord | undefined>;
  /** The operation made by the request with this key (AIP-155); RequestIdReusedError when its fingerprint differs. */
  getOperationByRequest(request: RequestKey): Promise<OperationRecord | undefined>;
  /** Newest first. `filter` fields: done (bool), verb, target (strings), errorCode (int). */
  listOperations(query: PageQuery & { filter?: FilterExpr }): Promise<Page<OperationRecord>>;
  /** Operations not yet done, oldest first. */
  listUnfinishedOperations(): Promise<OperationRecord[]>;
  /** Which of `targets` an unfinished operation acts on. */
  unfinishedTargets(targets: readonly string[]): Promise<Set<string>>;
  /** The targets that start with `prefix` of the unfinished operations (only their targets are read). */
  unfinishedTargetsUnder(prefix: string): Promise<Set<string>>;
  /**
   * Takes over up to `limit` unfinished operations, oldest first, whose lease ended before
   * `expiredBefore` (or that were never leased): each is then held by `lease`. Two nodes
   * claiming at once take different operations.
   */
  claimOperations(lease: Lease, expiredBefore: Date, limit: number): Promise<OperationRecord[]>;
  /** Extends to `until` the lease of every unfinished operation `owner` holds; returns them, with their cancellation flags. */
  renewLeases(owner: string, until: Date): Promise<Array<Pick<OperationRecord, 'name' | 'requestedCancellation'>>>;
  /** Marks cancellation requested on an operation that is not done; returns the record as it now is. */
  requestCancel(name: string): Promise<OperationRecord | undefined>;
  setStatusMessage(name: string, message: string): Promise<void>;
  /**
   * Marks the operation done with its outcome and applies `change`, atomically (a failed
   * precondition throws and writes neither). A finished or deleted operation is left as it is,
   * but `change` is still applied (deleting an operation does not stop its work). Returns whether
   * the operation record was updated. With `owner`, only while that node holds the operation:
   * LeaseLostError, and nothing written (not the change either), when another node took it over,
   * also once that node has finished it.
   */
  finishOperation(name: string, outcome: Outcome, endTime: Date, change?: ResourceChange, owner?: string): Promise<boolean>;
  deleteOperation(name: string): Promise<boolean>;
  /**
   * Retention, run at most once per `every` by all the nodes of a store together: deletes up to
   * `limit` done operations created and ended before `doneBefore`, and forgets the request ids of
   * requests made before `requestIdsBefore` (a retry after that makes a new operation). `ran` is
   * false when another node ran it less than `every` ago (or is running it now).
   */
  expireOperations(options: { doneBefore: Date; requestIdsBefore: Date; every: number; limit: number }): Promise<{ ran: boolean; operations: number; requestIds: number }>;
}

/** A page of one collection of one parent; without `filter` and `order`, oldest first, as AIP-132 lists without order_by usually do. */
export interface ResourceQuery extends Omit<PageQuery, 'parent'> {
  /**
   * Unset: under every parent, for the server's own sweeps (the end of an InsightsConfig's
   * discovery); such a listing needs a `filter`, has no `order` (listings sort within one parent)
   * and reads oldest first.
   */
  parent?: string;
  collection: string;
  /** Only resources whose index values match it, with the semantics of src/api/filter-match.ts. */
  filter?: FilterExpr;
  /**
   * Sorted by these index fields (null first when ascending, last when descending), then oldest
   * first. The cursor is a position in that order, so pages neither repeat nor skip resources
   * when others are written or deleted between them.
   */
  order?: readonly SortKey[];
}

/** API resources, read here and written only through operations' changes (OperationStore). */
export interface ResourceStore {
  getResource(name: string): Promise<ResourceRecord | undefined>;
  listResources(query: ResourceQuery): Promise<Page<ResourceRecord>>;
  /** Resources of `collection` stored without an index (written before the store kept them), oldest first. */
  listUnindexedResources(query: { collection: string; pageSize: number; after?: string }): Promise<Page<ResourceRecord>>;
  /**
   * Gives a resource stored without an index its index, if it still has this etag; false when it
   * was rewritten or deleted since it was read (a rewrite brings its own index).
   */
  indexResource(name: string, etag: string, index: ResourceIndex): Promise<boolean>;
  /**
   * Commits a change that no operation carries (FinishOAuth making a User): its preconditions are
   * checked in the same transaction (PreconditionFailedError, nothing written).
   */
  applyResourceChange(change: ResourceChange): Promise<void>;
}

/** The public halves of service-account keys. */
export interface KeyStore {
  createServiceAccountKey(key: NewServiceAccountKey): Promise<ServiceAccountKeyRecord>;
  /** The key, also when deleted (with `deleteTime`), so callers can say why a token is refused. */
  getServiceAccountKey(keyId: string): Promise<ServiceAccountKeyRecord | undefined>;
  /** Keys not deleted, of one service account or of all, oldest first. */
  listServiceAccountKeys(email?: string): Promise<ServiceAccountKeyRecord[]>;
  /** Marks the key deleted; returns false when there is no such key or it was already deleted. */
  deleteServiceAccountKey(keyId: string, deleteTime: Date): Promise<boolean>;
}

/** IAM allow policies and groups. */
export interface IamStore {
  getIamPolicy(resource: string): Promise<IamPolicyRecord | undefined>;
  /**
   * Writes the policy of `policy.resource`, compare-and-set on the etag: `expectedEtag` a string
   * means the stored policy must have that etag, `null` that none may be stored yet, undefined
   * that any may be replaced. Throws EtagMismatchError otherwise.
   */
  setIamPolicy(policy: IamPolicyRecord, expectedEtag?: string | null): Promise<void>;
  /** Group email → its members (`user:…`, `serviceAccount:…`, `group:…`). */
  getIamGroups(): Promise<Record<string, string[]>>;
  /** Replaces every group with `groups`. */
  setIamGroups(groups: Record<string, string[]>): Promise<void>;
}

/** The server's own secrets (token signing key, page-token key, …): kept with the data, so every node of a cluster has the same. */
export interface SecretStore {
  /** The stored value of secret `name`; when there is none yet, `value` is stored and returned (the first of racing callers wins). */
  ensureSecret(name: string, value: Uint8Array): Promise<Uint8Array>;
}

/**
 * The durable state of the emulator, as one backend provides it. Every method commits before it
 * resolves: a resolved write survives a crash of the process. Each part of the server takes only
 * the interface it needs. Backends: sqlite.ts (embedded default); more implement the same
 * interfaces and pass the same contract suite (test/store/contract.ts).
 */
export interface Store extends OperationStore, ResourceStore, KeyStore, IamStore, SecretStore {
  /** Set when several nodes may share the store: their changes to operations, as they commit. */
  readonly events?: OperationEvents;
  close(): Promise<void>;
}
