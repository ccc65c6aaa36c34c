import { html, nothing, render, type TemplateResult } from 'lit-html';
import { Api, session, type SessionInfo } from './api.js';
import { LiveOperations } from './live.js';
import { BASE, parseRoute, paths, type Route } from './routes.js';
import { COLLECTIONS, TOP_LEVEL } from './views/collections.js';
import { NotFoundPage, type Ctx, type Page } from './views/common.js';
import { FaultsPage } from './views/faults.js';
import { IamPage } from './views/iam.js';
import { LoginPage } from './views/login.js';
import { OperationPage } from './views/operation.js';
import { OperationsPage } from './views/operations.js';
import { PickerPage } from './views/picker.js';
import { ResourcesPage } from './views/resources.js';

/** The permissions the console's buttons depend on, asked of testIamPermissions once per project. */
const BUTTON_PERMISSIONS = [
  'developerconnect.operations.cancel',
  'developerconnect.operations.delete',
  ...Object.values(COLLECTIONS)
    .filter((c) => c.deletable)
    .map((c) => `developerconnect.${c.id}.delete`),
  'resourcemanager.projects.setIamPolicy',
];

const LAST_LOCATION = 'devconnect-console.location.';

/** The location of `project` last shown in this tab, so pages without one (IAM) can link back. */
function locationOf(project: string): { project: string; location: string } | undefined {
  try {
    const location = sessionStorage.getItem(LAST_LOCATION + project);
    return location === null ? undefined : { project, location };
  } catch {
    return undefined;
  }
}

/** The app: who is signed in, which page is shown, and the one render of the whole document. */
class App implements Ctx {
  api: Api;
  live = new LiveOperations();
  private page: Page | undefined;
  private route: Route = { page: 'picker' };
  private login: LoginPage | undefined;
  private frame = 0;
  private message = '';
  private readonly permissionCache = new Map<string, Promise<ReadonlySet<string>>>();
  /** The location last shown, for the navigation of pages that have none (the IAM policy). */
  private lastLocation: { project: string; location: string } | undefined;

  constructor(
    private readonly root: HTMLElement,
    public session: SessionInfo,
  ) {
    this.api = this.newApi();
  }

  private newApi(): Api {
    return new Api(this.session.token, () => this.signedOut('Your session has ended (the token expired or was revoked). Sign in again.'));
  }

  start(): void {
    // lit-html renders beside what is there: the static "Loading" line goes first.
    this.root.replaceChildren();
    window.addEventListener('popstate', () => this.show());
    // Links inside the console change the page without reloading it (and without reopening the live stream).
    document.addEventListener('click', (event) => {
      if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
      const link = (event.target as Element | null)?.closest('a');
      if (!link || link.target !== '' || link.origin !== location.origin || !link.pathname.startsWith(`${BASE}/`)) return;
      if (link.pathname === `${BASE}/login`) return;
      event.preventDefault();
      this.navigate(link.pathname + link.search);
    });
    this.show();
  }

