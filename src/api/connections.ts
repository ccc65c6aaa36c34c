import { randomUUID } from 'node:crypto';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { anyPack, EmptySchema, timestampNow } from '@bufbuild/protobuf/wkt';
import type { Engine, StartRequest } from '../engine/engine.js';
import { OperationFailure, type OperationHandler } from '../engine/handler.js';
import {
  ConnectionSchema,
  CreateConnectionRequestSchema,
  DeleteConnectionRequestSchema,
  InstallationStateSchema,
  InstallationState_Stage,
  ListConnectionsResponseSchema,
  type Connection,
  type CreateConnectionRequest,
  type DeleteConnectionRequest,
  type GetConnectionRequest,
  type ListConnectionsRequest,
  type ListConnectionsResponse,
} from '../gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import type { Operation } from '../gen/google/longrunning/operations_pb.js';
import { RequestIdReusedError, ResourceExistsError, type OperationRecord, type RequestKey, type Store } from '../store/store.js';
import { requestIdentity, requestIdReused } from './request-id.js';
import { ApiError, Code } from './errors.js';
import { assertKnownLocation } from './locations.js';
import { locationName, parseConnectionName, parseLocationName } from './names.js';
import { toOperationMessage } from './operation-message.js';
import { CONNECTION_FILTER_FIELDS, CONNECTION_ORDER_FIELDS, connectionsPage } from './connection-list.js';
import { parseFilter } from './filter.js';
import { parseOrderBy } from './order-by.js';
import { MAX_PAGE_SIZE, pageSize, type PageTokens } from './page-token.js';
import { pause } from './pause.js';

const COLLECTION = 'connections';
const CONNECTION_TYPE_URL = `type.googleapis.com/${ConnectionSchema.typeName}`;
// AIP-122: resource ids are lowercase letters, digits and hyphens, starting with a letter.
const CONNECTION_ID = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

interface CreateInput {
  connection: string;
  validateOnly: boolean;
}
interface DeleteInput {
  name: string;
  validateOnly: boolean;
}

export interface ConnectionsOptions {
  /** How long every mutating operation waits, cancellably, before it commits (`serve --operation-delay`). */
  operationDelayMs: number;
}

/** Developer Connect's Connections: Create and Delete run as long-running operations. */
export class ConnectionsApi {
  constructor(
    private readonly engine: Engine,
    private readonly store: Store,
    private readonly tokens: PageTokens,
    private readonly options: ConnectionsOptions,
  ) {
    engine.register(this.createHandler());
    engine.register(this.deleteHandler());
  }

  async createConnection(request: CreateConnectionRequest): Promise<Operation> {
    const { location } = parseLocationName(request.parent, 'parent');
    assertKnownLocation(location, request.parent);
    if (!CONNECTION_ID.test(request.connectionId)) {
      throw ApiError.invalidArgument(
        `connection_id '${request.connectionId}' is invalid: use 1-63 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen.`,
        'connection_id',
      );
    }
    const identity = requestIdentity('CreateConnection', CreateConnectionRequestSchema, request);
    if (!request.connection) throw ApiError.invalidArgument('connection is required.', 'connection');
    if (request.connection.connectionConfig.case === undefined) {
      throw ApiError.invalidArgument(
        'connection must set one provider configuration: githubConfig, githubEnterpriseConfig, gitlabConfig, gitlabEnterpriseConfig, bitbucketDataCenterConfig, bitbucketCloudConfig, secureSourceManagerInstanceConfig or httpConfig.',
        'connection',
      );
    }
    const name = `${request.parent}/connections/${request.connectionId}`;
    // Output-only fields in the request are ignored (AIP-203); the server sets its own. The request
    // was decoded for this call alone, so its message is completed in place.
    const connection = request.connection;
    Object.assign(connection, {
      name,
      uid: randomUUID(),
      etag: randomUUID().replaceAll('-', '').slice(0, 16),
      reconciling: false,
      installationState: create(InstallationStateSchema, { stage: InstallationState_Stage.COMPLETE }),
      createTime: undefined,
      updateTime: undefined,
      deleteTime: undefined,
    });
    const input: CreateInput = {
      connection: Buffer.from(toBinary(ConnectionSchema, connection)).toString('base64'),
      validateOnly: request.validateOnly,
    };
    const start: StartRequest = { parent: request.parent, kind: 'connections.create', input: JSON.stringify(input), verb: 'create', target: name, unlessExists: name };
    return toOperationMessage(await this.start(start, identity, request.requestId));
  }

  async getConnection(request: GetConnectionRequest): Promise<Connection> {
    parseConnectionName(request.name);
    const record = await this.store.getResource(request.name);
    if (!record) throw ApiError.notFound(`Connection '${request.name}' was not found.`, request.name);
    return fromBinary(ConnectionSchema, record.data);
  }

  async listConnections(request: ListConnectionsRequest): Promise<ListConnectionsResponse> {
    parseLocationName(request.parent, 'parent');
    const filter = parseFilter(request.filter, CONNECTION_FILTER_FIELDS);
    const order = parseOrderBy(request.orderBy, CONNECTION_ORDER_FIELDS);
    const size = pageSize(request.pageSize);
    const query = `connections|${request.parent}|${request.filter}|${request.orderBy}`;
    const after = this.tokens.read(query, request.pageToken);
    if (filter === undefined && order.length === 0) {
      const page = await this.store.listResources({ parent: request.parent, collection: COLLECTION, pageSize: size, after });
      return create(ListConnectionsResponseSchema, {
        connections: page.items.map((r) => fromBinary(ConnectionSchema, r.data)),
        nextPageToken: this.tokens.issue(query, page.next),
      });
    }
    const page = connectionsPage(await this.allConnections(request.parent), { filter, order, pageSize: size, after });
    return create(ListConnectionsResponseSchema, { connections: page.items, nextPageToken: this.tokens.issue(query, page.next) });
  }

