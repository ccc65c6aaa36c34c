import { html, nothing, type TemplateResult } from 'lit-html';
import { repeat } from 'lit-html/directives/repeat.js';
import { isObject } from '../api.js';
import { idOf, prettyJson } from '../format.js';
import { BASE } from '../routes.js';
import { COLLECTIONS, validPath, type Collection, type Resource } from './collections.js';
import { asFailure, confirmDialog, Loader, NotFoundPage, type Ctx, type Page } from './common.js';

const PAGE_SIZE = 50;
const REFRESH_DELAY_MS = 300;

interface ListPage {
  items: Resource[];
  next: string;
}

/** One collection's list, a page at a time; `tokens` are the pages before the one shown, for Previous. */
class PagedList {
  readonly tokens: string[] = [];
  token = '';
  readonly loader: Loader<ListPage>;

  constructor(ctx: Ctx, parent: string, collectionId: string) {
    this.loader = new Loader(async () => {
      const answer = await ctx.api.get(`/v1/${parent}/${collectionId}?pageSize=${PAGE_SIZE}&pageToken=${encodeURIComponent(this.token)}`);
      const items = answer[collectionId];
      return { items: Array.isArray(items) ? items.filter(isObject) : [], next: typeof answer.nextPageToken === 'string' ? answer.nextPageToken : '' };
    }, ctx.update);
  }
}

/**
 * A collection's list or one resource with its child collections (a connection and its links, an
 * account connector and its users, an insights config and its deployment events), from the
 * declarations in collections.ts. Deletes go through the API's Delete and its operation; the page
 * reads again when the event stream says an operation of the location changed.
 */
export class ResourcesPage implements Page {
  readonly title: string;
  private readonly parentName: string;
  private readonly collection: Collection;
  /** The resource shown, when the path names one; else the collection is listed. */
  private readonly resourceName: string | undefined;
  private readonly resource: Loader<Resource> | undefined;
  private readonly lists = new Map<string, PagedList>();
  private permitted: ReadonlySet<string> = new Set();
  private notice: TemplateResult | undefined;
  private readonly unsubscribe: () => void;
  private refreshTimer: number | undefined;

  static create(ctx: Ctx, project: string, location: string, segments: string[]): Page {
    if (!validPath(segments)) return new NotFoundPage(`${BASE}/projects/${project}/locations/${location}/${segments.join('/')}`);
    return new ResourcesPage(ctx, project, location, segments);
  }

  private constructor(
    private readonly ctx: Ctx,
    project: string,
    location: string,
    segments: string[],
  ) {
    const locationName = `projects/${project}/locations/${location}`;
    const isList = segments.length % 2 === 1;
    const path = `${locationName}/${segments.join('/')}`;
    const collectionId = segments[isList ? segments.length - 1 : segments.length - 2] ?? '';
    this.collection = COLLECTIONS[collectionId] as Collection;
    this.parentName = isList ? path.slice(0, path.lastIndexOf('/')) : path.slice(0, path.lastIndexOf('/', path.lastIndexOf('/') - 1));
    this.resourceName = isList ? undefined : path;
    this.title = isList ? this.collection.title : `${this.collection.singular} ${idOf(path)}`;
    if (this.resourceName !== undefined) {
      const name = this.resourceName;
      this.resource = new Loader(() => ctx.api.get<Resource>(`/v1/${name}`), ctx.update);
      for (const child of this.collection.children) this.addList(name, child);
    } else {
      this.addList(this.parentName, this.collection.id);
    }
    ctx.permissions(project).then(
      (p) => {
        this.permitted = p;
        ctx.update();
      },
      () => undefined,
    );
    this.unsubscribe = ctx.live.subscribe(locationName, { change: () => this.refreshSoon(), resync: () => this.refresh(), state: () => undefined });
    this.refresh();
  }

  dispose(): void {
    this.unsubscribe();
    window.clearTimeout(this.refreshTimer);
  }

  private addList(parent: string, collectionId: string): void {
    this.lists.set(collectionId, new PagedList(this.ctx, parent, collectionId));
  }

  private refresh(): void {
    void this.resource?.load();
    for (const list of this.lists.values()) void list.loader.load();
  }

  private refreshSoon(): void {
    if (this.refreshTimer !== undefined) return;
    this.refreshTimer = window.setTimeout(() => {
      this.refreshTimer = undefined;
      this.refresh();
    }, REFRESH_DELAY_MS);
  }

  view(): TemplateResult {
    const up = `${BASE}/${this.parentName}${this.resourceName === undefined ? '' : `/${this.collection.id}`}`;
    const upLabel = this.resourceName === undefined ? idOf(this.parentName) : this.collection.title;
    return html`${this.parentName.split('/').length > 4 || this.resourceName !== undefined ? html`<p><a href=${up}>← ${upLabel}</a></p>` : nothing}
      ${this.notice ? html`<div class="notice" role="status">${this.notice}</div>` : nothing}
      ${this.resourceName === undefined ? this.listView(this.collection, this.parentName, 'h1') : this.detailView(this.resourceName)}`;
  }

