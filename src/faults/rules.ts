import type { DescMethod } from '@bufbuild/protobuf';
import type { CallFault, CallFaults } from '../api/methods.js';
import { ApiError, Code } from '../common/errors.js';
import { methodGlob, resourceGlob } from './glob.js';
import { OperationFaults, type OperationFault } from './operation-faults.js';
import { codeOf, durationMs, isMethodRule, parseRule, type FaultRuleSpec, type MethodRuleSpec, type OperationRuleSpec } from './rule.js';

/** A rule as the API reports it: as it was written, with its id and how many times it has fired. */
export type FaultRuleView = { id: string } & FaultRuleSpec & { fired: number };

interface Firing {
  id: string;
  spec: FaultRuleSpec;
  fired: number;
  /** Fires at most this often, then lets everything through. */
  times?: number;
  probability: number;
}

interface MethodRule extends Firing {
  kind: 'method';
  /** Matched against `package.Service/Method`, or against `Method` alone when the pattern has no `/`. */
  method: RegExp;
  fullName: boolean;
  resource?: RegExp;
  delayMs: number;
  error?: { code: Code; message: string; retryDelayMs?: number };
}

interface OperationRule extends Firing {
  kind: 'operation';
  verb?: RegExp;
  target?: RegExp;
  fault: OperationFault;
}

type Rule = MethodRule | OperationRule;

/**
 * The fault rules of this server, in memory (they are test set-up, not state: a restart starts with
 * `--faults` again). For each call or operation the first rule, in the order added, that matches
 * and fires decides; a rule fires with its probability, and at most `times` times. A firing is
 * counted when it is decided, so `times` holds under concurrent calls.
 */
export class FaultRules implements CallFaults {
  private rules: readonly Rule[] = [];
  private methodRules = 0;
  private operationRules = 0;
  private lastId = 0;
  private readonly operations = new OperationFaults((verb, target) => this.operationFault(verb, target));

  /** `random`: [0, 1), drawn for rules with a probability below 1. */
  constructor(private readonly random: () => number = Math.random) {}

  /** Checks and adds a rule (INVALID_ARGUMENT naming what is wrong); it applies from the next call on. */
  add(input: unknown): FaultRuleView {
    const rule = compile(String(++this.lastId), parseRule(input));
    this.replace([...this.rules, rule]);
    return view(rule);
  }

  list(): FaultRuleView[] {
    return this.rules.map(view);
  }

  get(id: string): FaultRuleView | undefined {
    const rule = this.rules.find((r) => r.id === id);
    return rule && view(rule);
  }

  remove(id: string): boolean {
    const left = this.rules.filter((r) => r.id !== id);
    const removed = left.length < this.rules.length;
    this.replace(left);
    return removed;
  }

  clear(): void {
    this.replace([]);
  }

  /** The engine's `wrapHandler`: runs every operation under the operation rule that fires for it. */
  readonly wrapHandler = this.operations.wrap;

  /** Stops the operations whose cancellation a rule ignores; call it before the engine stops. */
  stop(): void {
    this.operations.stop();
  }

  faultFor(method: DescMethod, resource: () => string): CallFault | undefined {
    if (this.methodRules === 0) return undefined;
    const fullName = `${method.parent.typeName}/${method.name}`;
    let name: string | undefined;
    for (const rule of this.rules) {
      if (rule.kind !== 'method' || !rule.method.test(rule.fullName ? fullName : method.name)) continue;
      if (rule.resource && !rule.resource.test((name ??= resource()))) continue;
      if (!this.fires(rule)) continue;
      const { error } = rule;
      return { delayMs: rule.delayMs, error: error && new ApiError(error.code, error.message, undefined, undefined, error.retryDelayMs) };
    }
    return undefined;
  }

  private operationFault(verb: string, target: string): OperationFault | undefined {
    if (this.operationRules === 0) return undefined;
    for (const rule of this.rules) {
      if (rule.kind !== 'operation' || (rule.verb && !rule.verb.test(verb)) || (rule.target && !rule.target.test(target))) continue;
      if (this.fires(rule)) return rule.fault;
    }
    return undefined;
  }

  private fires(rule: Rule): boolean {
    if (rule.times !== undefined && rule.fired >= rule.times) return false;
    if (rule.probability < 1 && this.random() >= rule.probability) return false;
    rule.fired++;
    return true;
  }

  /** Swapped whole, so a change never disturbs a lookup that is iterating the old list. */
  private replace(rules: readonly Rule[]): void {
    this.rules = rules;
    this.methodRules = rules.filter((r) => r.kind === 'method').length;
    this.operationRules = rules.length - this.methodRules;
  }
}

function compile(id: string, spec: FaultRuleSpec): Rule {
  const firing = { id, spec, fired: 0, times: spec.times, probability: spec.probability ?? 1 };
  return isMethodRule(spec) ? compileMethodRule(firing, spec) : compileOperationRule(firing, spec);
}

function compileMethodRule(firing: Firing, spec: MethodRuleSpec): MethodRule {
  // `/google.longrunning.Operations/GetOperation` is how gRPC writes the path; the leading slash is optional.
  const pattern = spec.method.replace(/^\//, '');
  const error = spec.error && {
    code: codeOf(spec.error.code) ?? Code.UNKNOWN,
    message: spec.error.message ?? `${Code[codeOf(spec.error.code) ?? Code.UNKNOWN]}: fault injected by devconnect-emulator (rule ${firing.id}).`,
    retryDelayMs: spec.error.retryDelay === undefined ? undefined : durationMs(spec.error.retryDelay),
  };
  return {
    ...firing,
    kind: 'method',
    method: methodGlob(pattern),
    fullName: pattern.includes('/'),
    resource: spec.resource === undefined ? undefined : resourceGlob(spec.resource),
    delayMs: spec.delay === undefined ? 0 : (durationMs(spec.delay) ?? 0),
    error,
  };
}

function compileOperationRule(firing: Firing, spec: OperationRuleSpec): OperationRule {
  const fail = spec.fail && {
    code: codeOf(spec.fail.code) ?? Code.UNKNOWN,
    message: spec.fail.message ?? `Operation failed: fault injected by devconnect-emulator (rule ${firing.id}).`,
    afterMs: spec.fail.after === undefined ? 0 : (durationMs(spec.fail.after) ?? 0),
  };
  return {
    ...firing,
    kind: 'operation',
    verb: spec.operation.verb === undefined ? undefined : methodGlob(spec.operation.verb),
    target: spec.operation.target === undefined ? undefined : resourceGlob(spec.operation.target),
    fault: {
      fail,
      ignoreCancel: spec.ignoreCancel === true,
      runForMs: spec.runFor === undefined ? undefined : durationMs(spec.runFor),
      statusMessages: spec.statusMessages ?? [],
    },
  };
}

function view(rule: Rule): FaultRuleView {
  return { id: rule.id, ...rule.spec, fired: rule.fired };
}
