import { defineResource, STANDARD_FILTER_FIELDS } from '../../api/resource-module.js';
import { InsightsConfig_State, InsightsConfigSchema, InsightsConfigService } from '../../gen/google/cloud/developerconnect/v1/insights_config_pb.js';

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
    derive(config) {
      // The configuration is PENDING while its operation runs (it is not readable until then) and
      // COMPLETE once committed: there are no runtimes here to discover, so nothing can fail.
      config.state = InsightsConfig_State.COMPLETE;
    },
  },
});
