import { html, nothing, type TemplateResult } from 'lit-html';
import { ApiFailure, type Api, type Operation, type SessionInfo } from '../api.js';
import { codeName } from '../format.js';
import type { LiveOperations } from '../live.js';
import { paths } from '../routes.js';

/** What a page may use of the app. */
export interface Ctx {
  readonly api: Api;
  readonly session: SessionInfo;
  readonly live: LiveOperations;
  /** Renders again (batched to one frame). */
  update(): void;
  navigate(href: string, replace?: boolean): void;
  /** The permissions the caller holds on a project, of those the console's buttons need (testIamPermissions). */
  permissions(project: string): Promise<ReadonlySet<string>>;
  /** Says something to screen readers (an aria-live region). */
  announce(text: string): void;
}

export interface Page {
  readonly title: string;
  view(): TemplateResult;
  /** Called when the page is left: stop timers and streams. */
  dispose?(): void;
}

export function asFailure(error: unknown): ApiFailure {
  if (error instanceof ApiFailure) return error;
  return new ApiFailure(0, 'UNKNOWN', error instanceof Error ? error.message : String(error));
}

/**
 * One thing a page loads, with its loading and error states. Answers to older loads are dropped, so
 * a slow answer never overwrites a newer one.
 */
export class Loader<T> {
  data: T | undefined;
  error: ApiFailure | undefined;
  loading = false;
  private seq = 0;

  constructor(
    private readonly fetcher: () => Promise<T>,
    private readonly update: () => void,
  ) {}

  async load(): Promise<void> {
    const n = ++this.seq;
    this.loading = true;
    this.update();
    try {
      const data = await this.fetcher();
      if (n !== this.seq) return;
      this.data = data;
      this.error = undefined;
    } catch (error) {
      if (n !== this.seq) return;
      this.error = asFailure(error);
    } finally {
      if (n === this.seq) {
        this.loading = false;
        this.update();
      }
    }
  }

  /** The loading line on a first load, or the error with a Retry button; nothing once data is shown. */
  status(what: string): TemplateResult | typeof nothing {
    if (this.error) return errorBox(this.error, () => void this.load());
    if (this.loading && this.data === undefined) return html`<p class="loading" role="status">Loading ${what}…</p>`;
    return nothing;
  }
}

export function errorBox(error: ApiFailure, retry?: () => void): TemplateResult {
  return html`<div class="error" role="alert">
    <p><strong>${error.status}</strong>${error.httpStatus > 0 ? html` (HTTP ${error.httpStatus})` : nothing}: ${error.message}</p>
    ${retry ? html`<button type="button" @click=${retry}>Retry</button>` : nothing}
  </div>`;
}

/** Running, succeeded, or the error's code name and message. */
export function outcome(op: Operation): TemplateResult {
  if (!op.done) {
    return op.metadata?.requestedCancellation
      ? html`<span class="badge warn">Cancelling</span>`
      : html`<span class="badge run">Running</span>`;
  }
  if (op.error) {
    return html`<span class="badge bad">${codeName(op.error.code)}</span><span class="outcome-message">${op.error.message ?? ''}</span>`;
  }
  return html`<span class="badge ok">Succeeded</span>`;
}

/**
 * An operation's target, linked to its page when the resource should exist: after a create or
 * update that succeeded. A running, failed or delete operation's target is shown as text.
 */
export function target(op: Operation): TemplateResult | string {
  const name = op.metadata?.target ?? '';
  const page = paths.ofName(name);
  const exists = op.done && !op.error && op.metadata?.verb !== 'delete';
  return page && exists ? html`<a href=${page}>${name}</a>` : name;
}

/** A modal confirmation, built with textContent only. Resolves true when confirmed; Escape or Back is false. */
export function confirmDialog(options: { title: string; message: string; confirm: string; back?: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const dialog = document.createElement('dialog');
    const heading = document.createElement('h2');
    heading.id = 'confirm-title';
    heading.textContent = options.title;
    const message = document.createElement('p');
    message.textContent = options.message;
    const buttons = document.createElement('div');
    buttons.className = 'buttons';
    const back = document.createElement('button');
    back.type = 'button';
    back.textContent = options.back ?? 'Back';
    back.addEventListener('click', () => dialog.close('back'));
    const ok = document.createElement('button');
    ok.type = 'button';
    ok.className = 'danger solid';
    ok.textContent = options.confirm;
    ok.addEventListener('click', () => dialog.close('ok'));
    buttons.append(back, ok);
    dialog.setAttribute('aria-labelledby', heading.id);
    dialog.append(heading, message, buttons);
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok');
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    // The safe choice has the focus: Enter on a reflex does not destroy anything.
    back.focus();
  });
}

/** A page for a URL the console does not know. */
export class NotFoundPage implements Page {
  readonly title = 'Not found';
  constructor(private readonly path: string) {}
  view(): TemplateResult {
    return html`<h1>Not found</h1>
      <p>The console has no page at <code>${this.path}</code>.</p>
      <p><a href="/console/">Choose a project and location</a></p>`;
  }
}
