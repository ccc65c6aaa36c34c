import { html, nothing, type TemplateResult } from 'lit-html';
import { idOf } from '../format.js';
import { paths } from '../routes.js';
import { Loader, type Ctx, type Page } from './common.js';

interface Location {
  name: string;
  locationId?: string;
  displayName?: string;
}

const RECENT_KEY = 'devconnect-console.recent-projects';
const PROJECT_ID = /^[A-Za-z0-9][A-Za-z0-9._~-]*$/;

/**
 * Choose a project and one of its locations. There is no API that lists projects (as in Google
 * Cloud, a project exists as soon as something names it), so the project is typed, and the ones
 * used before are offered.
 */
export class PickerPage implements Page {
  readonly title = 'Choose a project';
  private readonly locations: Loader<Location[]> | undefined;

  constructor(
    private readonly ctx: Ctx,
    private readonly project: string | undefined,
  ) {
    if (project !== undefined) {
      remember(project);
      this.locations = new Loader(async () => {
        const all: Location[] = [];
        let token = '';
        do {
          const page = await ctx.api.get<{ locations?: Location[]; nextPageToken?: string }>(
            `/v1/projects/${project}/locations?pageSize=100&pageToken=${encodeURIComponent(token)}`,
          );
          all.push(...(page.locations ?? []));
          token = page.nextPageToken ?? '';
        } while (token !== '');
        return all;
      }, ctx.update);
      void this.locations.load();
    }
  }

  view(): TemplateResult {
    const recent = recentProjects();
    return html`<h1>Choose a project and location</h1>
      <form class="filters" @submit=${(e: SubmitEvent) => this.choose(e)}>
        <label>Project id
          <input name="project" required list="recent-projects" .value=${this.project ?? ''}
            placeholder="my-project" autocomplete="off" autofocus>
        </label>
        <datalist id="recent-projects">${recent.map((p) => html`<option value=${p}></option>`)}</datalist>
        <button class="primary" type="submit">Show locations</button>
      </form>
      ${recent.length > 0 && this.project === undefined
        ? html`<h2>Recent projects</h2>
            <ul class="cards">${recent.map((p) => html`<li><a href=${paths.picker(p)}>${p}</a></li>`)}</ul>`
        : nothing}
      <p><a href=${paths.faults()}>Fault rules of this server</a></p>
      ${this.project !== undefined && this.locations ? this.locationList(this.project, this.locations) : nothing}`;
  }

  private locationList(project: string, loader: Loader<Location[]>): TemplateResult {
    return html`<h2>Locations of ${project}</h2>
      ${loader.status('locations')}
      ${loader.data
        ? html`<ul class="cards">
              ${loader.data.map((l) => {
                const id = l.locationId ?? idOf(l.name);
                return html`<li><a href=${paths.operations(project, id)}>${id}</a></li>`;
              })}
            </ul>
            <p><a href=${paths.iam(project)}>IAM policy of ${project}</a></p>`
        : nothing}`;
  }

  private choose(event: SubmitEvent): void {
    event.preventDefault();
    const project = new FormData(event.target as HTMLFormElement).get('project');
    if (typeof project === 'string' && PROJECT_ID.test(project.trim())) this.ctx.navigate(paths.picker(project.trim()));
  }
}

function recentProjects(): string[] {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(RECENT_KEY) ?? '[]');
    return Array.isArray(value) ? value.filter((p): p is string => typeof p === 'string' && PROJECT_ID.test(p)).slice(0, 8) : [];
  } catch {
    return [];
  }
}

function remember(project: string): void {
  const list = [project, ...recentProjects().filter((p) => p !== project)].slice(0, 8);
  try {
    localStorage.setItem(RECENT_KEY, JSON.stringify(list));
  } catch {
    // Storage may be off (private mode): the list is a convenience.
  }
}
