-- The writes that carry resource changes (a new operation, an operation's outcome, a change of its
-- own) as one server-side function: one round trip per write instead of one per statement. A
-- group commit (postgres-group-commit.ts) runs many writes in one transaction, one after another
-- on one connection; at ~0.3 ms a round trip, the seven statements of a create were most of its
-- cost (and devconnect_write_all takes a run of writes in one call). In this order:
--   1. AIP-155 request id: wait for another node's write of the same id, then answer its operation.
--   2. Lease: an outcome is written only by the node that holds the operation.
--   3. Advisory locks on the names read and written (exclusive, then shared, each sorted).
--   4. Preconditions of the call, then of the change: the first that fails is the answer, and
--      nothing has been written.
--   5. The change (delete, cascade, children, put with its index entries), then the operation row,
--      and the notification other nodes wait for.
-- It answers jsonb: {"ok": true, "updated": bool} | {"earlier": the operation's row} | {"refused": "request-reused"}
-- | {"refused": "lease-lost"} | {"refused": "precondition", "of": "require"|"change", "index": i}.

-- The index of the first precondition of `preconditions` that does not hold, or -1.
CREATE FUNCTION devconnect_failed_precondition(preconditions jsonb) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  p jsonb;
  i integer := 0;
  stored text;
  found_row boolean;
BEGIN
  FOR p IN SELECT * FROM jsonb_array_elements(COALESCE(preconditions, '[]'::jsonb)) LOOP
    IF p->>'kind' = 'no-children' THEN
      IF EXISTS (SELECT 1 FROM resources WHERE parent = p->>'name') THEN RETURN i; END IF;
    ELSE
      SELECT COALESCE(etag, ''), true INTO stored, found_row FROM resources WHERE name = p->>'name';
      found_row := COALESCE(found_row, false);
      IF (p->>'kind' = 'absent' AND found_row)
        OR (p->>'kind' IN ('exists', 'parent-exists') AND NOT found_row)
        OR (p->>'kind' = 'etag' AND (NOT found_row OR stored <> p->>'etag')) THEN
        RETURN i;
      END IF;
    END IF;
    i := i + 1;
    stored := NULL;
    found_row := NULL;
  END LOOP;
  RETURN -1;
END $$;

-- Writes a change whose locks are held and whose preconditions hold.
CREATE FUNCTION devconnect_apply_change(change jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  put jsonb := change->'put';
  put_seq bigint;
BEGIN
  IF change ? 'delete' THEN
    DELETE FROM resources WHERE name = change->'delete'->>'name';
    IF (change->'delete'->>'cascade')::boolean THEN
      -- The names below `name/`: from 'name/' up to, not including, 'name0' ('0' follows '/'; the column compares bytes).
      DELETE FROM resources WHERE name >= (change->'delete'->>'name') || '/' AND name < (change->'delete'->>'name') || '0';
    END IF;
  END IF;
  IF change ? 'deleteChildrenOf' THEN
    DELETE FROM resources WHERE name >= (change->>'deleteChildrenOf') || '/' AND name < (change->>'deleteChildrenOf') || '0';
  END IF;
  IF put IS NOT NULL THEN
    -- An update keeps the row (and its seq), so a listing keeps its order.
    INSERT INTO resources (name, parent, collection, etag, data, indexed)
    VALUES (put->>'name', put->>'parent', put->>'collection', put->>'etag', decode(put->>'data', 'base64'), put ? 'index')
    ON CONFLICT (name) DO UPDATE SET parent = excluded.parent, collection = excluded.collection, etag = excluded.etag,
      data = excluded.data, indexed = excluded.indexed
    RETURNING seq INTO put_seq;
    DELETE FROM resource_fields WHERE resource_seq = put_seq;
    IF put ? 'index' THEN
      INSERT INTO resource_fields (resource_seq, scope, field, text_value, number_value, bool_value)
      SELECT put_seq, (put->>'scope')::bigint, e->>0, e->>1, (e->>2)::float8, (e->>3)::boolean
      FROM jsonb_array_elements(put->'index') AS e;
    END IF;
  END IF;
END $$;

CREATE FUNCTION devconnect_write(w jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  kind text := w->>'kind';
  earlier record;
  holder record;
  failed integer;
  outcome jsonb := w->'outcome';
  updated integer := 0;
BEGIN
  IF w ? 'request' THEN
    -- Retries of one request on two nodes: the second waits for the first's commit, then finds its operation.
    PERFORM pg_advisory_xact_lock(hashtextextended(w->'request'->>'key', 1));
    SELECT * INTO earlier FROM operations WHERE request_key = w->'request'->>'key';
    IF FOUND THEN
      IF earlier.request_fingerprint IS DISTINCT FROM w->'request'->>'fingerprint' THEN
        RETURN '{"refused": "request-reused"}'::jsonb;
      END IF;
      -- The first request's operation as it is now (bytea as '\x…' hex, bigint as a number).
      RETURN jsonb_build_object('earlier', to_jsonb(earlier));
    END IF;
  END IF;
  IF kind = 'finish' AND w ? 'owner' THEN
    -- Locked until the commit: a node claiming the operation now waits, then finds it done.
    SELECT owner INTO holder FROM operations WHERE name = w->>'name' FOR UPDATE;
    IF FOUND AND holder.owner IS DISTINCT FROM w->>'owner' THEN
      RETURN '{"refused": "lease-lost"}'::jsonb;
    END IF;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended(n, 0)) FROM jsonb_array_elements_text(w->'exclusive') AS n;
  PERFORM pg_advisory_xact_lock_shared(hashtextextended(n, 0)) FROM jsonb_array_elements_text(w->'shared') AS n;
  failed := devconnect_failed_precondition(w->'require');
  IF failed >= 0 THEN
    RETURN jsonb_build_object('refused', 'precondition', 'of', 'require', 'index', failed);
  END IF;
  IF w ? 'change' THEN
    failed := devconnect_failed_precondition(w->'change'->'require');
    IF failed >= 0 THEN
      RETURN jsonb_build_object('refused', 'precondition', 'of', 'change', 'index', failed);
    END IF;
    PERFORM devconnect_apply_change(w->'change');
  END IF;
  IF kind = 'insert' THEN
    INSERT INTO operations (name, parent, kind, input, verb, target, create_time, done, end_time, error_code, error_message,
      response_type, response_value, request_key, request_fingerprint, owner, lease_until)
    VALUES (w->'op'->>'name', w->'op'->>'parent', w->'op'->>'kind', w->'op'->>'input', w->'op'->>'verb', w->'op'->>'target',
      (w->'op'->>'createTime')::bigint, outcome IS NOT NULL, (outcome->>'endTime')::bigint, (outcome->>'errorCode')::integer,
      outcome->>'errorMessage', outcome->>'responseType', decode(outcome->>'responseValue', 'base64'),
      w->'request'->>'key', w->'request'->>'fingerprint', w->>'owner', (w->>'leaseUntil')::bigint);
    updated := 1;
    -- Other nodes' live views (the console) learn of it.
    PERFORM pg_notify('devconnect_operations', (w->>'notify') || (w->'op'->>'name'));
  ELSIF kind = 'finish' THEN
    -- `NOT done` is checked again on the row once locked: of two nodes finishing it, one does.
    UPDATE operations SET done = true, end_time = (outcome->>'endTime')::bigint, error_code = (outcome->>'errorCode')::integer,
      error_message = outcome->>'errorMessage', response_type = outcome->>'responseType',
      response_value = decode(outcome->>'responseValue', 'base64')
    WHERE name = w->>'name' AND NOT done;
    GET DIAGNOSTICS updated = ROW_COUNT;
    IF updated > 0 THEN
      PERFORM pg_notify('devconnect_operations', (w->>'notify') || (w->>'name'));
    END IF;
  END IF;
  RETURN jsonb_build_object('ok', true, 'updated', updated > 0);
END $$;

-- A group commit's consecutive writes in one call, in order: one round trip for the whole run of
-- them. A refusal is an answer, not an error (nothing of that write was written), so the others go on.
CREATE FUNCTION devconnect_write_all(ws jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  w jsonb;
  answers jsonb := '[]'::jsonb;
BEGIN
  FOR w IN SELECT value FROM jsonb_array_elements(ws) WITH ORDINALITY ORDER BY ordinality LOOP
    answers := answers || jsonb_build_array(devconnect_write(w));
  END LOOP;
  RETURN answers;
END $$;
