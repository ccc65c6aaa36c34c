import { randomUUID } from 'node:crypto';
import { create, fromBinary, getOption, hasOption, toBinary, type DescField, type DescMethod, type Message } from '@bufbuild/protobuf';
import { reflect } from '@bufbuild/protobuf/reflect';
import { anyPack, EmptySchema, timestampNow, type FieldMask } from '@bufbuild/protobuf/wkt';
import { ApiError, Code } from '../common/errors.js';
import { parseByPattern } from '../common/names.js';
import type { Precondition } from '../common/preconditions.js';
import type { Engine, StartRequest } from '../engine/engine.js';
import { OperationFailure, type HandlerResult, type OperationHandler } from '../engine/handler.js';
import { FieldBehavior, field_behavior } from '../gen/google/api/field_behavior_pb.js';
import type { Operation } from '../gen/google/longrunning/operations_pb.js';
import type { OperationRecord, RequestKey, ResourceRecord, ResourceStore } from '../store/store.js';
import { listPage, resourceIndex } from './list-page.js';
import { rememberEncoded, toOperationMessage } from './operation-message.js';
import { requestIdentity } from './request-id.js';
import type { CallContext } from './context.js';
import type { MaybePromise } from '../common/maybe-promise.js';
import type { DeriveContext, OwnMethods, ResourceDeps, ResourceModule } from './resource-module.js';
import { immutableChanges, ResourceSchema } from './resource-schema.js';
import { asApiError, asFailure, encode, fieldsOf, flag, locationOf, newEtag, parentOf, requiredField } from './standard-support.js';

// AIP-122: resource ids are lowercase letters, digits and hyphens, starting with a letter.
const RESOURCE_ID = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** The input a create, update or delete operation is started with, as its handler reads it back (also after a restart). */
interface WriteInput {
  /** The resource (create), the patch (update), as base64 binary proto. */
  data?: string;
  /** The same, as operations made before resources were generic stored it. */
  connection?: string;
  name?: string;
  validateOnly: boolean;
  paths?: string[];
  allowMissing?: boolean;
  require?: Precondition[];
  cascade?: boolean;
}

/** One row of the method table: a method, the permission it needs on the resource named by `resourceOf`, and its implementation. */
export interface MethodEntry {
  method: DescMethod;
  permission: string;
  resourceOf(request: Message): string;
  run(request: Message, context: CallContext): MaybePromise<Message>;
}

/**
 * The AIP standard methods (Create 133, Get 131, List 132, Update 134, Delete 135), once for every
 * resource, with request_id (155), validate_only (163) and etag (154). Mutations run as operations:
 * each handler commits the change only at its end, and its preconditions (absent, exists, etag,
 * parent exists, no children) are checked by the store in the transaction that commits it.
 */
export class StandardMethods implements OwnMethods {
  readonly schema: ResourceSchema;
  private readonly typeUrl: string;
  private readonly store: ResourceStore;
  private readonly hasReconciling: boolean;
  /** resourceField of each create and update method, looked up once. */
  private readonly resourceFields = new Map<DescMethod, DescField & { fieldKind: 'message' }>();

  constructor(
    private readonly module: ResourceModule,
    private readonly engine: Engine,
    private readonly deps: ResourceDeps,
    private readonly options: { operationDelayMs: number },
  ) {
    this.store = deps.store;
    this.schema = new ResourceSchema(module.schema);
    this.hasReconciling = this.schema.field('reconciling') !== undefined;
    this.typeUrl = `type.googleapis.com/${module.schema.typeName}`;
    const { create: c, update: u, delete: d } = module.methods;
    if (c) engine.register(this.handler('create', (input, resumed) => this.runCreate(input, resumed)));
    if (u) engine.register(this.handler('update', (input) => this.runUpdate(input)));
    if (d) engine.register(this.handler('delete', (input) => this.runDelete(input)));
  }

