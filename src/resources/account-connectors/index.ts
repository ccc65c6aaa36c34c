import { defineResource, STANDARD_FILTER_FIELDS } from '../../api/resource-module.js';
import { AccountConnectorSchema, DeveloperConnect, type AccountConnector } from '../../gen/google/cloud/developerconnect/v1/developer_connect_pb.js';

/** An OAuth client of a provider (GitHub, GitLab, …) through which users connect their own accounts; its Users live below it. */
export const accountConnectors = defineResource({
  schema: AccountConnectorSchema,
  methods: {
    create: DeveloperConnect.method.createAccountConnector,
    get: DeveloperConnect.method.getAccountConnector,
    list: DeveloperConnect.method.listAccountConnectors,
    update: DeveloperConnect.method.updateAccountConnector,
    delete: DeveloperConnect.method.deleteAccountConnector,
  },
  filterFields: {
    ...STANDARD_FILTER_FIELDS,
    name: 'string',
    etag: 'string',
    'provider_oauth_config.system_provider_id': 'string',
  },
  orderFields: ['name', 'create_time', 'update_time'],
  hooks: {
    // The proto: "In the event of changing scopes, user records under AccountConnector will be deleted and users will re-auth again."
    dropsChildren(before, after) {
      return JSON.stringify(scopesOf(before)) !== JSON.stringify(scopesOf(after));
    },
  },
});

function scopesOf(connector: AccountConnector): string[] {
  return connector.accountConnectorConfig.case === 'providerOauthConfig' ? connector.accountConnectorConfig.value.scopes : [];
}
