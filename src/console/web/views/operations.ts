import { html, nothing, type TemplateResult } from 'lit-html';
import { repeat } from 'lit-html/directives/repeat.js';
import type { Operation } from '../api.js';
import { duration, idOf, millis, when } from '../format.js';
import { paths } from '../routes.js';
import { OperationsChart } from './chart.js';
import { Loader, outcome, target, type Ctx, type Page } from './common.js';
import { OperationActions } from './operation-actions.js';

const PAGE_SIZE = 25;
/** Events are gathered this long before the list is read again: a burst of changes is one read. */
const REFRESH_DELAY_MS = 200;
const STATUSES = ['all', 'running', 'done', 'failed'] as const;
type Status = (typeof STATUSES)[number];
const VERBS = ['', 'create', 'update', 'delete'];

interface ListOperationsResponse {
  operations?: Operation[];
  nextPageToken?: string;
}

/** The filters of the page, as they are in its URL. */
export interface OperationFilters {
  status: Status;
  verb: string;
  target: string;
  /** Free AIP-160 text, ANDed with the rest. */
  text: string;
}

/** The AIP-160 filter ListOperations is sent for the page's filters. */
export function composeFilter(f: OperationFilters): string {
  const parts: string[] = [];
  if (f.status === 'running') parts.push('done = false');
  if (f.status === 'done') parts.push('done = true');
  // A failed operation is done with an error code; a succeeded one has no error, and the server's
  // `error.code != 0` matches it too (a missing field is not 0), so the test is `> 0`.
  if (f.status === 'failed') parts.push('done = true AND error.code > 0');
  if (f.verb !== '') parts.push(`metadata.verb = ${quote(f.verb)}`);
  if (f.target !== '') parts.push(`metadata.target = ${quote(f.target)}`);
  if (f.text.trim() !== '') parts.push(`(${f.text.trim()})`);
  return parts.join(' AND ');
}

function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function filtersOf(query: URLSearchParams): OperationFilters {
  const status = query.get('status') ?? 'all';
  return {
    status: (STATUSES as readonly string[]).includes(status) ? (status as Status) : 'all',
    verb: query.get('verb') ?? '',
    target: query.get('target') ?? '',
    text: query.get('filter') ?? '',
  };
}

/** The operations of one location, newest first, filtered and paged, kept live by the event stream. */
export class OperationsPage implements Page {
  readonly title: string;
  private readonly parent: string;
  private readonly filters: OperationFilters;
  private readonly filter: string;
  /** The tokens of the pages before the one shown ('' is the first), for Previous. */
  private readonly tokens: string[] = [];
  private token = '';
  private readonly list: Loader<ListOperationsResponse>;
  private readonly chart: OperationsChart;
  private readonly actions: OperationActions;
  private refreshTimer: number | undefined;
  private readonly ticker: number;
  private readonly unsubscribe: () => void;
  private connected = false;

  constructor(
    private readonly ctx: Ctx,
    private readonly project: string,
    private readonly location: string,
    query: URLSearchParams,
  ) {
    this.parent = `projects/${project}/locations/${location}`;
    this.title = `Operations · ${project}/${location}`;
    this.filters = filtersOf(query);
    this.filter = composeFilter(this.filters);
    this.list = new Loader(
      () =>
        ctx.api.get<ListOperationsResponse>(
          `/v1/${this.parent}/operations?pageSize=${PAGE_SIZE}&filter=${encodeURIComponent(this.filter)}&pageToken=${encodeURIComponent(this.token)}`,
        ),
      ctx.update,
    );
    this.chart = new OperationsChart(ctx, this.parent);
    this.actions = new OperationActions(ctx, project, () => this.refresh());
    this.unsubscribe = ctx.live.subscribe(this.parent, {
      change: () => this.refreshSoon(),
      resync: () => this.refresh(),
      state: (connected) => {
        this.connected = connected;
        ctx.update();
      },
    });
    // "Running for" grows while the page is open.
    this.ticker = window.setInterval(() => {
      if (this.list.data?.operations?.some((op) => !op.done)) ctx.update();
    }, 1000);
    void this.list.load();
  }

  dispose(): void {
    this.unsubscribe();
    this.chart.dispose();
    window.clearInterval(this.ticker);
    window.clearTimeout(this.refreshTimer);
  }

  private refresh(): void {
    void this.list.load();
    this.chart.refreshSoon();
  }

  private refreshSoon(): void {
    if (this.refreshTimer !== undefined) return;
    this.refreshTimer = window.setTimeout(() => {
      this.refreshTimer = undefined;
      this.refresh();
    }, REFRESH_DELAY_MS);
  }