  /** The rows of the method table for the standard methods the module declares. */
  entries(): MethodEntry[] {
    const { create: c, get, list, update, delete: d } = this.module.methods;
    const permission = (verb: string) => `developerconnect.${this.schema.plural}.${verb}`;
    const field = (name: string) => (request: Message) => String((request as unknown as Record<string, unknown>)[name] ?? '');
    const rows: MethodEntry[] = [];
    if (c) rows.push({ method: c, permission: permission('create'), resourceOf: field('parent'), run: (r) => this.create(c, r) });
    if (get) rows.push({ method: get, permission: permission('get'), resourceOf: field('name'), run: (r) => this.get(r) });
    if (list) rows.push({ method: list, permission: permission('list'), resourceOf: field('parent'), run: (r) => this.list(list, r) });
    if (update) {
      const resourceField = this.resourceField(update);
      const resourceOf = (r: Message) => String(((r as unknown as Record<string, Record<string, unknown> | undefined>)[resourceField.localName] ?? {}).name ?? '');
      rows.push({ method: update, permission: permission('update'), resourceOf, run: (r) => this.update(update, r) });
    }
    if (d) rows.push({ method: d, permission: permission('delete'), resourceOf: field('name'), run: (r) => this.delete(d, r) });
    for (const custom of this.module.custom?.(this.deps, this) ?? []) {
      rows.push({ method: custom.method, permission: custom.permission, resourceOf: field(custom.on), run: custom.run });
    }
    return rows;
  }

  private async create(method: DescMethod, request: Message): Promise<Operation> {
    const r = fieldsOf(request);
    const parent = String(r.parent);
    this.checkParent(parent);
    const resourceField = this.resourceField(method);
    const idField = requiredField(method.input, `${resourceField.name}_id`);
    const id = String(r[idField.localName]);
    if (!RESOURCE_ID.test(id)) {
      throw ApiError.badField(idField.name, `${idField.name} '${id}' is invalid: use 1-63 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen.`);
    }
    const identity = requestIdentity(method, request);
    const resource = r[resourceField.localName] as Message | undefined;
    if (!resource) throw ApiError.badField(resourceField.name, `${resourceField.name} is required.`);
    this.requireFields(resource, resourceField.name);
    this.module.hooks?.validate?.(resource as never, resourceField.name);
    // Output-only fields in the request are ignored (AIP-203); the server sets its own.
    this.schema.clearOutputOnly(resource);
    const name = `${parent}/${this.schema.plural}/${id}`;
    const fields = fieldsOf(resource);
    fields.name = name;
    if (this.schema.field('uid')) fields.uid = randomUUID();
    if (this.schema.field('etag')) fields.etag = newEtag();
    const require = this.createPreconditions(name, parent);
    const input: WriteInput = { data: encode(this.module.schema, resource), validateOnly: flag(r.validateOnly), require };
    return this.start({ parent: locationOf(name), kind: this.kind('create'), input: JSON.stringify(input), verb: 'create', target: name, require }, identity, r);
  }

  private async runCreate(input: WriteInput, resumed: boolean): Promise<HandlerResult> {
    const resource = fromBinary(this.module.schema, Buffer.from(input.data ?? input.connection ?? '', 'base64'));
    const fields = fieldsOf(resource);
    const name = String(fields.name);
    const etag = String(fields.etag ?? '');
    if (resumed) {
      // Resumed after a crash that came after the commit: the work is already done.
      const stored = await this.store.getResource(name);
      if (stored && stored.etag === etag) return { response: { typeUrl: this.typeUrl, value: stored.data } };
    }
    this.stampTimes(fields, true);
    await this.derive(resource, { kind: 'create' });
    const record = this.record(name, resource, etag);
    if (input.validateOnly) return { response: { typeUrl: this.typeUrl, value: record.data } };
    return { response: { typeUrl: this.typeUrl, value: record.data }, change: { require: input.require ?? this.createPreconditions(name, parentOf(name)), put: record } };
  }

  private async get(request: Message): Promise<Message> {
    const name = String(fieldsOf(request).name);
    parseByPattern(name, this.schema.pattern);
    const record = await this.store.getResource(name);
    if (!record || record.collection !== this.schema.plural) throw this.notFound(name);
    return (await this.withReconciling([fromBinary(this.module.schema, record.data)]))[0]!;
  }

  /**
   * AIP-128: `reconciling` is true while an operation on the resource runs (on any node), which is
   * not stored, or while the server works on it by itself, which the module's `derive` stores (an
   * InsightsConfig's discovery).
   */
  private async withReconciling(resources: Message[]): Promise<Message[]> {
    if (!this.hasReconciling) return resources;
    const busy = await this.engine.reconciling(resources.map((r) => String(fieldsOf(r).name)));
    for (const resource of resources) (resource as unknown as { reconciling: boolean }).reconciling ||= busy.has(String(fieldsOf(resource).name));
    return resources;
  }

