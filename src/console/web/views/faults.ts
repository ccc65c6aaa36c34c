import { html, nothing, type TemplateResult } from 'lit-html';
import { isObject, type ApiFailure } from '../api.js';
import { paths } from '../routes.js';
import { asFailure, confirmDialog, errorBox, Loader, type Ctx, type Page } from './common.js';

/** A rule as `/emulator/v1/faults` answers it: the fields as posted, with its id and fired count. */
interface FaultRule {
  id: string;
  fired?: number;
  method?: string;
  resource?: string;
  operation?: { verb?: string; target?: string };
  [field: string]: unknown;
}

const FAULTS = '/emulator/v1/faults';
const EXAMPLE = '{"method": "GetConnection", "times": 1, "error": {"code": "UNAVAILABLE", "message": "The service is restarting."}}';

/**
 * The server's fault rules (README "Fault injection"), through its public REST API. Only an owner of
 * the root policy may read or change them: anyone else gets the server's 403 and no controls.
 */
export class FaultsPage implements Page {
  readonly title = 'Fault rules';
  private readonly rules: Loader<FaultRule[]>;
  private saving = false;
  private failure: ApiFailure | undefined;

  constructor(
    private readonly ctx: Ctx,
    private readonly back: { project: string; location: string } | undefined,
  ) {
    this.rules = new Loader(async () => (await ctx.api.get<{ faults?: FaultRule[] }>(FAULTS)).faults ?? [], ctx.update);
    void this.rules.load();
  }

  view(): TemplateResult {
    const rules = this.rules.data;
    return html`${this.back ? html`<p><a href=${paths.operations(this.back.project, this.back.location)}>← Operations</a></p>` : nothing}
      <h1>Fault rules</h1>
      <p>Rules make this server delay or fail chosen calls and change how chosen operations run, for every caller, until removed or
        the server restarts. With several nodes, each node has its own rules: these are the ones of the node that answered.</p>
      ${this.rules.status('the fault rules')}
      ${rules
        ? html`<p><button type="button" @click=${() => void this.rules.load()} ?disabled=${this.rules.loading}>Reload</button></p>
            ${this.failure ? errorBox(this.failure) : nothing} ${this.table(rules)} ${this.addForm()}`
        : nothing}`;
  }

  private table(rules: FaultRule[]): TemplateResult {
    if (rules.length === 0) return html`<p class="empty">No fault rules: every call and operation runs as usual.</p>`;
    return html`<table class="stack faults">
        <thead><tr><th>Id</th><th>Matches</th><th>Effect</th><th>Fired</th><th>Actions</th></tr></thead>
        <tbody>
          ${rules.map(
            (r) => html`<tr data-id=${r.id}>
              <td data-label="Id" class="mono">${r.id}</td>
              <td data-label="Matches" class="mono">${matches(r)}</td>
              <td data-label="Effect" class="mono">${JSON.stringify(effect(r))}</td>
              <td data-label="Fired" class="fired">${String(r.fired ?? 0)}</td>
              <td class="actions" data-label="Actions">
                <button type="button" class="danger" ?disabled=${this.saving} aria-label=${`Remove rule ${r.id}`} @click=${() => void this.remove(r.id)}>Remove</button>
              </td>
            </tr>`,
          )}
        </tbody>
      </table>
      <p><button type="button" class="danger" ?disabled=${this.saving} @click=${() => void this.clear()}>Remove all</button></p>`;
  }

  private addForm(): TemplateResult {
    return html`<h2>Add a rule</h2>
      <form @submit=${(e: SubmitEvent) => void this.add(e)}>
        <label for="fault-rule">Rule (JSON, one rule; the server checks it)</label>
        <textarea id="fault-rule" name="rule" required spellcheck="false" autocomplete="off" placeholder=${EXAMPLE}></textarea>
        <p><button class="primary" type="submit" ?disabled=${this.saving}>Add rule</button></p>
      </form>`;
  }

  private async add(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const text = String(new FormData(form).get('rule') ?? '');
    let rule: unknown;
    try {
      rule = JSON.parse(text);
    } catch (error) {
      this.failure = asFailure(new Error(`The rule is not JSON: ${error instanceof Error ? error.message : String(error)}`));
      this.ctx.update();
      return;
    }
    const added = await this.change(() => this.ctx.api.post<FaultRule>(FAULTS, rule));
    if (added) {
      form.reset();
      this.ctx.announce(`Rule ${added.id} added`);
    }
  }

  private async remove(id: string): Promise<void> {
    const ok = await confirmDialog({ title: 'Remove this rule?', message: `Rule ${id} stops acting on calls and operations.`, confirm: 'Remove' });
    if (ok && (await this.change(() => this.ctx.api.delete(`${FAULTS}/${encodeURIComponent(id)}`)))) this.ctx.announce(`Rule ${id} removed`);
  }

  private async clear(): Promise<void> {
    const ok = await confirmDialog({ title: 'Remove every rule?', message: 'Every fault rule of this server is removed.', confirm: 'Remove all' });
    if (ok && (await this.change(() => this.ctx.api.delete(FAULTS)))) this.ctx.announce('Every rule removed');
  }

  /** Makes one call; shows its refusal (a 400 naming the wrong fields, a 403) and reads the list again either way. */
  private async change<T>(call: () => Promise<T>): Promise<T | undefined> {
    this.saving = true;
    this.failure = undefined;
    this.ctx.update();
    try {
      return await call();
    } catch (error) {
      this.failure = asFailure(error);
      return undefined;
    } finally {
      this.saving = false;
      await this.rules.load();
    }
  }
}

function matches(rule: FaultRule): string {
  if (isObject(rule.operation)) {
    const verb = typeof rule.operation.verb === 'string' ? rule.operation.verb : '*';
    return `operation ${verb}${typeof rule.operation.target === 'string' ? ` on ${rule.operation.target}` : ''}`;
  }
  return `${rule.method ?? '*'}${typeof rule.resource === 'string' ? ` on ${rule.resource}` : ''}`;
}

/** What the rule does: the rule without what `matches` shows. */
function effect(rule: FaultRule): Record<string, unknown> {
  const rest: Record<string, unknown> = { ...rule };
  for (const key of ['id', 'fired', 'method', 'resource', 'operation']) delete rest[key];
  return rest;
}
