import { createHash } from 'node:crypto';
import { defineResource } from '../../api/resource-module.js';
import { DeveloperConnect, UserSchema } from '../../gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { selfMethods } from './self-methods.js';

/**
 * The people who connected their provider account through an AccountConnector's OAuth flow
 * (FinishOAuth makes them). Listed and deleted like any resource; FetchSelf and DeleteSelf act on
 * the caller's own.
 */
export const users = defineResource({
  schema: UserSchema,
  methods: {
    list: DeveloperConnect.method.listUsers,
    delete: DeveloperConnect.method.deleteUser,
  },
  filterFields: {
    name: 'string',
    display_name: 'string',
    create_time: 'timestamp',
    last_token_request_time: 'timestamp',
  },
  orderFields: ['name', 'display_name', 'create_time', 'last_token_request_time'],
  custom: selfMethods,
});

/** The User of an IAM member under a connector: one per person, whatever they call it with. */
export function userName(connector: string, member: string): string {
  return `${connector}/users/u${createHash('sha256').update(member).digest('hex').slice(0, 20)}`;
}
