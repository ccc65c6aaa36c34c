import { equals, getOption, hasOption, type DescField, type DescMessage, type Message } from '@bufbuild/protobuf';
import { reflect, type ReflectMessage } from '@bufbuild/protobuf/reflect';
import { timestampMs, TimestampSchema, type Timestamp } from '@bufbuild/protobuf/wkt';
import { ApiError } from '../common/errors.js';
import { FieldBehavior, field_behavior } from '../gen/google/api/field_behavior_pb.js';
import { resource as resourceOption } from '../gen/google/api/resource_pb.js';
import type { FilterValue } from './filter.js';

/**
 * What a resource's proto says of it, read from its descriptor rather than written again by hand:
 * the name pattern and plural of `google.api.resource`, and each field's `google.api.field_behavior`.
 */
export class ResourceSchema {
  /** `projects/{project}/locations/{location}/connections/{connection}` */
  readonly pattern: string;
  /** The collection id in names and the permission prefix: `connections`, `gitRepositoryLinks`. */
  readonly plural: string;
  /** The message name, for messages: `Connection`. */
  readonly kind: string;
  /** The pattern of the parent's name: `projects/{project}/locations/{location}`. */
  readonly parentPattern: string;
  /** Field behaviours by field, read once: getOption decodes the option on every call. */
  private readonly fieldBehaviours = new Map<DescField, readonly FieldBehavior[]>();
  /** Fields the server keeps (OUTPUT_ONLY): cleared from what a client sends (AIP-203). */
  readonly outputOnly: readonly DescField[];
  /** Top-level fields by proto name: every create and update asks for a few (`uid`, `etag`, `update_time`). */
  private readonly fieldsByName: ReadonlyMap<string, DescField>;

  constructor(readonly desc: DescMessage) {
    if (!hasOption(desc, resourceOption)) throw new Error(`${desc.typeName} has no google.api.resource option`);
    const option = getOption(desc, resourceOption);
    const pattern = option.pattern[0];
    if (!pattern) throw new Error(`${desc.typeName} has no resource pattern`);
    this.pattern = pattern;
    this.plural = option.plural;
    this.kind = desc.name;
    this.parentPattern = pattern.split('/').slice(0, -2).join('/');
    for (const field of desc.fields) this.fieldBehaviours.set(field, hasOption(field, field_behavior) ? getOption(field, field_behavior) : []);
    this.outputOnly = desc.fields.filter((f) => this.has(f, FieldBehavior.OUTPUT_ONLY));
    this.fieldsByName = new Map(desc.fields.map((f) => [f.name, f]));
  }

  behaviours(field: DescField): readonly FieldBehavior[] {
    return this.fieldBehaviours.get(field) ?? behavioursOf(field);
  }

  has(field: DescField, behaviour: FieldBehavior): boolean {
    return this.behaviours(field).includes(behaviour);
  }

  /** A top-level field by its proto name (`create_time`), or undefined. */
  field(protoName: string): DescField | undefined {
    return this.fieldsByName.get(protoName);
  }

  /**
   * The REQUIRED fields that `message` leaves unset, as field paths under `prefix`: the resource's
   * own, and those of every message field it sets (AIP-203: a nested REQUIRED field is required
   * whenever its parent is present).
   */
  missingRequired(message: Message, prefix: string): string[] {
    return missingRequired(reflect(this.desc, message), prefix);
  }

  /** Clears what clients may not set (OUTPUT_ONLY fields), in place. */
  clearOutputOnly(message: Message): void {
    const r = reflect(this.desc, message);
    for (const f of this.outputOnly) r.clear(f);
  }