  private async list(method: DescMethod, request: Message): Promise<Message> {
    const r = fieldsOf(request);
    const parent = String(r.parent);
    this.checkParent(parent);
    const itemsField = method.output.fields.find((f) => f.fieldKind === 'list' && f.listKind === 'message' && f.message.typeName === this.module.schema.typeName);
    if (!itemsField) throw new Error(`${method.output.typeName} has no list of ${this.module.schema.typeName}`);
    await this.indexUnindexed();
    const page = await listPage(this.store, this.module, {
      parent,
      collection: this.schema.plural,
      filter: String(r.filter ?? ''),
      orderBy: String(r.orderBy ?? ''),
      pageSize: Number(r.pageSize ?? 0),
      pageToken: String(r.pageToken ?? ''),
      tokens: this.deps.tokens,
      reconciling: this.hasReconciling ? () => this.engine.reconcilingUnder(`${parent}/${this.schema.plural}/`) : undefined,
    });
    return create(method.output, { [itemsField.localName]: await this.withReconciling(page.items), nextPageToken: page.nextPageToken } as never);
  }

  /**
   * Resources stored without an index have no values for a filtered or sorted List to see:
   * those written before the store kept an index (migration 000006, which could not make one,
   * since SQL cannot decode their protos), or by a writer that brought none. Here they are decoded
   * and indexed before a List reads. Not once at start: the check is one probe of a partial index
   * (free when there are none), a collection nobody lists costs nothing, and a failure is this
   * List's error, tried again by the next. Overlapping passes are harmless: indexResource
   * indexes a resource only while it still has none.
   */
  private async indexUnindexed(): Promise<void> {
    let after: string | undefined;
    do {
      const page = await this.store.listUnindexedResources({ collection: this.schema.plural, pageSize: 500, after });
      // Issued together, committed together: the store groups the writes of one turn into one transaction.
      await Promise.all(page.items.map((r) => this.store.indexResource(r.name, r.etag, resourceIndex(this.module, fromBinary(this.module.schema, r.data)))));
      after = page.next;
    } while (after !== undefined);
  }

  private async update(method: DescMethod, request: Message): Promise<Operation> {
    const r = fieldsOf(request);
    const resourceField = this.resourceField(method);
    const patch = r[resourceField.localName] as Message | undefined;
    if (!patch) throw ApiError.badField(resourceField.name, `${resourceField.name} is required.`);
    const name = String(fieldsOf(patch).name ?? '');
    parseByPattern(name, this.schema.pattern, `${resourceField.name}.name`);
    this.deps.locations.assertKnown(name.split('/')[3] ?? '', locationOf(name));
    const paths = this.maskPaths(method, r.updateMask as FieldMask | undefined, patch);
    // Paths are checked now, against an empty resource; IMMUTABLE fields against the stored resource, now
    // (a bad request fails the call, AIP-203) and again when the work runs (it may have been replaced since).
    this.schema.applyMask(create(this.module.schema), patch, paths, 'update_mask');
    const stored = await this.store.getResource(name);
    if (stored) {
      const after = fromBinary(this.module.schema, stored.data);
      this.schema.applyMask(after, patch, paths, 'update_mask');
      const changed = immutableChanges(this.module.schema, fromBinary(this.module.schema, stored.data), after);
      if (changed.length > 0) throw ApiError.badField(`${resourceField.name}.${changed[0]!}`, this.immutableMessage(changed));
    }
    const identity = requestIdentity(method, request);
    const allowMissing = flag(r.allowMissing);
    const etag = String(fieldsOf(patch).etag ?? '');
    const require: Precondition[] = etag !== '' ? [{ kind: 'etag', name, etag }] : allowMissing ? [] : [{ kind: 'exists', name }];
    const input: WriteInput = { data: encode(this.module.schema, patch), paths, allowMissing, validateOnly: flag(r.validateOnly), require };
    return this.start({ parent: locationOf(name), kind: this.kind('update'), input: JSON.stringify(input), verb: 'update', target: name, require }, identity, r);
  }

