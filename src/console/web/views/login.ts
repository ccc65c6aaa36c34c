import { html, nothing, type TemplateResult } from 'lit-html';
import { session, type SessionInfo } from '../api.js';
import { asFailure, errorBox } from './common.js';
import type { ApiFailure } from '../api.js';

/**
 * Signing in under `--auth jwt` with a pasted access token (the other way in is the one-time login
 * link `serve` prints). The token goes to the console's session endpoint, which checks it as the API
 * would and keeps it in an HttpOnly cookie.
 */
export class LoginPage {
  readonly title = 'Sign in';
  private error: ApiFailure | undefined;
  private busy = false;

  constructor(
    private readonly update: () => void,
    private readonly signedIn: (info: SessionInfo) => void,
    private readonly reason?: string,
  ) {}

  view(): TemplateResult {
    return html`<section class="login">
      <h1>Sign in to the console</h1>
      ${this.reason ? html`<p class="notice" role="status">${this.reason}</p>` : nothing}
      <p>
        This server checks credentials (<code>--auth jwt</code>). Open the one-time login link that
        <code>serve</code> printed, or paste an access token, for example from
        <code>devconnect-emulator token --principal user:you@example.com</code>. The console acts as that
        principal, with its permissions only.
      </p>
      <form @submit=${(e: SubmitEvent) => void this.submit(e)}>
        <label>Access token <textarea name="token" required autocomplete="off" spellcheck="false"></textarea></label>
        <div><button class="primary" type="submit" ?disabled=${this.busy}>Sign in</button></div>
      </form>
      ${this.error ? errorBox(this.error) : nothing}
    </section>`;
  }

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const token = new FormData(form).get('token');
    if (typeof token !== 'string') return;
    this.busy = true;
    this.error = undefined;
    this.update();
    try {
      this.signedIn(await session.signIn(token));
    } catch (error) {
      this.error = asFailure(error);
    } finally {
      this.busy = false;
      this.update();
    }
  }
}