  /**
   * Applies an AIP-134 update mask: each path's value is copied from `patch` to `target` (cleared
   * where `patch` leaves it unset); `*` means every field a client may set. Paths are proto field
   * names, top-level or into message fields (`github_config.app_installation_id`). Unknown paths,
   * OUTPUT_ONLY fields and the IDENTIFIER are INVALID_ARGUMENT; IMMUTABLE fields are checked on the
   * result (immutableChanges).
   */
  applyMask(target: Message, patch: Message, paths: readonly string[], maskField: string): void {
    const expanded = paths.includes('*')
      ? this.desc.fields.filter((f) => !this.has(f, FieldBehavior.OUTPUT_ONLY) && !this.has(f, FieldBehavior.IDENTIFIER)).map((f) => f.name)
      : paths;
    for (const path of expanded) {
      const segments = path.split('.');
      const top = this.field(segments[0] ?? '');
      if (!top) throw ApiError.badField(maskField, `update_mask path '${path}' is not a field of ${this.kind}.`);
      if (this.has(top, FieldBehavior.OUTPUT_ONLY) || this.has(top, FieldBehavior.IDENTIFIER)) {
        throw ApiError.badField(maskField, `update_mask path '${path}' names a field the server sets (${this.has(top, FieldBehavior.IDENTIFIER) ? 'IDENTIFIER' : 'OUTPUT_ONLY'}); it cannot be updated.`);
      }
      const from = walk(reflect(this.desc, patch), segments, false);
      const to = walk(reflect(this.desc, target), segments, true);
      if (!from || !to) throw ApiError.badField(maskField, `update_mask path '${path}' is not a field of ${this.kind}.`);
      if (from.message === undefined || !from.message.isSet(from.field)) to.message.clear(to.field);
      else to.message.set(to.field, from.message.get(from.field) as never);
    }
  }
}

/** Field behaviours of fields of any message, read once each. */
const behaviourCache = new WeakMap<DescField, readonly FieldBehavior[]>();
function behavioursOf(field: DescField): readonly FieldBehavior[] {
  let behaviours = behaviourCache.get(field);
  if (!behaviours) {
    behaviours = hasOption(field, field_behavior) ? getOption(field, field_behavior) : [];
    behaviourCache.set(field, behaviours);
  }
  return behaviours;
}

function missingRequired(message: ReflectMessage, prefix: string): string[] {
  const missing: string[] = [];
  for (const field of message.fields) {
    if (!message.isSet(field)) {
      // A field of a oneof that another member fills is not missing.
      if (behavioursOf(field).includes(FieldBehavior.REQUIRED) && !(field.oneof && message.oneofCase(field.oneof) !== undefined)) missing.push(`${prefix}.${field.name}`);
    } else if (field.fieldKind === 'message') {
      missing.push(...missingRequired(message.get(field) as ReflectMessage, `${prefix}.${field.name}`));
    }
  }
  return missing;
}

/**
 * The paths of IMMUTABLE fields whose value differs between two versions of a message, at any
 * depth (`http_config.host_uri`). A message field is compared inside only where both versions have
 * it: replacing a whole provider configuration is a change of the oneof, not of its fields.
 */
export function immutableChanges(desc: DescMessage, before: Message, after: Message, prefix = ''): string[] {
  const a = reflect(desc, before);
  const b = reflect(desc, after);
  const changes: string[] = [];
  for (const field of desc.fields) {
    const path = `${prefix}${field.name}`;
    if (behavioursOf(field).includes(FieldBehavior.IMMUTABLE) && !sameValue({ message: a, field }, { message: b, field })) changes.push(path);
    else if (field.fieldKind === 'message' && a.isSet(field) && b.isSet(field)) {
      changes.push(...immutableChanges(field.message, (a.get(field) as ReflectMessage).message, (b.get(field) as ReflectMessage).message, `${path}.`));
    }
  }
  return changes;
}

interface FieldRef {
  /** The message holding the field; undefined when a message on the way is unset (in a patch). */
  message: ReflectMessage | undefined;
  field: DescField;
}

