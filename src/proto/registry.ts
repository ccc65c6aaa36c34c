import { createRegistry, type DescMessage, type DescService, type Registry } from '@bufbuild/protobuf';
import { file_google_protobuf_empty } from '@bufbuild/protobuf/wkt';
import { file_google_cloud_developerconnect_v1_developer_connect } from '../gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { file_google_cloud_developerconnect_v1_insights_config } from '../gen/google/cloud/developerconnect/v1/insights_config_pb.js';
import { file_google_cloud_location_locations } from '../gen/google/cloud/location/locations_pb.js';
import { file_google_iam_v1_iam_policy } from '../gen/google/iam/v1/iam_policy_pb.js';
import { file_google_longrunning_operations } from '../gen/google/longrunning/operations_pb.js';
import { file_google_rpc_error_details } from '../gen/google/rpc/error_details_pb.js';
import { file_google_rpc_status } from '../gen/google/rpc/status_pb.js';

/** Every message type the server can put in an `Any`, for the proto3 JSON mapping of `@type`. */
export const registry: Registry = createRegistry(
  file_google_cloud_developerconnect_v1_developer_connect,
  file_google_cloud_developerconnect_v1_insights_config,
  file_google_cloud_location_locations,
  file_google_longrunning_operations,
  file_google_rpc_error_details,
  file_google_rpc_status,
  file_google_protobuf_empty,
);

/** The services the server answers, in the order they are registered on both transports. */
export const services: readonly DescService[] = [
  file_google_cloud_developerconnect_v1_developer_connect.services[0],
  file_google_cloud_developerconnect_v1_insights_config.services[0],
  file_google_longrunning_operations.services[0],
  file_google_cloud_location_locations.services[0],
  file_google_iam_v1_iam_policy.services[0],
].filter((s): s is DescService => s !== undefined);

export type { DescMessage };
