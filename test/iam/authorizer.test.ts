import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ApiError, Code } from '../../src/common/errors.js';
import { CLOUD_PLATFORM_SCOPE, type Principal } from '../../src/auth/principal.js';
import { bootstrapOwner, IamAuthorizer } from '../../src/iam/authorizer.js';
import { IamPolicies, ROOT_RESOURCE } from '../../src/iam/policies.js';
import { normalizePolicy, type PolicyInput } from '../../src/iam/policy.js';
import { SqliteStore } from '../../src/store/sqlite.js';

const CANCEL = 'developerconnect.operations.cancel';
const GET = 'developerconnect.operations.get';
const OP = 'projects/demo/locations/us-central1/operations/operation-1';

const principal = (member: string): Principal => ({ member, scopes: [CLOUD_PLATFORM_SCOPE] });

let stores: SqliteStore[] = [];
afterEach(async () => {
  await Promise.all(stores.map((s) => s.close()));
  stores = [];
});

/** A store, its policies and an authorizer over them, with the given policies and groups set. */
async function setup(policies: Record<string, PolicyInput['bindings']>, groups: Record<string, string[]> = {}) {
  const store = SqliteStore.open(':memory:');
  stores.push(store);
  const iam = new IamPolicies(store);
  for (const [resource, bindings] of Object.entries(policies)) await iam.set(resource, normalizePolicy({ bindings }));
  await iam.setGroups(groups);
  return { store, iam, authorizer: new IamAuthorizer(iam) };
}

async function allowed(authorizer: IamAuthorizer, member: string, permission: string, resource = OP): Promise<boolean> {
  try {
    await authorizer.check(principal(member), permission, resource);
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.code === Code.PERMISSION_DENIED) return false;
    throw error;
  }
}