  /**
   * AIP-134's update mask: required where the proto says so; where it is optional and left out, or
   * where the request has none (UpdateInsightsConfig), the fields the patch sets. The cloud keeps
   * what such a request leaves out: gcloud's `insights-configs update` sends only the fields it
   * changes, and reads the others back.
   */
  private maskPaths(method: DescMethod, mask: FieldMask | undefined, patch: Message): string[] {
    const field = method.input.fields.find((f) => f.name === 'update_mask');
    if (field && mask && mask.paths.length > 0) return mask.paths;
    if (!field || !this.requestSchemaRequires(field)) {
      const r = reflect(this.module.schema, patch);
      return this.module.schema.fields
        .filter((f) => r.isSet(f) && !this.schema.has(f, FieldBehavior.OUTPUT_ONLY) && !this.schema.has(f, FieldBehavior.IDENTIFIER))
        .map((f) => f.name);
    }
    throw ApiError.badField('update_mask', `update_mask is required: list the fields to change (e.g. labels), or '*' to replace every field.`);
  }

  private immutableMessage(changed: readonly string[]): string {
    return `${this.schema.kind} field${changed.length > 1 ? 's' : ''} ${changed.join(', ')} cannot change after creation (IMMUTABLE).`;
  }

  private requestSchemaRequires(field: DescField): boolean {
    return hasOption(field, field_behavior) && getOption(field, field_behavior).includes(FieldBehavior.REQUIRED);
  }

  private async runUpdate(input: WriteInput): Promise<HandlerResult> {
    const patch = fromBinary(this.module.schema, Buffer.from(input.data ?? '', 'base64'));
    const name = String(fieldsOf(patch).name);
    const stored = await this.store.getResource(name);
    let resource: Message;
    let require: Precondition[];
    let dropChildren = false;
    let request: DeriveContext['request'] = { kind: 'create' };
    if (stored) {
      resource = fromBinary(this.module.schema, stored.data);
      require = [...(input.require ?? []), { kind: 'etag', name, etag: stored.etag }];
      const before = fromBinary(this.module.schema, stored.data);
      request = { kind: 'update', before };
      asFailure(() => this.schema.applyMask(resource, patch, input.paths ?? [], 'update_mask'));
      const changed = immutableChanges(this.module.schema, before, resource);
      if (changed.length > 0) throw new OperationFailure(Code.INVALID_ARGUMENT, this.immutableMessage(changed));
      dropChildren = this.module.hooks?.dropsChildren?.(before as never, resource as never) ?? false;
    } else {
      if (!input.allowMissing) throw new OperationFailure(Code.NOT_FOUND, this.notFound(name).message);
      // AIP-134 allow_missing: the update creates the resource.
      resource = patch;
      asFailure(() => this.requireFields(resource, 'resource'));
      this.schema.clearOutputOnly(resource);
      const fields = fieldsOf(resource);
      fields.name = name;
      if (this.schema.field('uid')) fields.uid = randomUUID();
      this.stampTimes(fields, true);
      require = this.createPreconditions(name, parentOf(name));
    }
    const fields = fieldsOf(resource);
    const etag = newEtag();
    if (this.schema.field('etag')) fields.etag = etag;
    this.stampTimes(fields, false);
    await this.derive(resource, request);
    const record = this.record(name, resource, etag);
    const response = { typeUrl: this.typeUrl, value: record.data };
    return input.validateOnly ? { response } : { response, change: { require, put: record, ...(dropChildren ? { deleteChildrenOf: name } : {}) } };
  }

  /** Delete of the resource with this name, as DeleteX would run it (for custom methods such as DeleteSelf). */
  deleteByName(name: string): Promise<Operation> {
    const method = this.module.methods.delete;
    if (!method) throw new Error(`${this.schema.kind} has no delete method`);
    return this.delete(method, create(method.input, { name } as never));
  }

  private async delete(method: DescMethod, request: Message): Promise<Operation> {
    const r = fieldsOf(request);
    const name = String(r.name);
    parseByPattern(name, this.schema.pattern);
    const identity = requestIdentity(method, request);
    // A retry after the resource is gone still gets its operation: the request id is checked first.
    const earlier = identity && (await this.retried(identity, r));
    if (earlier) return toOperationMessage(earlier);
    const etag = String(r.etag ?? '');
    const force = flag(r.force);
    const require: Precondition[] = etag !== '' ? [{ kind: 'etag', name, etag }] : flag(r.allowMissing) ? [] : [{ kind: 'exists', name }];
    if (!force) require.push({ kind: 'no-children', name });
    const input: WriteInput = { name, validateOnly: flag(r.validateOnly), require, cascade: force };
    return this.start({ parent: locationOf(name), kind: this.kind('delete'), input: JSON.stringify(input), verb: 'delete', target: name, require }, identity, r);
  }