/** The field a path names, through message fields; `create` sets unset messages on the way (in the target). */
function walk(root: ReflectMessage, segments: readonly string[], create: boolean): (FieldRef & { message: ReflectMessage }) | undefined;
function walk(root: ReflectMessage, segments: readonly string[], create: false): FieldRef | undefined;
function walk(root: ReflectMessage, segments: readonly string[], create: boolean): FieldRef | undefined {
  let message: ReflectMessage | undefined = root;
  let desc = root.desc;
  for (let i = 0; i < segments.length; i++) {
    const field = desc.fields.find((f) => f.name === segments[i]);
    if (!field) return undefined;
    if (i === segments.length - 1) return { message, field };
    if (field.fieldKind !== 'message') return undefined;
    if (message && !message.isSet(field)) {
      if (!create) message = undefined;
      else message.set(field, reflect(field.message) as never);
    }
    message = message?.get(field) as ReflectMessage | undefined;
    desc = field.message;
  }
  return undefined;
}

function sameValue(a: FieldRef, b: FieldRef & { message: ReflectMessage }): boolean {
  const left = a.message?.isSet(a.field) ? a.message.get(a.field) : undefined;
  const right = b.message.isSet(b.field) ? b.message.get(b.field) : undefined;
  if (left === undefined || right === undefined) return left === right;
  if (a.field.fieldKind === 'message') {
    const l = left as ReflectMessage;
    return equals(l.desc, l.message, (right as ReflectMessage).message);
  }
  return left === right;
}

/**
 * A resource's value of a filter or order field (AIP-160 paths of proto names: `create_time`,
 * `installation_state.stage`, `labels.env`), as the filter evaluates it: strings, numbers,
 * booleans, enum value names, timestamps as epoch milliseconds. Undefined when it has none.
 */
export function fieldValue(desc: DescMessage, message: Message, path: string): FilterValue | undefined {
  let current: unknown = message;
  let currentDesc: DescMessage | undefined = desc;
  const segments = path.split('.');
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const field: DescField | undefined = currentDesc?.fields.find((f) => f.name === segment);
    if (!field || current === undefined) return undefined;
    const value = (current as Record<string, unknown>)[field.localName];
    if (field.fieldKind === 'map') {
      const key = segments[++i];
      const entries = value as Record<string, unknown>;
      // hasOwn: a key such as `constructor` must not find Object's.
      return key !== undefined && i === segments.length - 1 && Object.hasOwn(entries, key) ? scalar(entries[key]) : undefined;
    }
    if (field.fieldKind === 'enum') return i === segments.length - 1 ? field.enum.values.find((v) => v.number === value)?.name : undefined;
    if (field.fieldKind === 'message') {
      if (value === undefined) return undefined;
      if (field.message.typeName === TimestampSchema.typeName) return i === segments.length - 1 ? timestampMs(value as Timestamp) : undefined;
      current = value;
      currentDesc = field.message;
      continue;
    }
    return i === segments.length - 1 ? scalar(value) : undefined;
  }
  return undefined;
}

/**
 * A resource's values of `fields` (as a module's filterFields and orderFields name them) as the
 * filter and the sort see them (fieldValue), for the store to index: a `map.*` field becomes one
 * `map.KEY` per entry, and any other field the resource has no value for is null.
 */
export function indexValues(desc: DescMessage, message: Message, fields: readonly string[]): Record<string, FilterValue | null> {
  const values: Record<string, FilterValue | null> = {};
  for (const path of fields) {
    if (!path.endsWith('.*')) {
      values[path] = fieldValue(desc, message, path) ?? null;
      continue;
    }
    const map = desc.fields.find((f) => f.name === path.slice(0, -2));
    if (map?.fieldKind !== 'map') continue;
    for (const [key, entry] of Object.entries((message as unknown as Record<string, Record<string, unknown>>)[map.localName] ?? {})) {
      const value = scalar(entry);
      if (value !== undefined) values[`${map.name}.${key}`] = value;
    }
  }
  return values;
}

function scalar(value: unknown): FilterValue | undefined {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return Number(value);
  return undefined;
}