describe('IamAuthorizer', () => {
  it('grants a user: member what its role holds on the project, and nothing else', async () => {
    const { authorizer } = await setup({ 'projects/demo': [{ role: 'roles/developerconnect.viewer', members: ['user:alice@example.com'] }] });
    assert.equal(await allowed(authorizer, 'user:alice@example.com', GET), true);
    assert.equal(await allowed(authorizer, 'user:alice@example.com', CANCEL), false, 'the viewer role does not cancel');
    assert.equal(await allowed(authorizer, 'user:bob@example.com', GET), false, 'another user');
    assert.equal(await allowed(authorizer, 'serviceAccount:alice@example.com', GET), false, 'same email, another kind of member');
    assert.equal(await allowed(authorizer, 'user:alice@example.com', GET, 'projects/other/locations/us-central1/operations/x'), false, 'another project');
  });

  it('grants a serviceAccount: member, and compares emails without case', async () => {
    const { authorizer } = await setup({ 'projects/demo': [{ role: 'roles/developerconnect.admin', members: ['serviceAccount:CI@demo.iam.gserviceaccount.com'] }] });
    assert.equal(await allowed(authorizer, 'serviceAccount:ci@demo.iam.gserviceaccount.com', CANCEL), true);
    assert.equal(await allowed(authorizer, 'serviceAccount:Ci@Demo.iam.gserviceaccount.com', CANCEL), true);
  });

  it('grants a group: member to every member of the group, also through nested groups', async () => {
    const { authorizer } = await setup(
      { 'projects/demo': [{ role: 'roles/developerconnect.admin', members: ['group:devs@example.com'] }] },
      { 'devs@example.com': ['user:carol@example.com', 'group:interns@example.com'], 'interns@example.com': ['user:dan@example.com'] },
    );
    assert.equal(await allowed(authorizer, 'user:carol@example.com', CANCEL), true);
    assert.equal(await allowed(authorizer, 'user:dan@example.com', CANCEL), true, 'member of a group in the group');
    assert.equal(await allowed(authorizer, 'user:erin@example.com', CANCEL), false);
    assert.equal(await allowed(authorizer, 'group:devs@example.com', CANCEL), true, 'the group itself as a principal');
  });

  it('follows groups that contain each other without looping', async () => {
    const { authorizer } = await setup(
      { 'projects/demo': [{ role: 'roles/viewer', members: ['group:a@example.com'] }] },
      { 'a@example.com': ['group:b@example.com'], 'b@example.com': ['group:a@example.com', 'user:x@example.com'] },
    );
    assert.equal(await allowed(authorizer, 'user:x@example.com', GET), true);
  });

  it('allAuthenticatedUsers matches every principal with a member; allUsers matches even one without', async () => {
    const { authorizer } = await setup({
      'projects/demo': [{ role: 'roles/developerconnect.viewer', members: ['allAuthenticatedUsers'] }],
      'projects/open': [{ role: 'roles/developerconnect.viewer', members: ['allUsers'] }],
    });
    assert.equal(await allowed(authorizer, 'user:anyone@example.com', GET), true);
    assert.equal(await allowed(authorizer, 'serviceAccount:x@p.iam.gserviceaccount.com', GET), true);
    assert.equal(await allowed(authorizer, '', GET), false, 'no member: not authenticated');
    const open = 'projects/open/locations/us-central1/operations/x';
    assert.equal(await allowed(authorizer, 'user:anyone@example.com', GET, open), true);
    assert.equal(await allowed(authorizer, '', GET, open), true);
  });

  it('the root policy (*) applies to every project and to resources outside projects', async () => {
    const { authorizer } = await setup({ [ROOT_RESOURCE]: [{ role: 'roles/owner', members: ['user:root@example.com'] }] });
    assert.equal(await allowed(authorizer, 'user:root@example.com', CANCEL), true);
    assert.equal(await allowed(authorizer, 'user:root@example.com', CANCEL, 'projects/any-other/locations/l/operations/o'), true);
    assert.equal(await allowed(authorizer, 'user:root@example.com', 'resourcemanager.projects.setIamPolicy', 'projects/any'), true);
    assert.equal(await allowed(authorizer, 'user:root@example.com', GET, 'somewhere/else'), true);
    assert.equal(await allowed(authorizer, 'user:someone@example.com', GET, 'somewhere/else'), false);
  });

  it('basic roles: viewer reads, editor also changes, only owner sets IAM policies', async () => {
    const { authorizer } = await setup({
      'projects/demo': [
        { role: 'roles/viewer', members: ['user:v@example.com'] },
        { role: 'roles/editor', members: ['user:e@example.com'] },
        { role: 'roles/owner', members: ['user:o@example.com'] },
      ],
    });
    const can = (member: string, permission: string, resource = OP) => allowed(authorizer, member, permission, resource);
    assert.deepEqual(
      await Promise.all(['user:v@example.com', 'user:e@example.com', 'user:o@example.com'].map((m) => can(m, GET))),
      [true, true, true],
    );
    assert.deepEqual(
      await Promise.all(['user:v@example.com', 'user:e@example.com', 'user:o@example.com'].map((m) => can(m, CANCEL))),
      [false, true, true],
    );
    assert.deepEqual(
      await Promise.all(['user:v@example.com', 'user:e@example.com', 'user:o@example.com'].map((m) => can(m, 'resourcemanager.projects.getIamPolicy', 'projects/demo'))),
      [true, true, true],
    );
    assert.deepEqual(
      await Promise.all(['user:v@example.com', 'user:e@example.com', 'user:o@example.com'].map((m) => can(m, 'resourcemanager.projects.setIamPolicy', 'projects/demo'))),
      [false, false, true],
    );
    // Google's table: token fetching is Owner's among the basic roles, not Editor's.
    assert.equal(await can('user:e@example.com', 'developerconnect.gitRepositoryLinks.fetchReadWriteToken'), false);
    assert.equal(await can('user:o@example.com', 'developerconnect.gitRepositoryLinks.fetchReadWriteToken'), true);
  });

  it("denies in Google's words, with an ErrorInfo naming the permission and the resource, whether or not the resource exists", async () => {
    const { authorizer } = await setup({});
    for (const resource of [OP, 'projects/never/locations/nowhere/operations/none']) {
      await assert.rejects(async () => authorizer.check(principal('user:mallory@example.com'), CANCEL, resource), (error: unknown) => {
        assert.ok(error instanceof ApiError);
        assert.equal(error.code, Code.PERMISSION_DENIED);
        assert.equal(error.message, `Permission 'developerconnect.operations.cancel' denied on resource '${resource}' (or it may not exist).`);
        assert.deepEqual(error.errorInfo, {
          reason: 'IAM_PERMISSION_DENIED',
          domain: 'iam.googleapis.com',
          metadata: { permission: CANCEL, resource },
        });
        return true;
      });
    }
  });

  it('permitted() answers the subset of permissions held, in the order asked', async () => {
    const { authorizer } = await setup({ 'projects/demo': [{ role: 'roles/developerconnect.viewer', members: ['user:alice@example.com'] }] });
    const asked = [CANCEL, GET, 'developerconnect.connections.list', 'not.a.permission'];
    assert.deepEqual(await authorizer.permitted(principal('user:alice@example.com'), 'projects/demo', asked), [GET, 'developerconnect.connections.list']);
    assert.deepEqual(await authorizer.permitted(principal('user:bob@example.com'), 'projects/demo', asked), []);
  });

  it('sees a policy set through IamPolicies at once: the cache is invalidated on every set', async () => {
    const { iam, authorizer } = await setup({});
    assert.equal(await allowed(authorizer, 'user:alice@example.com', CANCEL), false, 'loads (and caches) the empty policy');
    await iam.set('projects/demo', normalizePolicy({ bindings: [{ role: 'roles/editor', members: ['user:alice@example.com'] }] }));
    assert.equal(await allowed(authorizer, 'user:alice@example.com', CANCEL), true);
    await iam.set('projects/demo', normalizePolicy({ bindings: [] }));
    assert.equal(await allowed(authorizer, 'user:alice@example.com', CANCEL), false, 'revoking takes effect at once too');
  });

  it('sees groups set through IamPolicies at once', async () => {
    const { iam, authorizer } = await setup({ 'projects/demo': [{ role: 'roles/editor', members: ['group:devs@example.com'] }] });
    assert.equal(await allowed(authorizer, 'user:alice@example.com', CANCEL), false);
    await iam.setGroups({ 'devs@example.com': ['user:alice@example.com'] });
    assert.equal(await allowed(authorizer, 'user:alice@example.com', CANCEL), true);
  });
});

describe('bootstrapOwner', () => {
  it('creates the root policy with the member as owner of everything, once', async () => {
    const { store, authorizer } = await setup({});
    assert.equal(await bootstrapOwner(store, 'user:admin@example.com'), true);
    assert.equal(await allowed(authorizer, 'user:admin@example.com', 'resourcemanager.projects.setIamPolicy', 'projects/anything'), true);
    assert.equal(await bootstrapOwner(store, 'user:intruder@example.com'), false, 'a root policy exists: nothing changes');
    assert.deepEqual((await store.getIamPolicy(ROOT_RESOURCE))?.bindings, [{ role: 'roles/owner', members: ['user:admin@example.com'] }]);
  });
});
