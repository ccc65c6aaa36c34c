import { html, nothing, type TemplateResult } from 'lit-html';
import type { Operation } from '../api.js';
import { codeName, duration, millis, prettyJson, when } from '../format.js';
import { paths } from '../routes.js';
import { Loader, outcome, target, type Ctx, type Page } from './common.js';
import { OperationActions } from './operation-actions.js';

/** One operation: its metadata, its response or error with details, and the raw JSON; live. */
export class OperationPage implements Page {
  readonly title: string;
  private readonly name: string;
  private readonly op: Loader<Operation>;
  private readonly actions: OperationActions;
  private readonly unsubscribe: () => void;
  private readonly ticker: number;
  private deleted = false;

  constructor(
    private readonly ctx: Ctx,
    private readonly project: string,
    private readonly location: string,
    id: string,
  ) {
    const parent = `projects/${project}/locations/${location}`;
    this.name = `${parent}/operations/${id}`;
    this.title = `Operation ${id}`;
    this.op = new Loader(() => ctx.api.get<Operation>(`/v1/${this.name}`), ctx.update);
    this.actions = new OperationActions(ctx, project, () => void this.op.load());
    this.unsubscribe = ctx.live.subscribe(parent, {
      change: (event) => {
        if (event.name !== this.name) return;
        if (event.kind === 'deleted') {
          this.deleted = true;
          ctx.update();
        } else void this.op.load();
      },
      resync: () => void this.op.load(),
      state: () => undefined,
    });
    this.ticker = window.setInterval(() => {
      if (this.op.data && !this.op.data.done) ctx.update();
    }, 1000);
    void this.op.load();
  }

  dispose(): void {
    this.unsubscribe();
    window.clearInterval(this.ticker);
  }

  view(): TemplateResult {
    const op = this.op.data;
    return html`<p><a href=${paths.operations(this.project, this.location)}>← Operations</a></p>
      <h1>Operation <span class="mono">${this.name.slice(this.name.lastIndexOf('/') + 1)}</span></h1>
      ${this.deleted ? html`<p class="notice" role="status">This operation's record has been deleted.</p>` : nothing}
      ${this.actions.errorView()} ${this.op.status('the operation')} ${op ? this.details(op) : nothing}`;
  }

  private details(op: Operation): TemplateResult {
    const meta = op.metadata ?? {};
    const start = millis(meta.createTime);
    const end = op.done ? millis(meta.endTime) : Date.now();
    return html`<div class="toolbar" data-name=${op.name}>${outcome(op)} ${this.actions.buttons(op)}</div>
      <h2>Metadata</h2>
      <dl class="fields">
        <dt>Name</dt><dd class="mono">${op.name}</dd>
        <dt>Verb</dt><dd>${meta.verb ?? '—'}</dd>
        <dt>Target</dt><dd>${target(op) || '—'}</dd>
        <dt>Started</dt><dd>${when(meta.createTime)}</dd>
        <dt>Ended</dt><dd>${op.done ? when(meta.endTime) : 'still running'}</dd>
        <dt>${op.done ? 'Took' : 'Running for'}</dt><dd>${start !== undefined && end !== undefined ? duration(end - start) : '—'}</dd>
        <dt>Status message</dt><dd>${meta.statusMessage || '—'}</dd>
        <dt>Cancellation requested</dt><dd>${meta.requestedCancellation ? 'yes' : 'no'}</dd>
        <dt>API version</dt><dd>${meta.apiVersion ?? '—'}</dd>
      </dl>
      ${op.error
        ? html`<h2>Error</h2>
            <dl class="fields">
              <dt>Code</dt><dd>${codeName(op.error.code)} (${op.error.code ?? 0})</dd>
              <dt>Message</dt><dd>${op.error.message ?? ''}</dd>
            </dl>
            ${(op.error.details ?? []).length > 0
              ? html`<h3>Details</h3>${(op.error.details ?? []).map((d) => html`<pre>${prettyJson(d)}</pre>`)}`
              : nothing}`
        : nothing}
      ${op.response ? html`<h2>Response</h2><pre>${prettyJson(op.response)}</pre>` : nothing}
      <h2>Raw JSON</h2>
      <pre>${prettyJson(op)}</pre>`;
  }
}
