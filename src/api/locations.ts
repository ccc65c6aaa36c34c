import { create } from '@bufbuild/protobuf';
import {
  ListLocationsResponseSchema,
  LocationSchema,
  type GetLocationRequest,
  type ListLocationsRequest,
  type ListLocationsResponse,
  type Location,
} from '../gen/google/cloud/location/locations_pb.js';
import { ApiError } from '../common/errors.js';
import { parseLocationName, parseProjectName } from '../common/names.js';
import { pageSize, type PageTokens } from './page-token.js';

/** Regions in which Developer Connect is offered: the default of `serve --locations`; every project sees the same list. */
export const LOCATIONS: readonly string[] = [
  'asia-east1',
  'asia-northeast1',
  'asia-south1',
  'asia-southeast1',
  'australia-southeast1',
  'europe-west1',
  'europe-west2',
  'europe-west3',
  'europe-west4',
  'northamerica-northeast1',
  'southamerica-east1',
  'us-central1',
  'us-east1',
  'us-east4',
  'us-west1',
  'us-west2',
];

// AIP-122 ids, as Google's region names are.
const LOCATION_ID = /^[a-z][a-z0-9-]{0,62}$/;

/** The locations this server offers (`serve --locations`), Developer Connect's regions by default. */
export class KnownLocations {
  readonly ids: readonly string[];

  constructor(ids: readonly string[] = LOCATIONS) {
    if (ids.length === 0) throw new Error('--locations needs at least one location.');
    for (const id of ids) if (!LOCATION_ID.test(id)) throw new Error(`--locations: '${id}' is not a location id (lowercase letters, digits and hyphens, e.g. us-central1).`);
    this.ids = [...new Set(ids)];
  }

  /** Rejects a parent whose location the server does not offer (resource methods and GetLocation). */
  assertKnown(location: string, name: string): void {
    if (!this.ids.includes(location)) {
      throw ApiError.notFound(`Location '${name}' was not found: this server offers ${this.ids.join(', ')}.`, name);
    }
  }
}

function toLocation(project: string, location: string): Location {
  return create(LocationSchema, {
    name: `projects/${project}/locations/${location}`,
    locationId: location,
    displayName: location,
  });
}

/** The `google.cloud.location.Locations` mixin. */
export class LocationsApi {
  constructor(
    private readonly tokens: PageTokens,
    private readonly locations: KnownLocations,
  ) {}

  async getLocation(request: GetLocationRequest): Promise<Location> {
    const { project, location } = parseLocationName(request.name);
    this.locations.assertKnown(location, request.name);
    return toLocation(project, location);
  }

  async listLocations(request: ListLocationsRequest): Promise<ListLocationsResponse> {
    const { project } = parseProjectName(request.name);
    if (request.filter !== '') {
      throw ApiError.invalidArgument('filter is not supported by ListLocations.', 'filter');
    }
    const size = pageSize(request.pageSize);
    const query = `locations|${request.name}`;
    const start = Number(this.tokens.read(query, request.pageToken) ?? 0);
    const ids = this.locations.ids;
    const slice = ids.slice(start, start + size);
    const next = start + size < ids.length ? String(start + size) : undefined;
    return create(ListLocationsResponseSchema, {
      locations: slice.map((l) => toLocation(project, l)),
      nextPageToken: this.tokens.issue(query, next),
    });
  }
}
