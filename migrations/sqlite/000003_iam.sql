-- IAM allow policies, one per resource: 'projects/{project}', or '*' for the server-wide root policy.
-- bindings is a JSON array of {role, members}; etag is what setIamPolicy compares before it writes.
CREATE TABLE iam_policies (
  resource TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  bindings TEXT NOT NULL,
  etag TEXT NOT NULL
);

-- Groups named by `group:` members, as the --iam-policy file defines them; members is a JSON array.
CREATE TABLE iam_groups (
  email TEXT PRIMARY KEY,
  members TEXT NOT NULL
);
