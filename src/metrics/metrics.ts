import type { DescMethod } from '@bufbuild/protobuf';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ApiError, Code } from '../common/errors.js';
import type { OperationObserver } from '../engine/observer.js';
import type { CallObserver, Transport } from '../transport/call-observer.js';
import { CallMetrics, codeName } from './call-metrics.js';

export type StoreBackend = 'sqlite' | 'postgres';

// Buckets span what each measures: a cached GetOperation answers in tens of microseconds and
// WaitOperation may take its whole minute; operations run from instantly to `--operation-delay`
// and beyond; a group commit is microseconds on SQLite, milliseconds on PostgreSQL.
const RPC_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const OPERATION_BUCKETS = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800];
const COMMIT_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/**
 * The server's Prometheus metrics. Each server has a registry of its own, so that servers in one
 * process (the tests) count apart. The layers that are measured know only the small observer
 * interfaces this class implements (CallObserver, OperationObserver, a store's `onCommit`), not
 * prom-client.
 *
 * `devconnect_operations` is kept per node, in memory, never read from the store: a scrape costs
 * nothing on a database of any size, and each node of a cluster reports its own share, which
 * Prometheus sums (a figure read from the shared database would be counted once per node).
 */
export class Metrics implements CallObserver, OperationObserver {
  readonly registry = new Registry();
  private readonly calls = new CallMetrics(
    this.registry,
    { name: 'devconnect_rpc_requests_total', help: 'Calls answered, by method, google.rpc code and transport.' },
    { name: 'devconnect_rpc_duration_seconds', help: 'Time from a call reaching the server to its answer, by method and transport.', buckets: RPC_BUCKETS },
  );
  private readonly denials = new Counter({
    name: 'devconnect_auth_denials_total',
    help:
      'Requests refused for their credentials or permissions, by reason: the ErrorInfo reason of an UNAUTHENTICATED or PERMISSION_DENIED answer (API calls over REST and gRPC, /emulator/v1/faults, the console), or TOKEN_ENDPOINT_*, GIT_PROXY_* and CONSOLE_LOGIN_CODE_INVALID.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly operations: Gauge<'state'> = new Gauge({
    name: 'devconnect_operations',
    help: 'Operations of this node: running now (its handlers at work), and done or cancelled by it since it started.',
    labelNames: ['state'] as const,
    registers: [this.registry],
    collect: () => {
      this.operations.set({ state: 'running' }, this.running());
    },
  });
  private readonly operationSeconds = new Histogram({
    name: 'devconnect_operation_duration_seconds',
    help: 'Time from an operation being created to its end, by verb and outcome (OK or the google.rpc code of its error), observed when this node ends it.',
    labelNames: ['verb', 'outcome'] as const,
    buckets: OPERATION_BUCKETS,
    registers: [this.registry],
  });
  private readonly commitSeconds = new Histogram({
    name: 'devconnect_store_commit_seconds',
    help: "Time of each group commit of the store: one transaction, from its first write to COMMIT, with every write issued meanwhile.",
    labelNames: ['backend'] as const,
    buckets: COMMIT_BUCKETS,
    registers: [this.registry],
  });
  private running: () => number = () => 0;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // Present from the first scrape, so that rate() and alerts see a zero rather than no series.
    for (const state of ['running', 'done', 'cancelled']) this.operations.set({ state }, 0);
  }

  callEnded(method: DescMethod, transport: Transport, code: Code, seconds: number, error: unknown): void {
    this.calls.ended(method, transport, code, seconds);
    if (code === Code.UNAUTHENTICATED || code === Code.PERMISSION_DENIED) {
      // Every denial (src/auth, the scope check in src/api/methods.ts, src/iam) carries an ErrorInfo reason.
      const reason = error instanceof ApiError && error.errorInfo ? error.errorInfo.reason : codeName(code);
      this.countDenial(reason);
    }
  }

  /** Counts a denial on a surface outside the method table: the server hands this to them as their CountDenial (src/auth/denials.ts). */
  readonly countDenial = (reason: string): void => this.denials.inc({ reason });

  operationEnded(verb: string, code: Code, seconds: number): void {
    this.operationSeconds.observe({ verb, outcome: codeName(code) }, seconds);
    this.operations.inc({ state: code === Code.CANCELLED ? 'cancelled' : 'done' });
  }

  /** The `onCommit` hook of a store on `backend`. */
  commitObserver(backend: StoreBackend): (seconds: number) => void {
    return (seconds) => this.commitSeconds.observe({ backend }, seconds);
  }

  /** Where `devconnect_operations{state="running"}` is read from at each scrape (the engine, made after this). */
  countRunningOperations(running: () => number): void {
    this.running = running;
  }

  /**
   * The Prometheus text exposition of every metric. prom-client 15 writes a NaN value as `Nan`
   * (the event loop lag's mean before its first sample); the format spells it `NaN`, which strict
   * parsers require.
   */
  async text(): Promise<string> {
    return (await this.registry.metrics()).replace(/ Nan$/gm, ' NaN');
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
