import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { etagOf } from '../../src/iam/policy.js';
import { applyPolicyFile, loadPolicyFile } from '../../src/iam/policy-file.js';
import { SqliteStore } from '../../src/store/sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'devconnect-policy-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function file(content: unknown): string {
  const path = join(dir, `policy-${++n}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const EXAMPLE = {
  policies: {
    '*': { bindings: [{ role: 'roles/owner', members: ['user:admin@example.com'] }] },
    'projects/demo': {
      version: 1,
      etag: 'BwWWja0YfJA=',
      bindings: [{ role: 'roles/developerconnect.viewer', members: ['user:a@example.com', 'group:devs@example.com'] }],
    },
  },
  groups: { 'devs@example.com': ['user:b@example.com'] },
};

describe('loadPolicyFile', () => {
  it('reads policies by resource and groups, in canonical form', () => {
    assert.deepEqual(loadPolicyFile(file(EXAMPLE)), {
      policies: {
        '*': { version: 1, bindings: [{ role: 'roles/owner', members: ['user:admin@example.com'] }] },
        'projects/demo': { version: 1, bindings: [{ role: 'roles/developerconnect.viewer', members: ['group:devs@example.com', 'user:a@example.com'] }] },
      },
      groups: { 'devs@example.com': ['user:b@example.com'] },
    });
    assert.deepEqual(loadPolicyFile(file({})), { policies: {}, groups: {} });
  });

  it('names the file and the entry in every error', () => {
    const cases: [unknown, RegExp][] = [
      ['{not json', /cannot read the IAM policy file/],
      [[], /the file: must be a JSON object/],
      [{ polices: {} }, /the file: unknown field "polices"/],
      [{ policies: { 'folders/1': { bindings: [] } } }, /policies\["folders\/1"\]: resource 'folders\/1' is not a valid name/],
      [{ policies: { 'projects/demo': { bindings: [{ role: 'roles/nope', members: ['user:a@example.com'] }] } } }, /policies\["projects\/demo"\]: Role roles\/nope is not supported/],
      [{ policies: { 'projects/demo': { bindings: [{ role: 'roles/viewer', members: 'user:a@example.com' }] } } }, /bindings\[0\]\.members: must be a JSON array/],
      [{ policies: { 'projects/demo': { bindings: [{ role: 'roles/viewer', members: ['group:ghosts@example.com'] }] } } }, /group:ghosts@example\.com is a member in the file but its group is not defined/],
      [{ groups: { 'devs@example.com': ['allUsers'] } }, /groups: Member 'allUsers' of group devs@example\.com is not valid/],
    ];
    for (const [content, message] of cases) {
      const path = file(content);
      assert.throws(() => loadPolicyFile(path), (error: Error) => error.message.startsWith(`${path}: `) && message.test(error.message), String(message));
    }
  });
});

describe('applyPolicyFile', () => {
  it("replaces the named resources' policies and every group, and keeps other policies", async () => {
    const store = SqliteStore.open(':memory:');
    try {
      const other = { version: 1, bindings: [{ role: 'roles/viewer', members: ['user:z@example.com'] }] };
      await store.setIamPolicy({ resource: 'projects/other', ...other, etag: etagOf(other) });
      await store.setIamGroups({ 'old@example.com': ['user:o@example.com'] });
      const loaded = loadPolicyFile(file(EXAMPLE));
      await applyPolicyFile(store, loaded);
      const demo = loaded.policies['projects/demo'];
      assert.ok(demo);
      assert.deepEqual(await store.getIamPolicy('projects/demo'), { resource: 'projects/demo', ...demo, etag: etagOf(demo) });
      assert.equal((await store.getIamPolicy('*'))?.bindings[0]?.role, 'roles/owner');
      assert.deepEqual((await store.getIamPolicy('projects/other'))?.bindings, other.bindings);
      assert.deepEqual(await store.getIamGroups(), { 'devs@example.com': ['user:b@example.com'] });
    } finally {
      await store.close();
    }
  });
});
