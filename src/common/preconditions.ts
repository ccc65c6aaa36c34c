import { Code } from './errors.js';

/**
 * What must hold of stored resources for a change to commit. The store checks every one inside
 * the transaction that commits the change (never by a read before it), so two racing writers
 * cannot both pass: of two updates with the same etag, exactly one wins.
 */
export type Precondition =
  /** No resource has this name (AIP-133: a create of an existing resource is ALREADY_EXISTS). */
  | { kind: 'absent'; name: string }
  /** The resource exists. */
  | { kind: 'exists'; name: string }
  /** The resource exists and its etag is this one (AIP-154: a stale etag is ABORTED). */
  | { kind: 'etag'; name: string; etag: string }
  /** The parent resource exists (AIP-133: a create under a missing parent is NOT_FOUND). */
  | { kind: 'parent-exists'; name: string }
  /** No resource has this one as its parent (AIP-135: a delete of a parent with children needs `force`). */
  | { kind: 'no-children'; name: string };

/** Thrown by a store when a precondition does not hold; nothing of that write was committed. */
export class PreconditionFailedError extends Error {
  constructor(readonly precondition: Precondition) {
    super(describePrecondition(precondition).message);
    this.name = 'PreconditionFailedError';
  }
}

/** The google.rpc.Status of a precondition that failed, as Google's APIs answer it. */
export function describePrecondition(p: Precondition): { code: Code; message: string; reason: string } {
  switch (p.kind) {
    case 'absent':
      return { code: Code.ALREADY_EXISTS, message: `Resource '${p.name}' already exists.`, reason: 'RESOURCE_ALREADY_EXISTS' };
    case 'exists':
      return { code: Code.NOT_FOUND, message: `Resource '${p.name}' was not found.`, reason: 'RESOURCE_NOT_FOUND' };
    case 'etag':
      return {
        code: Code.ABORTED,
        message: `The etag '${p.etag}' does not match the current etag of '${p.name}' (or it was not found); read it again and retry.`,
        reason: 'ETAG_MISMATCH',
      };
    case 'parent-exists':
      return { code: Code.NOT_FOUND, message: `Parent resource '${p.name}' was not found.`, reason: 'RESOURCE_NOT_FOUND' };
    case 'no-children':
      return {
        code: Code.FAILED_PRECONDITION,
        message: `Resource '${p.name}' has child resources; delete them first, or set force to delete them with it.`,
        reason: 'RESOURCE_HAS_CHILDREN',
      };
  }
}
