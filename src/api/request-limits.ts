import type { DescEnum, DescField, DescMessage, Message } from '@bufbuild/protobuf';
import { ApiError } from '../common/errors.js';

/**
 * Limits every request is held to, whichever transport decoded it, before any method sees it:
 * what the protos and Google's documented limits say, and what the JSON and binary decoders let
 * through. Each violation is INVALID_ARGUMENT with a BadRequest field violation naming the field
 * (AIP-193), so a refused call never reaches the store.
 */

// Google Cloud's requirements for labels (cloud.google.com/resource-manager/docs/labels-overview):
// at most 64 per resource; keys 1-63 characters, values 0-63, of lowercase letters, numeric
// characters, underscores and dashes, international characters allowed; keys start with a
// lowercase letter or an international character. Lengths are in characters (code points).
export const MAX_LABELS = 64;
const LABEL_KEY = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{M}\p{N}_-]{0,62}$/u;
const LABEL_VALUE = /^[\p{Ll}\p{Lo}\p{M}\p{N}_-]{0,63}$/u;

// AIP-148: "The annotations field must use the Kubernetes limits"; Kubernetes limits the keys and
// values of an object's annotations to 256 KiB in total (apimachinery's TotalAnnotationSizeLimitB),
// counted in bytes.
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;

/** A value quoted for a message, cut short: a refused value may be a megabyte long. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Throws the first violation of these limits in `message`, a request of type `desc`. */
export function checkRequestLimits(desc: DescMessage, message: Message): void {
  checkMessage(desc, message as unknown as Record<string, unknown>, '');
}

function checkMessage(desc: DescMessage, message: Record<string, unknown>, prefix: string): void {
  for (const member of desc.members) {
    if (member.kind === 'oneof') {
      const selected = message[member.localName] as { case?: string; value?: unknown } | undefined;
      const field = selected?.case === undefined ? undefined : member.fields.find((f) => f.localName === selected.case);
      if (field) checkField(field, selected?.value, prefix);
    } else {
      checkField(member, message[member.localName], prefix);
    }
  }
}

function checkField(field: DescField, value: unknown, prefix: string): void {
  if (value === undefined) return;
  // Every field of a request is walked, and nearly all pass: a scalar's or an enum's path is made only for its error.
  switch (field.fieldKind) {
    case 'scalar':
      if (typeof value === 'string') checkString(value, prefix, field.name);
      return;
    case 'enum':
      checkEnum(field.enum, prefix, field.name, value);
      return;
  }
  const path = `${prefix}${field.name}`;
  switch (field.fieldKind) {
    case 'message':
      checkMessage(field.message, value as Record<string, unknown>, `${path}.`);
      return;
    case 'list':
      (value as unknown[]).forEach((item, i) => {
        const at = `${path}[${i}]`;
        if (field.listKind === 'enum') checkEnum(field.enum, at, '', item);
        else if (field.listKind === 'message') checkMessage(field.message, item as Record<string, unknown>, `${at}.`);
        else if (typeof item === 'string') checkString(item, at, '');
      });
      return;
    case 'map': {
      const entries = Object.entries(value as Record<string, unknown>);
      for (const [key, item] of entries) {
        checkString(key, path, '');
        const at = `${path}[${shown(key)}]`;
        if (field.mapKind === 'enum') checkEnum(field.enum, at, '', item);
        else if (field.mapKind === 'message') checkMessage(field.message, item as Record<string, unknown>, `${at}.`);
        else if (typeof item === 'string') checkString(item, at, '');
      }
      if (field.mapKind === 'scalar' && field.name === 'labels') checkLabels(path, entries as [string, string][]);
      if (field.mapKind === 'scalar' && field.name === 'annotations') checkAnnotations(path, entries as [string, string][]);
      return;
    }
  }
}

/** Refuses a string holding NUL, naming the field at `prefix` + `name` (joined only then). */
function checkString(value: string, prefix: string, name: string): void {
  // Valid UTF-8, and so valid in protobuf, but no name, label or text a person types holds one;
  // C strings downstream (a git host, a log line) would cut the value at it.
  if (!value.includes('\0')) return;
  const path = `${prefix}${name}`;
  throw ApiError.badField(path, `${path} must not contain a NUL character (U+0000).`);
}

/** Enum numbers each enum has, read once: proto3 enums are open, so decoders keep unknown numbers. */
const enumNumbers = new WeakMap<DescEnum, ReadonlySet<number>>();

function checkEnum(desc: DescEnum, prefix: string, name: string, value: unknown): void {
  let numbers = enumNumbers.get(desc);
  if (!numbers) {
    numbers = new Set(desc.values.map((v) => v.number));
    enumNumbers.set(desc, numbers);
  }
  if (typeof value === 'number' && numbers.has(value)) return;
  const path = `${prefix}${name}`;
  const names = desc.values.map((v) => v.name).join(', ');
  throw ApiError.badField(path, `${path} has ${shown(value)}, which is not a value of ${desc.typeName}; use one of ${names}.`);
}

function checkLabels(path: string, entries: readonly [string, string][]): void {
  if (entries.length > MAX_LABELS) throw ApiError.badField(path, `${path} has ${entries.length} labels; a resource can have at most ${MAX_LABELS}.`);
  for (const [key, value] of entries) {
    if (!LABEL_KEY.test(key)) {
      throw ApiError.badField(
        path,
        `${path} key ${shown(key)} is invalid: a label key is 1-63 lowercase letters, digits, underscores and dashes (international characters allowed), starting with a lowercase letter.`,
      );
    }
    if (!LABEL_VALUE.test(value)) {
      throw ApiError.badField(
        path,
        `${path} value ${shown(value)} of key ${shown(key)} is invalid: a label value is at most 63 lowercase letters, digits, underscores and dashes (international characters allowed).`,
      );
    }
  }
}

function checkAnnotations(path: string, entries: readonly [string, string][]): void {
  let bytes = 0;
  for (const [key, value] of entries) {
    if (key === '') throw ApiError.badField(path, `${path} has an empty key; annotation keys must not be empty.`);
    bytes += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  if (bytes > MAX_ANNOTATIONS_BYTES) {
    throw ApiError.badField(path, `${path} hold ${bytes} bytes of keys and values; the limit is ${MAX_ANNOTATIONS_BYTES} bytes (256 KiB) in total.`);
  }
}