  view(): TemplateResult {
    const ops = this.list.data?.operations ?? [];
    return html`<div class="toolbar">
        <h1>Operations</h1>
        <span class="live ${this.connected ? 'on' : 'off'}" role="status">${this.connected ? 'Live' : 'Connecting to live updates…'}</span>
      </div>
      ${this.chart.view()} ${this.filterForm()}
      <p class="sent-filter">${this.filter === '' ? 'All operations, newest first.' : html`Filter sent: <code>${this.filter}</code>`}</p>
      ${this.actions.errorView()} ${this.list.status('operations')}
      ${this.list.data && ops.length === 0 ? html`<p class="empty">No operations${this.filter === '' ? '' : ' match this filter'}.</p>` : nothing}
      ${ops.length > 0 ? this.table(ops) : nothing} ${this.pager()}`;
  }

  private filterForm(): TemplateResult {
    const f = this.filters;
    return html`<form class="filters" role="search" aria-label="Filter operations" @submit=${(e: SubmitEvent) => this.applyFilters(e)}>
      <label>Status
        <select name="status">
          ${STATUSES.map((s) => html`<option value=${s} ?selected=${f.status === s}>${s}</option>`)}
        </select>
      </label>
      <label>Verb
        <select name="verb">
          ${VERBS.map((v) => html`<option value=${v} ?selected=${f.verb === v}>${v === '' ? 'any' : v}</option>`)}
        </select>
      </label>
      <label class="wide">Target (a trailing * matches a prefix)
        <input name="target" .value=${f.target} placeholder="${this.parent}/connections/*" autocomplete="off">
      </label>
      <label class="wide">AIP-160 filter
        <input name="filter" .value=${f.text} placeholder="error.code = 1" autocomplete="off" spellcheck="false">
      </label>
      <button class="primary" type="submit">Apply</button>
      ${this.filter === '' ? nothing : html`<a class="button" href=${paths.operations(this.project, this.location)}>Clear</a>`}
    </form>`;
  }

  private applyFilters(event: SubmitEvent): void {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    const query = new URLSearchParams();
    for (const key of ['status', 'verb', 'target', 'filter']) {
      const value = form.get(key);
      if (typeof value === 'string' && value.trim() !== '' && !(key === 'status' && value === 'all')) query.set(key, value.trim());
    }
    this.ctx.navigate(paths.operations(this.project, this.location, query));
  }

  private table(ops: Operation[]): TemplateResult {
    const now = Date.now();
    return html`<table class="stack operations">
      <thead>
        <tr><th>Operation</th><th>Verb</th><th>Target</th><th>Started</th><th>Running for</th><th>Status message</th><th>Outcome</th><th>Actions</th></tr>
      </thead>
      <tbody>
        ${repeat(
          ops,
          (op) => op.name,
          (op) => {
            const meta = op.metadata ?? {};
            const start = millis(meta.createTime);
            const end = op.done ? (millis(meta.endTime) ?? now) : now;
            return html`<tr data-name=${op.name} class=${!op.done ? 'running' : op.error ? 'failed' : 'ok'}>
              <td class="name" data-label="Operation"><a href=${`/console/${op.name}`}>${idOf(op.name)}</a></td>
              <td data-label="Verb">${meta.verb ?? ''}</td>
              <td class="target" data-label="Target">${target(op)}</td>
              <td data-label="Started"><time datetime=${meta.createTime ?? ''}>${when(meta.createTime)}</time></td>
              <td data-label=${op.done ? 'Took' : 'Running for'}>${start === undefined ? '—' : duration(end - start)}</td>
              <td data-label="Status message">${meta.statusMessage ?? ''}</td>
              <td data-label="Outcome" class="outcome">${outcome(op)}</td>
              <td class="actions" data-label="Actions">${this.actions.buttons(op)}</td>
            </tr>`;
          },
        )}
      </tbody>
    </table>`;
  }

  private pager(): TemplateResult | typeof nothing {
    const next = this.list.data?.nextPageToken ?? '';
    if (this.tokens.length === 0 && next === '') return nothing;
    return html`<nav class="pager" aria-label="Pages">
      <button type="button" ?disabled=${this.tokens.length === 0} @click=${() => this.page(this.tokens.pop() ?? '')}>Previous</button>
      <span>Page ${this.tokens.length + 1}</span>
      <button type="button" ?disabled=${next === ''} @click=${() => {
        this.tokens.push(this.token);
        this.page(next);
      }}>Next</button>
    </nav>`;
  }

  private page(token: string): void {
    this.token = token;
    void this.list.load();
  }
}
