-- IAM allow policies, one per resource: 'projects/{project}', or '*' for the server-wide root policy.
-- bindings is a JSON array of {role, members}; etag is what setIamPolicy compares before it writes,
-- in the same statement that writes (UPDATE ... WHERE etag = ...), so two nodes cannot both win.
CREATE TABLE iam_policies (
  resource text PRIMARY KEY,
  version integer NOT NULL,
  bindings jsonb NOT NULL,
  etag text NOT NULL
);

-- Groups named by `group:` members, as the --iam-policy file defines them; members is a JSON array.
CREATE TABLE iam_groups (
  email text PRIMARY KEY,
  members jsonb NOT NULL
);
