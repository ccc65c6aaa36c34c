import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ApiError } from '../common/errors.js';
import { parseRule } from './rule.js';
import type { FaultRules } from './rules.js';

/**
 * `serve --faults FILE`: a list of rules, or an object whose `faults` is one, in JSON or YAML (YAML
 * reads JSON too). Every rule is checked before any is added, so a bad file changes nothing and
 * says which rule is wrong.
 */
export function loadFaultFile(path: string, rules: FaultRules): number {
  let document: unknown;
  try {
    document = parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`--faults ${path}: ${(error as Error).message}`, { cause: error });
  }
  const list = Array.isArray(document) ? document : (document as { faults?: unknown } | null)?.faults;
  if (!Array.isArray(list)) throw new Error(`--faults ${path}: expected a list of fault rules, or an object with "faults": [ … ].`);
  list.forEach((rule, i) => {
    try {
      parseRule(rule);
    } catch (error) {
      throw new Error(`--faults ${path}: rule ${i + 1}: ${error instanceof ApiError ? error.message : String(error)}`, { cause: error });
    }
  });
  for (const rule of list) rules.add(rule);
  return list.length;
}