  private async runDelete(input: WriteInput): Promise<HandlerResult> {
    const name = input.name ?? '';
    const response = anyPack(EmptySchema, create(EmptySchema));
    if (input.validateOnly) {
      if (!(await this.store.getResource(name))) throw new OperationFailure(Code.NOT_FOUND, this.notFound(name).message);
      return { response };
    }
    // Operations made before preconditions were stored required only that nothing else changed.
    return { response, change: { require: input.require ?? [], delete: { name, cascade: input.cascade ?? false } } };
  }

  private handler(verb: string, run: (input: WriteInput, resumed: boolean) => Promise<HandlerResult>): OperationHandler {
    return {
      kind: this.kind(verb),
      cancellable: true,
      afterRestart: 'resume',
      run: async (raw, context) => {
        // The work "takes" --operation-delay, cancellably; everything it reads is read after it.
        await context.sleep(this.options.operationDelayMs);
        return run(JSON.parse(raw) as WriteInput, context.resumed);
      },
    };
  }

  /** Starts an operation; with a request id, a retry gets the first request's operation (AIP-155). A failed precondition fails the call. */
  private async start(start: StartRequest, identity: RequestKey | undefined, request: Record<string, unknown>): Promise<Operation> {
    try {
      return toOperationMessage(await this.engine.start({ ...start, request: identity }));
    } catch (error) {
      throw asApiError(error, String(request.requestId ?? ''));
    }
  }

  private retried(identity: RequestKey, request: Record<string, unknown>): Promise<OperationRecord | undefined> {
    return this.engine.retried(identity).catch((error: unknown) => {
      throw asApiError(error, String(request.requestId ?? ''));
    });
  }

  private kind(verb: string): string {
    return `${this.schema.plural}.${verb}`;
  }

  /** The field of a create or update request that carries the resource (`connection`, `git_repository_link`). */
  private resourceField(method: DescMethod): DescField & { fieldKind: 'message' } {
    const known = this.resourceFields.get(method);
    if (known) return known;
    const field = method.input.fields.find((f) => f.fieldKind === 'message' && f.message.typeName === this.module.schema.typeName);
    if (!field || field.fieldKind !== 'message') throw new Error(`${method.input.typeName} carries no ${this.module.schema.typeName}`);
    this.resourceFields.set(method, field);
    return field;
  }

  private checkParent(parent: string): void {
    const ids = parseByPattern(parent, this.schema.parentPattern, 'parent');
    this.deps.locations.assertKnown(ids.location ?? '', locationOf(parent));
  }

  /** AIP-133: the resource must not exist, and a parent that is itself a resource must. */
  private createPreconditions(name: string, parent: string): Precondition[] {
    const require: Precondition[] = [{ kind: 'absent', name }];
    if (parent.split('/').length > 4) require.push({ kind: 'parent-exists', name: parent });
    return require;
  }

  private requireFields(resource: Message, prefix: string): void {
    const missing = this.schema.missingRequired(resource, prefix);
    if (missing.length > 0) {
      throw new ApiError(Code.INVALID_ARGUMENT, `Required field${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set.`, {
        reason: 'INVALID_ARGUMENT',
        metadata: { field: missing[0]! },
      }, missing.map((field) => ({ field, description: `${field} is required.` })));
    }
  }


  /** The module's derived fields, with the stored parent of a nested resource and the request that writes it at hand. */
  private async derive(resource: Message, request: DeriveContext['request']): Promise<void> {
    const derive = this.module.hooks?.derive;
    if (!derive) return;
    const name = String(fieldsOf(resource).name);
    const parent = parentOf(name).split('/').length > 4 ? await this.store.getResource(parentOf(name)) : undefined;
    derive(resource as never, { parent, publicUrl: this.deps.publicUrl(), request });
  }

  private stampTimes(fields: Record<string, unknown>, created: boolean): void {
    const now = timestampNow();
    if (created && this.schema.field('create_time')) fields.createTime = now;
    if (this.schema.field('update_time')) fields.updateTime = now;
  }

  private record(name: string, resource: Message, etag: string): ResourceRecord {
    // The stored resource and the packed response are the same bytes: serialized once.
    const data = toBinary(this.module.schema, resource);
    rememberEncoded(data, resource);
    return { name, parent: parentOf(name), collection: this.schema.plural, etag, data, index: resourceIndex(this.module, resource) };
  }

  private notFound(name: string): ApiError {
    return ApiError.notFound(`${this.schema.kind} '${name}' was not found.`, name);
  }
}
