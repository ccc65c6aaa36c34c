import ms, { type StringValue } from 'ms';
import { z } from 'zod';
import { ApiError, Code } from '../common/errors.js';

/** The longest delay or run a rule may ask for: a typo such as `2000m` should not park calls for days. */
const MAX_DURATION_MS = 24 * 3600_000;

/** Milliseconds of a duration such as `500ms`, `2s`, `1.5s` or `1m`; undefined when it is not one. */
export function durationMs(text: string): number | undefined {
  let value: number | undefined;
  try {
    value = ms(text.trim() as StringValue);
  } catch {
    return undefined;
  }
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_DURATION_MS ? Math.round(value) : undefined;
}

/** A google.rpc.Code other than OK, by name (`UNAVAILABLE`) or number (14); undefined when it is not one. */
export function codeOf(value: string | number): Code | undefined {
  const code = typeof value === 'number' ? value : (Code as unknown as Record<string, number | undefined>)[value];
  return code !== undefined && Number.isInteger(code) && code > Code.OK && Code[code] !== undefined ? (code as Code) : undefined;
}

const duration = z.string().refine((text) => durationMs(text) !== undefined, { message: 'must be a duration such as 500ms, 2s or 1m (at most 24h)' });
const code = z.union([z.string(), z.number()]).refine((value) => codeOf(value) !== undefined, {
  message: 'must be a google.rpc.Code other than OK: a name such as UNAVAILABLE, or its number (1 to 16)',
});
const times = z.number().int().min(1).optional();
const probability = z.number().min(0).max(1).optional();

const MethodRule = z
  .strictObject({
    method: z.string().min(1),
    resource: z.string().min(1).optional(),
    times,
    probability,
    delay: duration.optional(),
    error: z.strictObject({ code, message: z.string().min(1).optional(), retryDelay: duration.optional() }).optional(),
  })
  .refine((rule) => rule.delay !== undefined || rule.error !== undefined, { message: 'a method rule needs a delay, an error, or both' });

const OperationRule = z
  .strictObject({
    operation: z.strictObject({ verb: z.string().min(1).optional(), target: z.string().min(1).optional() }),
    times,
    probability,
    fail: z.strictObject({ code, message: z.string().min(1).optional(), after: duration.optional() }).optional(),
    ignoreCancel: z.boolean().optional(),
    runFor: duration.optional(),
    statusMessages: z.array(z.string().min(1)).min(1).optional(),
  })
  .superRefine((rule, ctx) => {
    if (rule.fail === undefined && rule.ignoreCancel !== true && rule.runFor === undefined && rule.statusMessages === undefined) {
      ctx.addIssue({ code: 'custom', message: 'an operation rule needs fail, ignoreCancel, runFor or statusMessages' });
    }
    // A failing operation runs for fail.after; and it has no work to complete, so no cancel to ignore.
    if (rule.fail !== undefined && rule.runFor !== undefined) ctx.addIssue({ code: 'custom', path: ['runFor'], message: 'goes with fail as fail.after' });
    if (rule.fail !== undefined && rule.ignoreCancel === true) ctx.addIssue({ code: 'custom', path: ['ignoreCancel'], message: 'cannot go with fail: a failing operation has no work to complete' });
  });

export type MethodRuleSpec = z.infer<typeof MethodRule>;
export type OperationRuleSpec = z.infer<typeof OperationRule>;
export type FaultRuleSpec = MethodRuleSpec | OperationRuleSpec;

/**
 * A rule as written (JSON or YAML, see the README's "Fault injection"), checked: a method rule names
 * `method`, an operation rule `operation`. `id` and `fired` are what the server reports about a
 * rule; sent back (a listed rule posted again), they are ignored as output-only fields are (AIP-203).
 * Throws INVALID_ARGUMENT with a BadRequest naming every field that is wrong.
 */
export function parseRule(input: unknown): FaultRuleSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw ApiError.invalidArgument('A fault rule is a JSON object with "method" (a method rule) or "operation" (an operation rule).');
  }
  const { id: _id, fired: _fired, ...rule } = input as Record<string, unknown>;
  if (('method' in rule) === ('operation' in rule)) {
    throw ApiError.badField('method', 'A fault rule names either "method" (a method rule: delay or fail calls) or "operation" (an operation rule: change how operations run), not both and not neither.');
  }
  const parsed = 'method' in rule ? MethodRule.safeParse(rule) : OperationRule.safeParse(rule);
  if (parsed.success) return parsed.data;
  const violations = parsed.error.issues.map((issue) => ({ field: issue.path.join('.') || 'rule', description: issue.message }));
  const message = violations.map((v) => `${v.field}: ${v.description}`).join('; ');
  throw new ApiError(Code.INVALID_ARGUMENT, `Invalid fault rule: ${message}.`, { reason: 'INVALID_ARGUMENT', metadata: { field: violations[0]?.field ?? 'rule' } }, violations);
}

export function isMethodRule(spec: FaultRuleSpec): spec is MethodRuleSpec {
  return 'method' in spec;
}
