import type { IncomingMessage, ServerResponse } from 'node:http';
import { create } from '@bufbuild/protobuf';
import type { Logger } from 'pino';
import type { MethodTable } from '../api/methods.js';
import type { Authenticator, Authorizer, Principal } from '../auth/principal.js';
import { ApiError } from '../common/errors.js';
import type { OperationChange } from '../engine/engine.js';
import { ListOperationsRequestSchema, Operations } from '../gen/google/longrunning/operations_pb.js';

/** Changes are gathered this long and sent once per name: a burst of status messages is one event. */
const COALESCE_MS = 100;
/** A comment line this often keeps the stream from looking idle (to --idle-timeout, 30 s by default, and to proxies). */
const HEARTBEAT_MS = 15_000;
/** A client that reads slower than this much is behind: it is disconnected, reconnects and re-reads. */
const MAX_BUFFERED_BYTES = 1024 * 1024;
const LOCATION = /^projects\/[^/]+\/locations\/[^/]+$/;

export interface EventStreamDeps {
  engine: { watch(listener: (change: OperationChange) => void): () => void };
  methods: MethodTable;
  authenticator: Authenticator;
  authorizer: Authorizer;
  log: Logger;
}

/**
 * `GET /console/api/events?parent=projects/P/locations/L`: server-sent events of the operations of
 * one location, from the engine's own events (on PostgreSQL, every node's). Each event is only
 * `{name, kind}`; the page re-reads what it shows through the REST API, as the caller.
 *
 * It leaks nothing the caller could not read: the stream opens only after ListOperations on the
 * location succeeds for the caller (through the method table: scope, IAM, the location's existence),
 * the caller's credential is verified again before each batch (a stream outliving its token ends),
 * and each name is sent only if the caller holds `developerconnect.operations.get` on it, the check
 * GetOperation makes.
 */
export class OperationEventStreams {
  private readonly open = new Set<ServerResponse>();

  constructor(private readonly deps: EventStreamDeps) {}

  /** Throws ApiError when the stream cannot be opened for this caller; once it is open, it never throws. */
  async serve(req: IncomingMessage, res: ServerResponse, credentials: string | undefined, parent: string): Promise<void> {
    if (!LOCATION.test(parent)) throw ApiError.invalidArgument(`parent must be a location, projects/{project}/locations/{location}; got '${parent}'.`, 'parent');
    const principal = await this.deps.authenticator.authenticate(credentials);
    const signal = AbortSignal.timeout(10_000);
    await this.deps.methods.call(Operations.method.listOperations, create(ListOperationsRequestSchema, { name: parent, pageSize: 1 }), { principal, signal });
    if (req.destroyed) return;

    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    // The page reconnects this long after a drop, and re-reads when it does (it may have missed events).
    res.write('retry: 2000\n\n');
    this.open.add(res);

    const prefix = `${parent}/operations/`;
    const pending = new Map<string, OperationChange['kind']>();
    let timer: NodeJS.Timeout | undefined;
    let sending = Promise.resolve();
    const unwatch = this.deps.engine.watch((change) => {
      if (!change.name.startsWith(prefix)) return;
      pending.set(change.name, change.kind);
      timer ??= setTimeout(() => {
        timer = undefined;
        const batch = [...pending];
        pending.clear();
        sending = sending.then(() => this.send(res, credentials, batch));
      }, COALESCE_MS);
    });
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    res.once('close', () => {
      unwatch();
      clearTimeout(timer);
      clearInterval(heartbeat);
      this.open.delete(res);
    });
  }

  private async send(res: ServerResponse, credentials: string | undefined, batch: [string, OperationChange['kind']][]): Promise<void> {
    if (res.writableEnded) return;
    let principal: Principal;
    try {
      principal = await this.deps.authenticator.authenticate(credentials);
    } catch {
      res.end('event: signed-out\ndata: {}\n\n');
      return;
    }
    for (const [name, kind] of batch) {
      try {
        await this.deps.authorizer.check(principal, 'developerconnect.operations.get', name);
      } catch (error) {
        if (!(error instanceof ApiError)) this.deps.log.warn({ err: error, name }, 'checking an operation event failed');
        continue;
      }
      if (res.writableEnded) return;
      res.write(`event: operation\ndata: ${JSON.stringify({ name, kind })}\n\n`);
    }
    if (res.writableLength > MAX_BUFFERED_BYTES) res.end();
  }

  /** Ends every stream: the server is shutting down (browsers reconnect to whatever serves next). */
  close(): void {
    for (const res of this.open) res.end();
    this.open.clear();
  }
}
