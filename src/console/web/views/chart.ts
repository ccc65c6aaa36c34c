import { html, nothing, svg, type SVGTemplateResult, type TemplateResult } from 'lit-html';
import type { Operation } from '../api.js';
import { duration, millis } from '../format.js';
import { Loader, type Ctx } from './common.js';

const MINUTES = 60;
/** ListOperations' largest page: the chart reads one page, newest first. */
const SAMPLE = 1000;
/** Live events redraw the chart at most this often; the window also slides this often. */
const REDRAW_MS = 5_000;
const WIDTH = 600;
const HEIGHT = 80;

interface Minute {
  started: number;
  failed: number;
  durations: number[];
}

/**
 * Operations started per minute and their durations over the last hour. Drawn from ListOperations
 * (one page of the newest 1,000, as the caller), not from /metrics: /metrics holds counters and
 * histograms since this node started, without a time series, is served on the API port only under
 * `--auth none`, and would count only this node's operations, where a list sees every node's.
 */
export class OperationsChart {
  private readonly sample: Loader<Operation[]>;
  private timer: number | undefined;
  private readonly slide: number;
  private lastLoad = 0;

  constructor(ctx: Ctx, parent: string) {
    this.sample = new Loader(async () => {
      this.lastLoad = Date.now();
      const page = await ctx.api.get<{ operations?: Operation[] }>(`/v1/${parent}/operations?pageSize=${SAMPLE}`);
      return page.operations ?? [];
    }, ctx.update);
    void this.sample.load();
    this.slide = window.setInterval(() => void this.sample.load(), 30_000);
  }

  dispose(): void {
    window.clearInterval(this.slide);
    window.clearTimeout(this.timer);
  }

  /** Reads again soon, at most once per REDRAW_MS however many events arrive. */
  refreshSoon(): void {
    if (this.timer !== undefined) return;
    const wait = Math.max(0, this.lastLoad + REDRAW_MS - Date.now());
    this.timer = window.setTimeout(() => {
      this.timer = undefined;
      void this.sample.load();
    }, wait);
  }

  view(): TemplateResult {
    const ops = this.sample.data;
    if (ops === undefined) return html`<figure class="chart">${this.sample.status('the chart') ?? nothing}</figure>`;
    const now = Date.now();
    const minutes = bucket(ops, now);
    const all = minutes.flatMap((m) => m.durations);
    const started = minutes.reduce((n, m) => n + m.started, 0);
    const failed = minutes.reduce((n, m) => n + m.failed, 0);
    const truncated = ops.length === SAMPLE && (millis(ops[ops.length - 1]?.metadata?.createTime) ?? 0) > now - MINUTES * 60_000;
    const medians = minutes.map((m) => median(m.durations));
    const longest = all.length === 0 ? 0 : Math.max(...all);
    const summary = `${started} operation${started === 1 ? '' : 's'} started in the last hour${truncated ? ' (the newest 1,000 only)' : ''}, ${failed} failed; median duration ${all.length === 0 ? '—' : duration(median(all))}, longest ${all.length === 0 ? '—' : duration(longest)}.`;
    return html`<figure class="chart" aria-label="Operations over the last hour">
      <div class="charts">
        <div>
          <h3>Started per minute</h3>
          <svg viewBox="0 0 ${WIDTH} ${HEIGHT}" preserveAspectRatio="none" role="img" aria-label="Operations started per minute over the last hour; failed ones in red">
            ${countBars(minutes)} ${axis()}
          </svg>
        </div>
        <div>
          <h3>Median duration per minute (top: ${duration(Math.max(0, ...medians))})</h3>
          <svg viewBox="0 0 ${WIDTH} ${HEIGHT}" preserveAspectRatio="none" role="img" aria-label="Median operation duration per minute over the last hour">
            ${durationBars(medians)} ${axis()}
          </svg>
        </div>
      </div>
      <figcaption>${summary} From ListOperations; 60 min ago on the left, now on the right.</figcaption>
    </figure>`;
  }
}

function bucket(ops: readonly Operation[], now: number): Minute[] {
  const minutes: Minute[] = Array.from({ length: MINUTES }, () => ({ started: 0, failed: 0, durations: [] }));
  for (const op of ops) {
    const start = millis(op.metadata?.createTime);
    if (start === undefined) continue;
    const age = Math.floor((now - start) / 60_000);
    const minute = minutes[MINUTES - 1 - age];
    if (age < 0 || minute === undefined) continue;
    minute.started++;
    if (op.done && op.error) minute.failed++;
    const end = millis(op.metadata?.endTime);
    if (op.done && end !== undefined) minute.durations.push(end - start);
  }
  return minutes;
}

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

const SLOT = WIDTH / MINUTES;
const TOP = 4;
const BOTTOM = HEIGHT - 2;

function countBars(minutes: readonly Minute[]): SVGTemplateResult[] {
  const max = Math.max(1, ...minutes.map((m) => m.started));
  return minutes.flatMap((m, i) => {
    if (m.started === 0) return [];
    const h = ((BOTTOM - TOP) * m.started) / max;
    const f = ((BOTTOM - TOP) * m.failed) / max;
    return [
      svg`<rect class="bar" x=${i * SLOT + 1} y=${BOTTOM - h} width=${SLOT - 2} height=${h}><title>${m.started} started, ${m.failed} failed, ${MINUTES - 1 - i} min ago</title></rect>`,
      ...(m.failed > 0 ? [svg`<rect class="bar failed" x=${i * SLOT + 1} y=${BOTTOM - f} width=${SLOT - 2} height=${f}></rect>`] : []),
    ];
  });
}

function durationBars(medians: readonly number[]): SVGTemplateResult[] {
  const max = Math.max(1, ...medians);
  return medians.flatMap((d, i) => {
    if (d <= 0) return [];
    const h = Math.max(1, ((BOTTOM - TOP) * d) / max);
    return [svg`<rect class="bar duration" x=${i * SLOT + 1} y=${BOTTOM - h} width=${SLOT - 2} height=${h}><title>median ${duration(d)}, ${MINUTES - 1 - i} min ago</title></rect>`];
  });
}

function axis(): SVGTemplateResult {
  return svg`<line class="axis" x1="0" y1=${BOTTOM} x2=${WIDTH} y2=${BOTTOM}></line>`;
}
