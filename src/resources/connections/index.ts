import { create } from '@bufbuild/protobuf';
import { ApiError } from '../../common/errors.js';
import { providerMethods } from './provider-methods.js';
import { checkSecretVersions } from './secret-versions.js';
import { defineResource, STANDARD_FILTER_FIELDS } from '../../api/resource-module.js';
import {
  ConnectionSchema,
  DeveloperConnect,
  InstallationStateSchema,
  InstallationState_Stage,
  type Connection,
} from '../../gen/google/cloud/developerconnect/v1/developer_connect_pb.js';

/** Developer Connect's Connections: a link to a git provider, under a location. */
export const connections = defineResource({
  schema: ConnectionSchema,
  methods: {
    create: DeveloperConnect.method.createConnection,
    get: DeveloperConnect.method.getConnection,
    list: DeveloperConnect.method.listConnections,
    update: DeveloperConnect.method.updateConnection,
    delete: DeveloperConnect.method.deleteConnection,
  },
  filterFields: {
    ...STANDARD_FILTER_FIELDS,
    name: 'string',
    uid: 'string',
    etag: 'string',
    disabled: 'bool',
    reconciling: 'bool',
    'installation_state.stage': 'string',
  },
  orderFields: ['name', 'create_time', 'update_time'],
  hooks: {
    validate(connection, field) {
      if (connection.connectionConfig.case === undefined) {
        throw ApiError.badField(
          field,
          `${field} must set one provider configuration: githubConfig, githubEnterpriseConfig, gitlabConfig, gitlabEnterpriseConfig, bitbucketDataCenterConfig, bitbucketCloudConfig, secureSourceManagerInstanceConfig or httpConfig.`,
        );
      }
      checkSecretVersions(ConnectionSchema, connection, field);
    },
    derive(connection, { publicUrl }) {
      connection.installationState = installationState(connection, publicUrl);
    },
  },
  custom: providerMethods,
});

/**
 * Where the connection stands in its provider's set-up, as Developer Connect reports it: a GitHub
 * connection needs a user's OAuth authorization (an authorizer credential) and then the app's
 * installation (an installation id); a GitHub Enterprise one needs its app installed. Providers
 * configured with tokens are complete once created. While a step is pending, `action_uri` is the
 * "link to follow for next action": in the cloud, GitHub's; here no GitHub is reached, so it is the
 * connection's page in this server's console, which shows the message and the update to make.
 */
function installationState(connection: Connection, publicUrl: string) {
  const config = connection.connectionConfig;
  let stage = InstallationState_Stage.COMPLETE;
  let message = '';
  if (config.case === 'githubConfig') {
    if (!config.value.authorizerCredential) {
      stage = InstallationState_Stage.PENDING_USER_OAUTH;
      message = 'Please authorize Developer Connect to access your GitHub account: set github_config.authorizer_credential (an OAuth token), then update the connection.';
    } else if (config.value.appInstallationId === 0n) {
      stage = InstallationState_Stage.PENDING_INSTALL_APP;
      message = 'Please install the Developer Connect GitHub app on your account or organization, then set github_config.app_installation_id.';
    }
  } else if (config.case === 'githubEnterpriseConfig' && config.value.appInstallationId === 0n) {
    stage = InstallationState_Stage.PENDING_INSTALL_APP;
    message = 'Please install your GitHub Enterprise app on your organization, then set github_enterprise_config.app_installation_id.';
  }
  const actionUri = stage === InstallationState_Stage.COMPLETE ? '' : `${publicUrl}/console/${connection.name}`;
  return create(InstallationStateSchema, { stage, message, actionUri });
}
