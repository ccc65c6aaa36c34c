import { create } from '@bufbuild/protobuf';
import { EmptySchema, type Empty } from '@bufbuild/protobuf/wkt';
import type { Engine } from '../engine/engine.js';
import type { OperationRecord } from '../store/store.js';
import {
  ListOperationsResponseSchema,
  type CancelOperationRequest,
  type DeleteOperationRequest,
  type GetOperationRequest,
  type ListOperationsRequest,
  type ListOperationsResponse,
  type Operation,
  type WaitOperationRequest,
} from '../gen/google/longrunning/operations_pb.js';
import type { MaybePromise } from '../common/maybe-promise.js';
import type { CallContext } from './context.js';
import { ApiError, Code } from '../common/errors.js';
import { parseFilter, renameFields, type FieldType } from './filter.js';
import { DoneOperations } from './done-operations.js';
import { parseLocationName, parseOperationName } from '../common/names.js';
import { toOperationMessage } from './operation-message.js';
import { pageSize, type PageTokens } from './page-token.js';

/** Fields ListOperations can filter on (AIP-160), with their types and the store's names for them. */
const FILTER_FIELDS: Record<string, FieldType> = {
  done: 'bool',
  'metadata.verb': 'string',
  'metadata.target': 'string',
  'error.code': 'int',
};
const STORE_FIELDS: Record<string, string> = { done: 'done', 'metadata.verb': 'verb', 'metadata.target': 'target', 'error.code': 'errorCode' };

/** WaitOperation's default and maximum wait. */
const MAX_WAIT_MS = 60_000;

/** The `google.longrunning.Operations` mixin of Developer Connect. */
export class OperationsApi {
  private readonly done = new DoneOperations();
  private readonly messages = new WeakMap<OperationRecord, Operation>();

  constructor(
    private readonly engine: Engine,
    private readonly tokens: PageTokens,
  ) {
    engine.watch((change) => {
      if (change.kind === 'deleted') this.done.forget(change.name);
    });
  }

  /**
   * An operation LRO clients poll comes from memory with no await when it can: a done one from
   * DoneOperations, a running one from the engine's cached record.
   */
  getOperation(request: GetOperationRequest): MaybePromise<Operation> {
    const done = this.done.get(request.name);
    if (done) return done;
    const cached = this.engine.cachedRecord(request.name);
    return cached ? this.messageOf(cached) : this.readOperation(request);
  }

  private async readOperation(request: GetOperationRequest): Promise<Operation> {
    parseOperationName(request.name);
    const record = await this.engine.get(request.name);
    if (!record) throw notFound(request.name);
    return this.messageOf(record);
  }

  /**
   * The frozen message of a record, built once per record object: the engine replaces a record when
   * its operation changes, so a running operation polled until it ends is built (and, frozen,
   * encoded by the transports) once per change instead of once per poll.
   */
  private messageOf(record: OperationRecord): Operation {
    let operation = this.messages.get(record);
    if (operation === undefined) {
      operation = Object.freeze(toOperationMessage(record));
      this.messages.set(record, operation);
      this.done.remember(operation, this.engine.keptUntil(record));
    }
    return operation;
  }

  async listOperations(request: ListOperationsRequest): Promise<ListOperationsResponse> {
    parseLocationName(request.name);
    const size = pageSize(request.pageSize);
    const filter = renameFields(parseFilter(request.filter, FILTER_FIELDS), STORE_FIELDS);
    const query = `operations|${request.name}|${request.filter}`;
    const page = await this.engine.list({
      parent: request.name,
      pageSize: size,
      after: this.tokens.read(query, request.pageToken),
      filter,
    });
    return create(ListOperationsResponseSchema, {
      operations: page.items.map(toOperationMessage),
      nextPageToken: this.tokens.issue(query, page.next),
    });
  }

  async cancelOperation(request: CancelOperationRequest): Promise<Empty> {
    parseOperationName(request.name);
    const result = await this.engine.cancel(request.name);
    if (result === 'not-found') throw notFound(request.name);
    if (result === 'not-cancellable') {
      throw new ApiError(Code.UNIMPLEMENTED, `Operation '${request.name}' cannot be cancelled: its kind of work does not support cancellation.`);
    }
    return create(EmptySchema);
  }

  async deleteOperation(request: DeleteOperationRequest): Promise<Empty> {
    parseOperationName(request.name);
    const deleted = await this.engine.delete(request.name);
    this.done.forget(request.name);
    if (!deleted) throw notFound(request.name);
    return create(EmptySchema);
  }

  async waitOperation(request: WaitOperationRequest, context: CallContext): Promise<Operation> {
    parseOperationName(request.name);
    let timeoutMs = MAX_WAIT_MS;
    if (request.timeout) {
      timeoutMs = Number(request.timeout.seconds) * 1000 + Math.floor(request.timeout.nanos / 1e6);
      if (timeoutMs < 0) throw ApiError.invalidArgument('timeout must not be negative.', 'timeout');
      timeoutMs = Math.min(timeoutMs, MAX_WAIT_MS);
    }
    const record = await this.engine.wait(request.name, timeoutMs, context.signal);
    if (!record) throw notFound(request.name);
    return this.messageOf(record);
  }
}

function notFound(name: string): ApiError {
  return ApiError.notFound(`Operation '${name}' was not found.`, name);
}