  readonly update = (): void => {
    if (this.frame !== 0) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      render(this.view(), this.root);
    });
  };

  navigate(href: string, replace = false): void {
    if (replace) history.replaceState(null, '', href);
    else history.pushState(null, '', href);
    this.show();
    document.getElementById('main')?.focus();
  }

  permissions(project: string): Promise<ReadonlySet<string>> {
    let permitted = this.permissionCache.get(project);
    if (!permitted) {
      permitted = this.api
        .post<{ permissions?: string[] }>(`/v1/projects/${project}:testIamPermissions`, { permissions: BUTTON_PERMISSIONS })
        .then((answer) => new Set(answer.permissions ?? []));
      // A failure is not remembered: the next page asks again.
      permitted.catch(() => this.permissionCache.delete(project));
      this.permissionCache.set(project, permitted);
    }
    return permitted;
  }

  announce(text: string): void {
    this.message = text;
    this.update();
  }

  private show(): void {
    const previous = this.page;
    this.route = parseRoute(location.pathname, location.search);
    if (this.session.auth === 'jwt' && this.session.token === undefined) {
      this.page = undefined;
      this.login ??= new LoginPage(this.update, (info) => this.signedIn(info));
    } else {
      this.login = undefined;
      this.page = this.pageFor(this.route);
      document.title = `${this.page.title} · devconnect-emulator`;
    }
    // The new page subscribes before the old one lets go, so a shared live stream stays open.
    previous?.dispose?.();
    this.update();
  }

  private pageFor(route: Route): Page {
    switch (route.page) {
      case 'picker':
        return new PickerPage(this, route.project);
      case 'operations':
        this.remember(route.project, route.location);
        return new OperationsPage(this, route.project, route.location, route.query);
      case 'operation':
        this.remember(route.project, route.location);
        return new OperationPage(this, route.project, route.location, route.id);
      case 'resources':
        this.remember(route.project, route.location);
        return ResourcesPage.create(this, route.project, route.location, route.segments);
      case 'iam':
        this.lastLocation = locationOf(route.project);
        return new IamPage(this, route.project, this.lastLocation?.location);
      case 'faults':
        return new FaultsPage(this, this.lastLocation);
      case 'not-found':
        return new NotFoundPage(route.path);
    }
  }

  private remember(project: string, location: string): void {
    this.lastLocation = { project, location };
    try {
      sessionStorage.setItem(LAST_LOCATION + project, location);
    } catch {
      // Storage may be off: the IAM page then has no way back to a location.
    }
  }

  private signedIn(info: SessionInfo): void {
    this.session = info;
    this.api = this.newApi();
    this.permissionCache.clear();
    this.show();
  }

  private signedOut(reason: string): void {
    if (this.session.token === undefined) return;
    this.session = { auth: this.session.auth };
    this.page?.dispose?.();
    this.page = undefined;
    this.login = new LoginPage(this.update, (info) => this.signedIn(info), reason);
    this.update();
  }

  private async signOut(): Promise<void> {
    try {
      await session.signOut();
      this.signedOut('You signed out.');
    } catch (error) {
      this.announce(`Signing out failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private view(): TemplateResult {
    const content = this.login ? this.login.view() : (this.page?.view() ?? nothing);
    return html`<a class="skip" href="#main">Skip to content</a>
      ${this.header()}
      <main id="main" tabindex="-1">${content}</main>
      <div class="visually-hidden" role="status" aria-live="polite">${this.message}</div>`;
  }

  private header(): TemplateResult {
    const r = this.route;
    const scope = 'location' in r ? { project: r.project, location: r.location } : r.page === 'iam' || r.page === 'faults' ? this.lastLocation : undefined;
    const project = 'project' in r ? r.project : undefined;
    const here = location.pathname;
    const link = (href: string, label: string) => html`<li><a href=${href} aria-current=${here === href.split('?')[0] ? 'page' : 'false'}>${label}</a></li>`;
    return html`<header class="top">
      <a class="brand" href="${BASE}/">devconnect-emulator</a>
      ${project ? html`<span class="scope">${project}${scope && scope.project === project ? html` / ${scope.location}` : nothing} · <a href=${paths.picker(project)}>change</a></span>` : nothing}
      ${scope && !this.login
        ? html`<nav aria-label="Pages"><ul>
            ${link(paths.operations(scope.project, scope.location), 'Operations')}
            ${TOP_LEVEL.map((c) => link(`${paths.location(scope.project, scope.location)}/${c}`, COLLECTIONS[c]?.title ?? c))}
            ${link(paths.iam(scope.project), 'IAM')}
            ${link(paths.faults(), 'Fault rules')}
          </ul></nav>`
        : nothing}
      <span class="who">
        ${this.session.principal ? html`<span>${this.session.principal}</span>` : nothing}
        ${this.session.auth === 'none' ? html`<span class="badge warn" title="--auth none: no credentials are checked">auth none</span>` : nothing}
        ${this.session.auth === 'jwt' && this.session.token !== undefined ? html`<button type="button" @click=${() => void this.signOut()}>Sign out</button>` : nothing}
      </span>
    </header>`;
  }
}

async function main(): Promise<void> {
  const root = document.getElementById('app');
  if (!root) return;
  let info: SessionInfo;
  try {
    info = await session.read();
  } catch (error) {
    root.textContent = `The console could not start: ${error instanceof Error ? error.message : String(error)}`;
    return;
  }
  new App(root, info).start();
}

void main();
