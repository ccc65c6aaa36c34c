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

/** Regions in which Developer Connect is offered; every project sees the same list. */
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

/** Rejects a parent whose location the service does not offer (resource methods and GetLocation). */
export function assertKnownLocation(location: string, name: string): void {
  if (!LOCATIONS.includes(location)) {
    throw ApiError.notFound(`Location '${name}' was not found: Developer Connect is offered in ${LOCATIONS.join(', ')}.`, name);
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
  constructor(private readonly tokens: PageTokens) {}

  async getLocation(request: GetLocationRequest): Promise<Location> {
    const { project, location } = parseLocationName(request.name);
    assertKnownLocation(location, request.name);
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
    const slice = LOCATIONS.slice(start, start + size);
    const next = start + size < LOCATIONS.length ? String(start + size) : undefined;
    return create(ListLocationsResponseSchema, {
      locations: slice.map((l) => toLocation(project, l)),
      nextPageToken: this.tokens.issue(query, next),
    });
  }
}
