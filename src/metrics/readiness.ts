/** Whether the server should be sent traffic, and if not, why (said in the answer of `/readyz`). */
export type Verdict = { ready: true } | { ready: false; reason: string };

export interface ReadinessOptions {
  /** A cheap read that needs the store; it fails or hangs while the store is unreachable. */
  probe: () => Promise<unknown>;
  /** Called with every change of verdict: gRPC health follows it. */
  onChange: (ready: boolean) => void;
  /** How long the probe may take before the store counts as unreachable. Default 1 s (a Kubernetes probe's default timeout). */
  timeoutMs?: number;
  /** How often the store is probed when nobody asks (`/readyz` asks at once), so that gRPC health does not lag. Default 2 s. */
  intervalMs?: number;
}

/**
 * Readiness: not ready while the store cannot be reached, or once the server is shutting down.
 * One probe runs at a time; callers that ask meanwhile share its verdict.
 */
export class Readiness {
  private verdict: Verdict = { ready: true };
  private probing: Promise<Verdict> | undefined;
  private shuttingDown = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly timeoutMs: number;

  constructor(private readonly options: ReadinessOptions) {
    this.timeoutMs = options.timeoutMs ?? 1_000;
  }

  /** Starts probing every interval. */
  start(): void {
    this.timer = setInterval(() => void this.check(), this.options.intervalMs ?? 2_000);
    this.timer.unref();
  }

  /** Probes the store now (or joins the probe under way) and returns the verdict. */
  check(): Promise<Verdict> {
    if (this.shuttingDown) return Promise.resolve(this.verdict);
    this.probing ??= this.probe().then((verdict) => {
      this.probing = undefined;
      // A probe that ends after the shutdown began does not undo it.
      if (!this.shuttingDown) this.settle(verdict);
      return this.verdict;
    });
    return this.probing;
  }

  /** From now on, not ready: the server is going away. */
  shutdown(): void {
    clearInterval(this.timer);
    this.shuttingDown = true;
    this.settle({ ready: false, reason: 'the server is shutting down' });
  }

  private async probe(): Promise<Verdict> {
    let timeout: NodeJS.Timeout | undefined;
    const late = new Promise<Verdict>((resolve) => {
      timeout = setTimeout(() => resolve({ ready: false, reason: `the store did not answer within ${this.timeoutMs} ms` }), this.timeoutMs);
    });
    const answered = this.options.probe().then(
      (): Verdict => ({ ready: true }),
      (error: unknown): Verdict => ({ ready: false, reason: `the store is unreachable: ${error instanceof Error ? error.message : String(error)}` }),
    );
    try {
      return await Promise.race([answered, late]);
    } finally {
      clearTimeout(timeout);
    }
  }

  private settle(verdict: Verdict): void {
    const changed = verdict.ready !== this.verdict.ready;
    this.verdict = verdict;
    if (changed) this.options.onChange(verdict.ready);
  }
}
