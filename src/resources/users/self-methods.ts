import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromDate, timestampNow } from '@bufbuild/protobuf/wkt';
import type { CustomMethod, OwnMethods, ResourceDeps } from '../../api/resource-module.js';
import { ApiError } from '../../common/errors.js';
import { parseByPattern } from '../../common/names.js';
import {
  AccountConnectorSchema,
  DeveloperConnect,
  ExchangeErrorSchema,
  FetchAccessTokenResponseSchema,
  FinishOAuthResponseSchema,
  StartOAuthResponseSchema,
  UserSchema,
  type AccountConnector,
  type FetchAccessTokenRequest,
  type FetchSelfRequest,
  type DeleteSelfRequest,
  type FinishOAuthRequest,
  type StartOAuthRequest,
  type User,
} from '../../gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { AUTHORIZE_PATH } from '../../oauth/authorize-page.js';
import { resourceIndex } from '../../api/list-page.js';
import { userName, users } from './index.js';

const CONNECTOR_PATTERN = 'projects/{project}/locations/{location}/accountConnectors/{account_connector}';

/**
 * The OAuth flow of an AccountConnector and the caller's own User. StartOAuth hands out a ticket and
 * an S256 PKCE challenge with an auth_uri on this server's authorize page (src/oauth); FinishOAuth
 * checks the code that page issued and makes the caller's User; FetchAccessToken mints a token with
 * the connector's scopes; FetchSelf and DeleteSelf act on the caller's User.
 */
export function selfMethods(deps: ResourceDeps, own: OwnMethods): CustomMethod[] {
  async function connector(name: string, field: string): Promise<AccountConnector> {
    parseByPattern(name, CONNECTOR_PATTERN, field);
    const record = await deps.store.getResource(name);
    if (!record || record.collection !== 'accountConnectors') throw ApiError.notFound(`AccountConnector '${name}' was not found.`, name);
    return fromBinary(AccountConnectorSchema, record.data);
  }
  async function self(connectorName: string, member: string): Promise<User> {
    const name = userName(connectorName, member);
    const record = await deps.store.getResource(name);
    if (!record) throw ApiError.notFound(`${member} has no User under '${connectorName}': connect an account with StartOAuth and FinishOAuth first.`, name);
    return fromBinary(UserSchema, record.data);
  }
  const scopesOf = (c: AccountConnector) => (c.accountConnectorConfig.case === 'providerOauthConfig' ? c.accountConnectorConfig.value.scopes : []);
  async function putUser(user: User, connectorName: string): Promise<void> {
    await deps.applyChange({
      require: [{ kind: 'exists', name: connectorName }],
      put: { name: user.name, parent: connectorName, collection: 'users', etag: '', data: toBinary(UserSchema, user), index: resourceIndex(users, user) },
    });
  }

  return [
    {
      method: DeveloperConnect.method.startOAuth,
      permission: 'developerconnect.users.startOAuth',
      on: 'accountConnector',
      run: async (request, context) => {
        const c = await connector((request as StartOAuthRequest).accountConnector, 'account_connector');
        const { ticket, codeChallenge } = deps.oauth.start(c.name, context.principal.member);
        const scopes = scopesOf(c);
        const clientId = `devconnect-emulator:${c.name}`;
        const authUri = new URL(`${deps.publicUrl()}${AUTHORIZE_PATH}`);
        for (const [k, v] of Object.entries({ response_type: 'code', client_id: clientId, scope: scopes.join(' '), state: ticket, code_challenge: codeChallenge, code_challenge_method: 'S256' })) {
          authUri.searchParams.set(k, v);
        }
        const provider = c.accountConnectorConfig.case === 'providerOauthConfig' ? c.accountConnectorConfig.value.oauthProviderId : { case: undefined };
        return create(StartOAuthResponseSchema, {
          id: provider.case === 'systemProviderId' ? { case: 'systemProviderId', value: provider.value } : { case: undefined },
          ticket,
          codeChallenge,
          codeChallengeMethod: 'S256',
          clientId,
          scopes,
          authUri: authUri.href,
        });
      },
    },
    {
      method: DeveloperConnect.method.finishOAuth,
      permission: 'developerconnect.users.finishOAuth',
      on: 'accountConnector',
      run: async (request, context) => {
        const r = request as FinishOAuthRequest;
        const c = await connector(r.accountConnector, 'account_connector');
        const exchangeError = (code: string, description: string) => create(FinishOAuthResponseSchema, { exchangeError: create(ExchangeErrorSchema, { code, description }) });
        if (r.params.case !== 'oauthParams') {
          return exchangeError('invalid_request', 'oauth_params (code and ticket) are required: this connector uses a provider OAuth flow, not Google OAuth.');
        }
        const { code, ticket } = r.params.value;
        const claims = deps.oauth.readTicket(ticket);
        if ('code' in claims) return exchangeError(claims.code, claims.description);
        if (claims.connector !== c.name || claims.member !== context.principal.member) {
          return exchangeError('invalid_request', 'The ticket was issued for another account connector or caller.');
        }
        const refused = deps.oauth.checkCode(code, ticket);
        if (refused) return exchangeError(refused.code, refused.description);
        const name = userName(c.name, context.principal.member);
        const existing = await deps.store.getResource(name);
        const user = existing
          ? fromBinary(UserSchema, existing.data)
          : create(UserSchema, { name, displayName: context.principal.member.replace(/^[a-zA-Z]+:/, ''), createTime: timestampNow() });
        await putUser(user, c.name);
        return create(FinishOAuthResponseSchema, {});
      },
    },
    {
      method: DeveloperConnect.method.fetchAccessToken,
      permission: 'developerconnect.users.fetchAccessToken',
      on: 'accountConnector',
      run: async (request, context) => {
        const c = await connector((request as FetchAccessTokenRequest).accountConnector, 'account_connector');
        const user = await self(c.name, context.principal.member);
        const scopes = scopesOf(c);
        const minted = deps.oauth.mintAccessToken(c.name, context.principal.member, scopes);
        user.lastTokenRequestTime = timestampNow();
        await putUser(user, c.name);
        return create(FetchAccessTokenResponseSchema, { token: minted.token, expirationTime: timestampFromDate(minted.expires), scopes });
      },
    },
    {
      method: DeveloperConnect.method.fetchSelf,
      permission: 'developerconnect.users.getSelf',
      on: 'name',
      run: async (request, context) => {
        const c = await connector((request as FetchSelfRequest).name, 'name');
        return self(c.name, context.principal.member);
      },
    },
    {
      method: DeveloperConnect.method.deleteSelf,
      permission: 'developerconnect.users.deleteSelf',
      on: 'name',
      run: async (request, context) => {
        const c = await connector((request as DeleteSelfRequest).name, 'name');
        const user = await self(c.name, context.principal.member);
        return own.deleteByName(user.name);
      },
    },
  ];
}
