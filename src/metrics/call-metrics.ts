import type { DescMethod } from '@bufbuild/protobuf';
import { Counter, type Metric, type Registry } from 'prom-client';
import { Code } from '../common/errors.js';
import type { Transport } from '../transport/call-observer.js';

/** One method over one transport: its calls by code, and the histogram of their durations. */
interface CallSeries {
  /** `service`, `method`, `transport`: the histogram's labels, one object shared by every value published. */
  readonly labels: Record<string, string>;
  /** Calls by google.rpc code, indexed by the code; a counter series made at the first call with that code. */
  readonly byCode: (Tally | undefined)[];
  /** Calls per bucket (not cumulative), as prom-client keeps them: a duration past every bound is in none. */
  readonly buckets: number[];
  sum: number;
  count: number;
}

interface Tally {
  readonly labels: Record<string, string>;
  value: number;
}

/**
 * `devconnect_rpc_requests_total` and `devconnect_rpc_duration_seconds`, counted on every call:
 * in plain fields of a series found by the method, and handed to prom-client when it is scraped.
 * prom-client's inc() and observe() join and validate the label values of every call to find its
 * series, which cost a cached GetOperation about 5% of its time (#8).
 *
 * A scrape reads what prom-client's own metrics would hold: the counter is a prom-client Counter,
 * refilled from the tallies by its `collect`; the histogram gives the registry the values a
 * prom-client Histogram gives it, in the same order (series by their first call), so the text is
 * the same to the byte (test/metrics/call-metrics.test.ts holds it equal to prom-client's).
 */
export class CallMetrics {
  private readonly series = { grpc: new Map<DescMethod, CallSeries>(), rest: new Map<DescMethod, CallSeries>() };
  /** In the order of their first call, as prom-client lists its series. */
  private readonly counted: Tally[] = [];
  private readonly timed: CallSeries[] = [];

  constructor(
    registry: Registry,
    requests: { name: string; help: string },
    private readonly durations: { name: string; help: string; buckets: readonly number[] },
  ) {
    const counter: Counter = new Counter({
      ...requests,
      labelNames: ['service', 'method', 'code', 'transport'] as const,
      registers: [registry],
      collect: () => {
        counter.reset();
        for (const { labels, value } of this.counted) counter.inc(labels, value);
      },
    });
    // The registry reads a metric only through these members (the server never calls its resetMetrics()).
    const family = { name: durations.name, help: durations.help, type: 'histogram', aggregator: 'sum' };
    const histogram = {
      ...family,
      getForPromString: async () => ({ ...family, values: this.histogramValues() }),
      get: async () => ({ ...family, values: this.histogramValues().map(({ labels, sharedLabels, ...value }) => ({ ...value, labels: { ...labels, ...sharedLabels } })) }),
    };
    registry.registerMetric(histogram as unknown as Metric);
  }

  ended(method: DescMethod, transport: Transport, code: Code, seconds: number): void {
    const series = this.series[transport].get(method) ?? this.newSeries(method, transport);
    const tally = series.byCode[code] ?? this.newTally(series, method, transport, code);
    tally.value++;
    const { buckets } = series;
    const bounds = this.durations.buckets;
    for (let i = 0; i < bounds.length; i++) {
      if (seconds <= (bounds[i] as number)) {
        (buckets[i] as number)++;
        break;
      }
    }
    series.sum += seconds;
    series.count++;
  }

  private newSeries(method: DescMethod, transport: Transport): CallSeries {
    const series: CallSeries = {
      labels: { service: method.parent.typeName, method: method.name, transport },
      byCode: [],
      buckets: this.durations.buckets.map(() => 0),
      sum: 0,
      count: 0,
    };
    this.series[transport].set(method, series);
    this.timed.push(series);
    return series;
  }

  private newTally(series: CallSeries, method: DescMethod, transport: Transport, code: Code): Tally {
    const tally = { labels: { service: method.parent.typeName, method: method.name, code: codeName(code), transport }, value: 0 };
    series.byCode[code] = tally;
    this.counted.push(tally);
    return tally;
  }

  /** What prom-client's Histogram.getForPromString() lists: each series' cumulative buckets, +Inf, _sum and _count. */
  private histogramValues() {
    const { name, buckets: bounds } = this.durations;
    return this.timed.flatMap((series) => {
      let cumulative = 0;
      const sharedLabels = series.labels;
      return [
        ...bounds.map((le, i) => {
          cumulative += series.buckets[i] as number;
          return { labels: { le } as Record<string, string | number>, sharedLabels, value: cumulative, metricName: `${name}_bucket`, exemplar: null };
        }),
        { labels: { le: '+Inf' }, sharedLabels, value: series.count, metricName: `${name}_bucket`, exemplar: null },
        { labels: {}, sharedLabels, value: series.sum, metricName: `${name}_sum`, exemplar: undefined },
        { labels: {}, sharedLabels, value: series.count, metricName: `${name}_count`, exemplar: undefined },
      ];
    });
  }
}

/** google.rpc.Code's name (`NOT_FOUND`), as google/rpc/code.proto spells it. */
export function codeName(code: Code): string {
  return Code[code] ?? String(code);
}
