import { defineResource } from '../../api/resource-module.js';
import { DeploymentEventSchema, InsightsConfigService } from '../../gen/google/cloud/developerconnect/v1/insights_config_pb.js';

/**
 * What was deployed where, under an InsightsConfig. In the cloud these come from running
 * workloads; here from a fixture file (`serve --fixtures FILE`, `devconnect-emulator fixtures load`),
 * so tests see known events. Through the API they are read-only.
 */
export const deploymentEvents = defineResource({
  schema: DeploymentEventSchema,
  methods: {
    get: InsightsConfigService.method.getDeploymentEvent,
    list: InsightsConfigService.method.listDeploymentEvents,
  },
  filterFields: {
    name: 'string',
    state: 'string',
    runtime_deployment_uri: 'string',
    'runtime_config.uri': 'string',
    deploy_time: 'timestamp',
    undeploy_time: 'timestamp',
    create_time: 'timestamp',
    update_time: 'timestamp',
  },
  orderFields: [],
});
