import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError, Code } from '../../src/common/errors.js';
import { EMPTY_POLICY, etagOf, normalizePolicy } from '../../src/iam/policy.js';
import { ROLES } from '../../src/iam/roles.js';

const invalid = (work: () => unknown, message: RegExp) =>
  assert.throws(work, (error: unknown) => error instanceof ApiError && error.code === Code.INVALID_ARGUMENT && message.test(error.message));

describe('normalizePolicy', () => {
  it('merges bindings of one role, sorts roles and members, drops empty bindings and lowercases emails', () => {
    const policy = normalizePolicy({
      bindings: [
        { role: 'roles/viewer', members: ['user:B@Example.com', 'allUsers'] },
        { role: 'roles/developerconnect.admin', members: ['serviceAccount:ci@p.iam.gserviceaccount.com'] },
        { role: 'roles/viewer', members: ['user:b@example.com', 'group:devs@example.com'] },
        { role: 'roles/editor', members: [] },
      ],
    });
    assert.deepEqual(policy, {
      version: 1,
      bindings: [
        { role: 'roles/developerconnect.admin', members: ['serviceAccount:ci@p.iam.gserviceaccount.com'] },
        { role: 'roles/viewer', members: ['allUsers', 'group:devs@example.com', 'user:b@example.com'] },
      ],
    });
  });

  it('accepts versions 0 (meaning 1), 1 and 3 and refuses others', () => {
    assert.equal(normalizePolicy({ bindings: [] }).version, 1);
    assert.equal(normalizePolicy({ version: 3, bindings: [] }).version, 3);
    invalid(() => normalizePolicy({ version: 2, bindings: [] }), /^Policy version 2 is not valid/);
  });

  it('refuses unknown roles, unsupported members and conditions', () => {
    invalid(() => normalizePolicy({ bindings: [{ role: 'roles/developerconnect.nope', members: ['user:a@example.com'] }] }), /^Role roles\/developerconnect\.nope is not supported for this resource\.$/);
    invalid(() => normalizePolicy({ bindings: [{ role: 'projects/p/roles/custom', members: ['user:a@example.com'] }] }), /is not supported/);
    for (const member of ['alice@example.com', 'user:', 'user:alice', 'domain:example.com', 'deleted:user:a@example.com?uid=1', 'robot:a@example.com']) {
      invalid(() => normalizePolicy({ bindings: [{ role: 'roles/viewer', members: [member] }] }), /^Policy member '.*' is not valid/);
    }
    invalid(() => normalizePolicy({ bindings: [{ role: 'roles/viewer', members: ['user:a@example.com'], condition: { expression: 'true' } }] }), /IAM Conditions/);
  });
});

describe('etagOf', () => {
  it('is the same for equal policies and differs when the policy changes', () => {
    const a = normalizePolicy({ bindings: [{ role: 'roles/viewer', members: ['user:a@example.com', 'user:b@example.com'] }] });
    const b = normalizePolicy({ bindings: [{ role: 'roles/viewer', members: ['user:b@example.com'] }, { role: 'roles/viewer', members: ['user:a@example.com'] }] });
    assert.equal(etagOf(a), etagOf(b));
    assert.notEqual(etagOf(a), etagOf(EMPTY_POLICY));
    assert.notEqual(etagOf(a), etagOf({ ...a, version: 3 }));
    assert.equal(Buffer.from(etagOf(a), 'base64').length, 8);
  });
});

describe('ROLES', () => {
  it("gives each Developer Connect role the permissions on Google's page", () => {
    assert.deepEqual([...(ROLES['roles/developerconnect.readTokenAccessor'] ?? [])].sort(), [
      'developerconnect.connections.get',
      'developerconnect.gitRepositoryLinks.fetchReadToken',
      'developerconnect.gitRepositoryLinks.get',
    ]);
    assert.ok(ROLES['roles/developerconnect.admin']?.includes('developerconnect.operations.cancel'));
    assert.ok(!ROLES['roles/developerconnect.viewer']?.includes('developerconnect.operations.cancel'));
    assert.ok(!ROLES['roles/developerconnect.admin']?.includes('developerconnect.gitRepositoryLinks.fetchReadWriteToken'));
  });

  it('nests the basic roles: everything Viewer has, Editor has; everything Editor has, Owner has', () => {
    const viewer = ROLES['roles/viewer'] ?? [];
    const editor = new Set(ROLES['roles/editor']);
    const owner = new Set(ROLES['roles/owner']);
    assert.ok(viewer.every((p) => editor.has(p)));
    assert.ok([...editor].every((p) => owner.has(p)));
    for (const [role, permissions] of Object.entries(ROLES)) {
      for (const permission of permissions) {
        if (permission.startsWith('developerconnect.')) assert.ok(owner.has(permission), `${role}'s ${permission} is Owner's too`);
      }
    }
  });
});
