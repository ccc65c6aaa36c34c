import { fromBinary } from '@bufbuild/protobuf';
import { defineResource, STANDARD_FILTER_FIELDS } from '../../api/resource-module.js';
import { ConnectionSchema, DeveloperConnect, GitRepositoryLinkSchema } from '../../gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { gitProxyUri } from '../../git/proxy.js';
import { gitMethods } from './git-methods.js';

/** A repository of a connection's provider, linked for use (`clone_uri`), under its connection. */
export const gitRepositoryLinks = defineResource({
  schema: GitRepositoryLinkSchema,
  methods: {
    create: DeveloperConnect.method.createGitRepositoryLink,
    get: DeveloperConnect.method.getGitRepositoryLink,
    list: DeveloperConnect.method.listGitRepositoryLinks,
    delete: DeveloperConnect.method.deleteGitRepositoryLink,
  },
  filterFields: {
    ...STANDARD_FILTER_FIELDS,
    name: 'string',
    uid: 'string',
    etag: 'string',
    clone_uri: 'string',
    reconciling: 'bool',
    webhook_id: 'string',
  },
  orderFields: ['name', 'create_time', 'update_time'],
  hooks: {
    derive(link, { parent, publicUrl }) {
      // Developer Connect registers a webhook for every link; its id is how deliveries are routed.
      if (link.webhookId === '') link.webhookId = link.uid;
      const connection = parent && fromBinary(ConnectionSchema, parent.data);
      link.gitProxyUri = connection?.gitProxyConfig?.enabled ? gitProxyUri(publicUrl, link.name) : '';
    },
  },
  custom: gitMethods,
});
