import { readFileSync } from 'node:fs';
import { clone, fromJson, isFieldSet, toBinary, type JsonValue, type Message } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { randomUUID } from 'node:crypto';
import { parseByPattern } from '../common/names.js';
import type { Precondition } from '../common/preconditions.js';
import { registry } from '../proto/registry.js';
import type { ResourceStore } from '../store/store.js';
import { resourceIndex } from './list-page.js';
import type { ResourceModule } from './resource-module.js';
import { ResourceSchema } from './resource-schema.js';

/**
 * Seeds resources from a fixture file: a JSON object whose keys are collections (`insightsConfigs`,
 * `deploymentEvents`, `connections`, …) and whose values are lists of resources in the proto3 JSON
 * mapping, each with its full `name`. This is how resources the API cannot make appear here
 * (DeploymentEvents come from running workloads in the cloud), and how a test starts from known
 * state. Parents are loaded before children (the order of `modules`); loading again replaces
 * what is there. Server-kept fields a resource leaves out (create and update time, uid, etag) are
 * set, and so are the fields its module derives (a connection's installation_state), as a create
 * through the API would set them; `publicUrl` is the server's, for the URIs among them. Throws with the collection, position and reason of the first entry that is wrong.
 */
export async function loadFixtures(
  store: Pick<ResourceStore, 'applyResourceChange' | 'getResource'>,
  modules: readonly ResourceModule[],
  file: string,
  publicUrl: string,
): Promise<Record<string, number>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`fixture file ${file} is not readable JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`fixture file ${file} must be a JSON object of collection → list of resources.`);
  const byPlural = new Map(modules.map((m) => [new ResourceSchema(m.schema).plural, m]));
  for (const key of Object.keys(parsed)) {
    if (!byPlural.has(key)) throw new Error(`fixture file ${file}: '${key}' is not a collection; use one of ${[...byPlural.keys()].join(', ')}.`);
  }
  const counts: Record<string, number> = {};
  for (const [plural, module] of byPlural) {
    const entries = (parsed as Record<string, unknown>)[plural];
    if (entries === undefined) continue;
    if (!Array.isArray(entries)) throw new Error(`fixture file ${file}: '${plural}' must be a list.`);
    const schema = new ResourceSchema(module.schema);
    for (const [i, entry] of entries.entries()) {
      const where = `fixture file ${file}: ${plural}[${i}]`;
      let message: Message;
      try {
        message = fromJson(module.schema, entry as JsonValue, { registry });
      } catch (error) {
        throw new Error(`${where}: ${(error as Error).message}`, { cause: error });
      }
      const fields = message as unknown as Record<string, unknown>;
      const name = String(fields.name ?? '');
      try {
        parseByPattern(name, schema.pattern);
      } catch (error) {
        throw new Error(`${where}: ${(error as Error).message}`, { cause: error });
      }
      const now = timestampNow();
      if (schema.field('create_time') && !fields.createTime) fields.createTime = now;
      if (schema.field('update_time') && !fields.updateTime) fields.updateTime = now;
      if (schema.field('uid') && !fields.uid) fields.uid = randomUUID();
      if (schema.field('etag') && !fields.etag) fields.etag = randomUUID().replaceAll('-', '').slice(0, 16);
      const parent = name.split('/').slice(0, -2).join('/');
      await deriveUnset(module, message, parent, publicUrl, store);
      const require: Precondition[] = parent.split('/').length > 4 ? [{ kind: 'parent-exists', name: parent }] : [];
      try {
        await store.applyResourceChange({
          require,
          put: { name, parent, collection: plural, etag: String(fields.etag ?? ''), data: toBinary(module.schema, message), index: resourceIndex(module, message) },
        });
      } catch (error) {
        throw new Error(`${where}: ${(error as Error).message}`, { cause: error });
      }
    }
    counts[plural] = entries.length;
  }
  return counts;
}

/** Sets the fields `module` derives that the fixture left unset; a value the fixture gives is kept. */
async function deriveUnset(module: ResourceModule, message: Message, parent: string, publicUrl: string, store: Pick<ResourceStore, 'getResource'>): Promise<void> {
  const derive = module.hooks?.derive;
  if (!derive) return;
  const derived = clone(module.schema, message);
  derive(derived as never, { parent: parent.split('/').length > 4 ? await store.getResource(parent) : undefined, publicUrl });
  const target = message as unknown as Record<string, unknown>;
  const source = derived as unknown as Record<string, unknown>;
  for (const member of module.schema.members) {
    const unset = member.kind === 'oneof' ? (target[member.localName] as { case?: string }).case === undefined : !isFieldSet(message, member);
    if (unset) target[member.localName] = source[member.localName];
  }
}
