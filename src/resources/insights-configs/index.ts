import { equals } from '@bufbuild/protobuf';
import { defineResource, STANDARD_FILTER_FIELDS } from '../../api/resource-module.js';
import {
  InsightsConfig_State,
  InsightsConfigSchema,
  InsightsConfigService,
  ProjectsSchema,
  type InsightsConfig,
} from '../../gen/google/cloud/developerconnect/v1/insights_config_pb.js';

/** Developer Connect Insights: which App Hub application or projects to gather deployment insights for. */
export const insightsConfigs = defineResource({
  schema: InsightsConfigSchema,
  methods: {
    create: InsightsConfigService.method.createInsightsConfig,
    get: InsightsConfigService.method.getInsightsConfig,
    list: InsightsConfigService.method.listInsightsConfigs,
    update: InsightsConfigService.method.updateInsightsConfig,
    delete: InsightsConfigService.method.deleteInsightsConfig,
  },
  filterFields: {
    ...STANDARD_FILTER_FIELDS,
    name: 'string',
    state: 'string',
    app_hub_application: 'string',
    reconciling: 'bool',
  },
  orderFields: ['name', 'create_time', 'update_time'],
  hooks: {
    /**
     * The proto's PENDING is "pending application discovery/runtime discovery": a new config, one
     * whose App Hub application or projects change, and one the client sets to PENDING (gcloud's
     * `update --run-discovery`, which "kicks off the discovery flow") wait for discovery, which
     * discovery.ts ends. Any other update keeps the state: the client cannot end discovery, or
     * make it fail. A fixture without a state stands for a config discovered long ago: COMPLETE.
     */
    derive(config, { request }) {
      if (request === undefined) {
        if (config.state === InsightsConfig_State.STATE_UNSPECIFIED) config.state = InsightsConfig_State.COMPLETE;
      } else if (request.kind === 'create' || !sameContext(request.before, config) || config.state === InsightsConfig_State.PENDING) {
        config.state = InsightsConfig_State.PENDING;
      } else {
        config.state = request.before.state;
      }
      // AIP-128 as the proto words it: "the service is actively updating the resource to reconcile" it.
      config.reconciling = config.state === InsightsConfig_State.PENDING;
    },
  },
});

/**
 * Discovery of the config's runtimes has ended. It finds none here (there are no workloads to
 * look at), so `runtime_configs` stay as they are, and nothing can fail: COMPLETE.
 */
export function discovered(config: InsightsConfig): void {
  config.state = InsightsConfig_State.COMPLETE;
  config.reconciling = false;
}

/** Whether two configs name the same App Hub application or projects: the `insights_config_context` discovery looks at. */
function sameContext(a: InsightsConfig, b: InsightsConfig): boolean {
  const [x, y] = [a.insightsConfigContext, b.insightsConfigContext];
  if (x.case === 'projects' && y.case === 'projects') return equals(ProjectsSchema, x.value, y.value);
  return x.case === y.case && x.value === y.value;
}
