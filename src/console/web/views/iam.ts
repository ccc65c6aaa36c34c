import { html, nothing, type TemplateResult } from 'lit-html';
import type { ApiFailure } from '../api.js';
import { paths } from '../routes.js';
import { asFailure, confirmDialog, errorBox, Loader, type Ctx, type Page } from './common.js';

interface Binding {
  role: string;
  members: string[];
  condition?: unknown;
}

interface Policy {
  version?: number;
  etag?: string;
  bindings?: Binding[];
}

/** Roles offered in the form (any role name may be typed). */
const KNOWN_ROLES = [
  'roles/owner',
  'roles/editor',
  'roles/viewer',
  'roles/developerconnect.admin',
  'roles/developerconnect.user',
  'roles/developerconnect.viewer',
  'roles/developerconnect.readTokenAccessor',
  'roles/developerconnect.tokenAccessor',
  'roles/developerconnect.insightsAdmin',
  'roles/developerconnect.insightsViewer',
  'roles/developerconnect.oauthAdmin',
  'roles/developerconnect.oauthUser',
];
const SET_POLICY = 'resourcemanager.projects.setIamPolicy';

/**
 * A project's IAM policy, with add and remove binding, by Resource Manager's getIamPolicy and
 * setIamPolicy. Every change sends the etag it read: if the policy changed meanwhile, the server
 * refuses (ABORTED) and the page reads it again rather than overwrite someone else's change.
 */
export class IamPage implements Page {
  readonly title: string;
  private readonly policy: Loader<Policy>;
  private permitted: ReadonlySet<string> = new Set();
  private saving = false;
  private failure: ApiFailure | undefined;

  constructor(
    private readonly ctx: Ctx,
    private readonly project: string,
    private readonly location: string | undefined,
  ) {
    this.title = `IAM · ${project}`;
    this.policy = new Loader(() => ctx.api.post<Policy>(`/v1/projects/${project}:getIamPolicy`, { options: { requestedPolicyVersion: 3 } }), ctx.update);
    ctx.permissions(project).then(
      (p) => {
        this.permitted = p;
        ctx.update();
      },
      () => undefined,
    );
    void this.policy.load();
  }

  view(): TemplateResult {
    const policy = this.policy.data;
    const canSet = this.permitted.has(SET_POLICY);
    return html`${this.location ? html`<p><a href=${paths.operations(this.project, this.location)}>← Operations</a></p>` : nothing}
      <h1>IAM policy of ${this.project}</h1>
      <p>Bindings on the project apply to all its locations and resources. Changes use the policy's etag: a concurrent change is never overwritten.</p>
      ${this.failure ? errorBox(this.failure) : nothing} ${this.policy.status('the policy')}
      ${policy ? this.bindings(policy, canSet) : nothing} ${policy && canSet ? this.addForm() : nothing}
      ${policy && !canSet ? html`<p class="empty">You may read this policy but not change it (${SET_POLICY}).</p>` : nothing}`;
  }

  private bindings(policy: Policy, canSet: boolean): TemplateResult {
    const bindings = policy.bindings ?? [];
    if (bindings.length === 0) return html`<p class="empty">No bindings.</p>`;
    return html`<table class="stack iam">
      <thead><tr><th>Role</th><th>Member</th>${canSet ? html`<th>Actions</th>` : nothing}</tr></thead>
      <tbody>
        ${bindings.flatMap((b) =>
          b.members.map(
            (m) => html`<tr data-role=${b.role} data-member=${m}>
              <td data-label="Role" class="mono">${b.role}${b.condition ? ' (conditional)' : ''}</td>
              <td data-label="Member" class="mono">${m}</td>
              ${canSet
                ? html`<td class="actions" data-label="Actions">
                    <button type="button" class="danger" ?disabled=${this.saving} aria-label=${`Remove ${m} from ${b.role}`} @click=${() => void this.remove(b.role, m)}>Remove</button>
                  </td>`
                : nothing}
            </tr>`,
          ),
        )}
      </tbody>
    </table>`;
  }

  private addForm(): TemplateResult {
    return html`<h2>Add a binding</h2>
      <form class="filters" @submit=${(e: SubmitEvent) => void this.add(e)}>
        <label class="wide">Role <input name="role" required list="known-roles" placeholder="roles/developerconnect.viewer" autocomplete="off"></label>
        <datalist id="known-roles">${KNOWN_ROLES.map((r) => html`<option value=${r}></option>`)}</datalist>
        <label class="wide">Member <input name="member" required placeholder="user:alice@example.com" autocomplete="off" spellcheck="false"></label>
        <button class="primary" type="submit" ?disabled=${this.saving}>Add</button>
      </form>`;
  }

  private async add(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const data = new FormData(form);
    const role = String(data.get('role') ?? '').trim();
    const member = String(data.get('member') ?? '').trim();
    if (role === '' || member === '') return;
    if (await this.change((bindings) => addMember(bindings, role, member))) form.reset();
  }

  private async remove(role: string, member: string): Promise<void> {
    const ok = await confirmDialog({ title: 'Remove this binding?', message: `${member} loses ${role} on ${this.project}.`, confirm: 'Remove' });
    if (ok) await this.change((bindings) => removeMember(bindings, role, member));
  }

  /** Applies `edit` to the policy as read and sets it with its etag; reads again either way. */
  private async change(edit: (bindings: Binding[]) => Binding[]): Promise<boolean> {
    const policy = this.policy.data;
    if (!policy) return false;
    this.saving = true;
    this.failure = undefined;
    this.ctx.update();
    try {
      await this.ctx.api.post(`/v1/projects/${this.project}:setIamPolicy`, { policy: { ...policy, bindings: edit(policy.bindings ?? []) } });
      this.ctx.announce('Policy saved');
      return true;
    } catch (error) {
      this.failure = asFailure(error);
      return false;
    } finally {
      this.saving = false;
      await this.policy.load();
    }
  }
}

function addMember(bindings: readonly Binding[], role: string, member: string): Binding[] {
  const existing = bindings.find((b) => b.role === role && b.condition === undefined);
  if (!existing) return [...bindings, { role, members: [member] }];
  return bindings.map((b) => (b === existing && !b.members.includes(member) ? { ...b, members: [...b.members, member] } : b));
}

function removeMember(bindings: readonly Binding[], role: string, member: string): Binding[] {
  return bindings.map((b) => (b.role === role ? { ...b, members: b.members.filter((m) => m !== member) } : b)).filter((b) => b.members.length > 0);
}
