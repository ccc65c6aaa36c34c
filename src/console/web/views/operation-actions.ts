import { html, nothing, type TemplateResult } from 'lit-html';
import type { Operation } from '../api.js';
import { idOf } from '../format.js';
import { asFailure, confirmDialog, type Ctx } from './common.js';

const CANCEL = 'developerconnect.operations.cancel';
const DELETE = 'developerconnect.operations.delete';

/**
 * Cancel and Delete on an operation, shown only to a caller who holds the permission (the server
 * checks it again on the call: hiding a button is a courtesy, not the control).
 */
export class OperationActions {
  private permitted: ReadonlySet<string> = new Set();
  /** Operations with a call in flight: their buttons are disabled meanwhile. */
  private readonly busy = new Set<string>();
  error: string | undefined;

  constructor(
    private readonly ctx: Ctx,
    project: string,
    private readonly changed: () => void,
  ) {
    ctx.permissions(project).then(
      (permitted) => {
        this.permitted = permitted;
        ctx.update();
      },
      () => undefined,
    );
  }

  buttons(op: Operation): TemplateResult | typeof nothing {
    const canCancel = !op.done && this.permitted.has(CANCEL) && !op.metadata?.requestedCancellation;
    const canDelete = this.permitted.has(DELETE);
    if (!canCancel && !canDelete) return nothing;
    const busy = this.busy.has(op.name);
    const id = idOf(op.name);
    return html`${canCancel
      ? html`<button type="button" class="danger" ?disabled=${busy} aria-label=${`Cancel ${id}`} @click=${() => void this.cancel(op)}>Cancel</button>`
      : nothing}${canDelete
      ? html`<button type="button" ?disabled=${busy} aria-label=${`Delete ${id}`} @click=${() => void this.delete(op)}>Delete</button>`
      : nothing}`;
  }

  /** The last action's failure, until dismissed. */
  errorView(): TemplateResult | typeof nothing {
    if (this.error === undefined) return nothing;
    return html`<div class="error" role="alert">
      <p>${this.error}</p>
      <button type="button" @click=${() => {
        this.error = undefined;
        this.ctx.update();
      }}>Dismiss</button>
    </div>`;
  }

  async cancel(op: Operation): Promise<boolean> {
    const ok = await confirmDialog({
      title: 'Cancel this operation?',
      message: `${op.metadata?.verb ?? 'The operation'} of ${op.metadata?.target ?? op.name} stops and ends CANCELLED; what it had not committed is not applied.`,
      confirm: 'Cancel operation',
      back: 'Keep running',
    });
    if (!ok) return false;
    return this.run(op, 'Cancellation requested', () => this.ctx.api.post(`/v1/${op.name}:cancel`, {}));
  }

  async delete(op: Operation): Promise<boolean> {
    const ok = await confirmDialog({
      title: 'Delete this operation record?',
      message: `The record of ${op.name} is forgotten.${op.done ? '' : ' Deleting does not stop the work: cancel it for that.'}`,
      confirm: 'Delete record',
    });
    if (!ok) return false;
    return this.run(op, 'Operation record deleted', () => this.ctx.api.delete(`/v1/${op.name}`));
  }

  private async run(op: Operation, done: string, call: () => Promise<unknown>): Promise<boolean> {
    this.busy.add(op.name);
    this.error = undefined;
    this.ctx.update();
    try {
      await call();
      this.ctx.announce(`${done}: ${idOf(op.name)}`);
      return true;
    } catch (error) {
      const failure = asFailure(error);
      this.error = `${failure.status}: ${failure.message}`;
      this.ctx.announce(this.error);
      return false;
    } finally {
      this.busy.delete(op.name);
      this.changed();
      this.ctx.update();
    }
  }
}
