import { create, fromBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { pageSize } from '../../api/page-token.js';
import type { CallContext } from '../../api/context.js';
import type { CustomMethod, ResourceDeps } from '../../api/resource-module.js';
import { ApiError, Code } from '../../common/errors.js';
import { parseByPattern } from '../../common/names.js';
import {
  ConnectionSchema,
  DeveloperConnect,
  FetchGitRefsRequest_RefType,
  FetchGitRefsResponseSchema,
  FetchReadTokenResponseSchema,
  FetchReadWriteTokenResponseSchema,
  GitRepositoryLinkSchema,
  type Connection,
  type FetchGitRefsRequest,
  type FetchReadTokenRequest,
  type FetchReadWriteTokenRequest,
  type GitRepositoryLink,
} from '../../gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { fetchRefs } from '../../git/smart-http.js';
import { upstreamOf, type GitAccess, type HostCredentials } from '../../git/upstream.js';

const LINK_PATTERN = 'projects/{project}/locations/{location}/connections/{connection}/gitRepositoryLinks/{git_repository_link}';
/** FetchGitRefs' default page size, as its proto says. */
const DEFAULT_REFS_PAGE = 20;
/** The user name git sends with a token; the git proxy accepts any, like GitHub's `x-access-token`. */
const GIT_USERNAME = 'oauth2';

/** The git methods of a link: its refs, read on its host over smart HTTP, and the tokens of its git proxy. */
export function gitMethods(deps: ResourceDeps): CustomMethod[] {
  /** The link and its connection, or NOT_FOUND for the link. */
  async function load(name: string, field: string): Promise<{ link: GitRepositoryLink; connection: Connection }> {
    parseByPattern(name, LINK_PATTERN, field);
    const link = await deps.store.getResource(name);
    const connection = link && (await deps.store.getResource(link.parent));
    if (!link || !connection) throw ApiError.notFound(`GitRepositoryLink '${name}' was not found.`, name);
    return { link: fromBinary(GitRepositoryLinkSchema, link.data), connection: fromBinary(ConnectionSchema, connection.data) };
  }
  const credentials = (context: CallContext): HostCredentials => ({
    secret: (version, field, resource) => deps.secrets.value(version, field, resource),
    installationTokens: deps.installationTokens,
    signal: context.signal,
  });

  async function fetchGitRefs(request: FetchGitRefsRequest, context: CallContext) {
    const { link, connection } = await load(request.gitRepositoryLink, 'git_repository_link');
    if (request.refType === FetchGitRefsRequest_RefType.REF_TYPE_UNSPECIFIED) {
      throw ApiError.badField('ref_type', 'ref_type is required: BRANCH or TAG.');
    }
    const prefix = request.refType === FetchGitRefsRequest_RefType.BRANCH ? 'refs/heads/' : 'refs/tags/';
    const size = request.pageSize === 0 ? DEFAULT_REFS_PAGE : pageSize(request.pageSize);
    const query = `fetchGitRefs|${link.name}|${request.refType}`;
    const after = deps.tokens.read(query, request.pageToken);
    const refs = await fetchRefs(upstreamOf(connection, link.cloneUri, credentials(context)));
    // Paged by position (the last name sent), so refs created or deleted between pages do not shift the rest.
    const names = [...refs.keys()].filter((ref) => ref.startsWith(prefix) && (after === undefined || ref > after)).sort();
    const page = names.slice(0, size);
    return create(FetchGitRefsResponseSchema, { refNames: page, nextPageToken: deps.tokens.issue(query, names.length > size ? page.at(-1) : undefined) });
  }

  async function token(request: FetchReadTokenRequest | FetchReadWriteTokenRequest, access: GitAccess, context: CallContext) {
    const { link, connection } = await load(request.gitRepositoryLink, 'git_repository_link');
    // The upstream must be usable (connection enabled, credentials known) for the token to be worth anything;
    // the host itself is called by the git proxy, when git uses the token.
    upstreamOf(connection, link.cloneUri, credentials(context));
    if (!connection.gitProxyConfig?.enabled) {
      throw new ApiError(Code.FAILED_PRECONDITION, `Connection '${connection.name}' does not have its git proxy enabled (git_proxy_config.enabled), through which the token is used.`, {
        reason: 'GIT_PROXY_DISABLED',
        metadata: { resource: connection.name },
      });
    }
    const minted = deps.gitTokens.mint(link.name, access);
    const fields = { token: minted.token, expirationTime: timestampFromDate(minted.expires), gitUsername: GIT_USERNAME };
    return access === 'read' ? create(FetchReadTokenResponseSchema, fields) : create(FetchReadWriteTokenResponseSchema, fields);
  }

  return [
    { method: DeveloperConnect.method.fetchGitRefs, permission: 'developerconnect.gitRepositoryLinks.fetchGitRefs', on: 'gitRepositoryLink', run: (r, context) => fetchGitRefs(r as FetchGitRefsRequest, context) },
    { method: DeveloperConnect.method.fetchReadToken, permission: 'developerconnect.gitRepositoryLinks.fetchReadToken', on: 'gitRepositoryLink', run: (r, context) => token(r as FetchReadTokenRequest, 'read', context) },
    { method: DeveloperConnect.method.fetchReadWriteToken, permission: 'developerconnect.gitRepositoryLinks.fetchReadWriteToken', on: 'gitRepositoryLink', run: (r, context) => token(r as FetchReadWriteTokenRequest, 'read-write', context) },
  ];
}