  private detailView(name: string): TemplateResult {
    const loader = this.resource as Loader<Resource>;
    const resource = loader.data;
    const gone = loader.error?.status === 'NOT_FOUND';
    return html`<div class="toolbar">
        <h1>${this.collection.singular} <span class="mono">${idOf(name)}</span></h1>
        ${resource && !gone ? this.deleteButton(this.collection, resource) : nothing}
      </div>
      ${gone ? html`<p class="notice" role="status">This ${this.collection.singular} does not exist (any more).</p>` : loader.status(this.collection.singular)}
      ${resource && !gone
        ? html`<dl class="fields">
              <dt>Name</dt><dd class="mono">${name}</dd>
              ${this.collection.columns.map((c) => html`<dt>${c.label}</dt><dd>${c.value(resource) || '—'}</dd>`)}
            </dl>
            ${this.collection.children.map((child) => this.listView(COLLECTIONS[child] as Collection, name, 'h2'))}
            <h2>Raw JSON</h2>
            <pre>${prettyJson(resource)}</pre>`
        : nothing}`;
  }

  private listView(collection: Collection, parent: string, heading: 'h1' | 'h2'): TemplateResult {
    const state = this.lists.get(collection.id);
    if (!state) return html``;
    const items = state.loader.data?.items ?? [];
    const title = heading === 'h1' ? html`<h1>${collection.title}</h1>` : html`<h2>${collection.title}</h2>`;
    return html`<section aria-label=${collection.title}>
      ${title} ${state.loader.status(collection.title.toLowerCase())}
      ${state.loader.data && items.length === 0 ? html`<p class="empty">No ${collection.title.toLowerCase()} in ${idOf(parent)}.</p>` : nothing}
      ${items.length > 0
        ? html`<table class="stack">
            <thead><tr><th>Name</th>${collection.columns.map((c) => html`<th>${c.label}</th>`)}${collection.deletable ? html`<th>Actions</th>` : nothing}</tr></thead>
            <tbody>
              ${repeat(
                items,
                (r) => String(r.name),
                (r) => {
                  const name = typeof r.name === 'string' ? r.name : '';
                  return html`<tr data-name=${name}>
                    <td class="name" data-label="Name"><a href=${`${BASE}/${name}`}>${idOf(name)}</a></td>
                    ${collection.columns.map((c) => html`<td data-label=${c.label}>${c.value(r)}</td>`)}
                    ${collection.deletable ? html`<td class="actions" data-label="Actions">${this.deleteButton(collection, r)}</td>` : nothing}
                  </tr>`;
                },
              )}
            </tbody>
          </table>`
        : nothing}
      ${this.pager(state)}
    </section>`;
  }

  private pager(state: PagedList): TemplateResult | typeof nothing {
    const next = state.loader.data?.next ?? '';
    if (state.tokens.length === 0 && next === '') return nothing;
    const go = (token: string) => {
      state.token = token;
      void state.loader.load();
    };
    return html`<nav class="pager" aria-label="Pages">
      <button type="button" ?disabled=${state.tokens.length === 0} @click=${() => go(state.tokens.pop() ?? '')}>Previous</button>
      <span>Page ${state.tokens.length + 1}</span>
      <button type="button" ?disabled=${next === ''} @click=${() => {
        state.tokens.push(state.token);
        go(next);
      }}>Next</button>
    </nav>`;
  }

  private deleteButton(collection: Collection, resource: Resource): TemplateResult | typeof nothing {
    if (!collection.deletable || !this.permitted.has(`developerconnect.${collection.id}.delete`)) return nothing;
    const name = typeof resource.name === 'string' ? resource.name : '';
    return html`<button type="button" class="danger" aria-label=${`Delete ${idOf(name)}`} @click=${() => void this.delete(collection, name)}>Delete</button>`;
  }

  private async delete(collection: Collection, name: string): Promise<void> {
    const ok = await confirmDialog({ title: `Delete this ${collection.singular}?`, message: `${name} will be deleted.`, confirm: 'Delete' });
    if (!ok) return;
    try {
      const answer = await this.ctx.api.delete(`/v1/${name}`);
      // Deletes are long-running: the answer is their operation, which the event stream follows.
      const op = typeof answer.name === 'string' && answer.name.includes('/operations/') ? answer.name : undefined;
      const failed = isObject(answer.error) ? answer.error : undefined;
      this.notice = failed
        ? html`Deleting ${idOf(name)} failed: ${String(failed.message ?? '')} ${op ? html`(<a href=${`${BASE}/${op}`}>operation</a>)` : nothing}`
        : html`Deleting ${idOf(name)}${op ? html`: <a href=${`${BASE}/${op}`}>operation ${idOf(op)}</a>` : nothing}.`;
      this.ctx.announce(`Deleting ${idOf(name)}`);
    } catch (error) {
      const failure = asFailure(error);
      this.notice = html`Deleting ${idOf(name)} was refused: <strong>${failure.status}</strong> ${failure.message}`;
    }
    this.refresh();
  }
}