  /** Every connection of a parent, oldest first. */
  private async allConnections(parent: string): Promise<Connection[]> {
    const all: Connection[] = [];
    let after: string | undefined;
    do {
      const page = await this.store.listResources({ parent, collection: COLLECTION, pageSize: MAX_PAGE_SIZE, after });
      for (const r of page.items) all.push(fromBinary(ConnectionSchema, r.data));
      after = page.next;
    } while (after !== undefined);
    return all;
  }

  async deleteConnection(request: DeleteConnectionRequest): Promise<Operation> {
    parseConnectionName(request.name);
    const identity = requestIdentity('DeleteConnection', DeleteConnectionRequestSchema, request);
    // A retry after the connection is gone still gets its operation: the request id is checked first.
    const earlier = identity && (await this.retried(identity, request.requestId));
    if (earlier) return toOperationMessage(earlier);
    const existing = await this.store.getResource(request.name);
    if (!existing) throw ApiError.notFound(`Connection '${request.name}' was not found.`, request.name);
    const etag = fromBinary(ConnectionSchema, existing.data).etag;
    if (request.etag !== '' && request.etag !== etag) {
      // AIP-154: a stale etag aborts the request.
      throw new ApiError(Code.ABORTED, `The etag '${request.etag}' does not match the current etag of '${request.name}'.`, {
        reason: 'ETAG_MISMATCH',
      });
    }
    const input: DeleteInput = { name: request.name, validateOnly: request.validateOnly };
    const start: StartRequest = {
      parent: locationName(parseConnectionName(request.name)),
      kind: 'connections.delete',
      input: JSON.stringify(input),
      verb: 'delete',
      target: request.name,
    };
    return toOperationMessage(await this.start(start, identity, request.requestId));
  }

  /** Starts an operation; with a request id, a retry gets the first request's operation (AIP-155). */
  private async start(start: StartRequest, identity: RequestKey | undefined, requestId: string): Promise<OperationRecord> {
    try {
      return await this.engine.start({ ...start, request: identity });
    } catch (error) {
      if (error instanceof ResourceExistsError && error.resourceName === start.unlessExists) {
        throw new ApiError(Code.ALREADY_EXISTS, `Connection '${start.target}' already exists.`, {
          reason: 'RESOURCE_ALREADY_EXISTS',
          metadata: { resource: start.target },
        });
      }
      throw asApiError(error, requestId);
    }
  }

  private retried(identity: RequestKey, requestId: string): Promise<OperationRecord | undefined> {
    return this.engine.retried(identity).catch((error: unknown) => {
      throw asApiError(error, requestId);
    });
  }

  private createHandler(): OperationHandler {
    return {
      kind: 'connections.create',
      cancellable: true,
      afterRestart: 'resume',
      run: async (raw, context) => {
        const input = JSON.parse(raw) as CreateInput;
        const connection = fromBinary(ConnectionSchema, Buffer.from(input.connection, 'base64'));
        await pause(this.options.operationDelayMs, context);
        const { resumed } = context;
        // Resumed after a crash that came after the commit: the work is already done.
        const existing = resumed ? await this.store.getResource(connection.name) : undefined;
        if (existing) {
          const stored = fromBinary(ConnectionSchema, existing.data);
          if (stored.uid === connection.uid) return { response: anyPack(ConnectionSchema, stored) };
        }
        const now = timestampNow();
        connection.createTime = now;
        connection.updateTime = now;
        // The stored resource and the packed response are the same bytes: serialize once.
        const data = toBinary(ConnectionSchema, connection);
        const response = { typeUrl: CONNECTION_TYPE_URL, value: data, message: connection };
        if (input.validateOnly) return { response };
        return {
          response,
          change: {
            kind: 'create',
            resource: { name: connection.name, parent: locationName(parseConnectionName(connection.name)), collection: COLLECTION, data },
          },
        };
      },
    };
  }

  private deleteHandler(): OperationHandler {
    return {
      kind: 'connections.delete',
      cancellable: true,
      afterRestart: 'resume',
      run: async (raw, context) => {
        const input = JSON.parse(raw) as DeleteInput;
        await pause(this.options.operationDelayMs, context);
        const existing = await this.store.getResource(input.name);
        if (!existing && input.validateOnly) {
          throw new OperationFailure(Code.NOT_FOUND, `Connection '${input.name}' was not found.`);
        }
        const response = anyPack(EmptySchema, create(EmptySchema));
        if (input.validateOnly) return { response };
        // Deleting what is already gone (e.g. resumed after a crash) succeeds: delete is idempotent here.
        return { response, change: { kind: 'delete', name: input.name } };
      },
    };
  }
}

/** A request id reused by another request is the caller's mistake (INVALID_ARGUMENT); other errors pass. */
function asApiError(error: unknown, requestId: string): unknown {
  return error instanceof RequestIdReusedError ? requestIdReused(requestId) : error;
}

