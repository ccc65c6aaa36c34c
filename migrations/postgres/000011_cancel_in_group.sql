-- A cancel's flag as one more kind of write of a group commit, so that it and the outcome of a
-- handler that stops at once (queued right behind it on the node that runs the operation) commit
-- in one statement: one round trip and one flush, where the flag on its own took one of each
-- before the handler was even asked to stop. It answers {"row": the operation's row as it is
-- after the flag} (to_jsonb, bytea as '\x…' hex), or {"ok": true, "updated": false} when there is
-- no such operation. The flag's notification goes out at the commit.
CREATE FUNCTION devconnect_cancel(w jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  flagged operations%ROWTYPE;
BEGIN
  UPDATE operations SET requested_cancellation = true WHERE name = w->>'name' AND NOT done RETURNING * INTO flagged;
  IF FOUND THEN
    PERFORM pg_notify('devconnect_operations', (w->>'notify') || (w->>'name'));
  ELSE
    -- Done already (its answer says so) or not there.
    SELECT * INTO flagged FROM operations WHERE name = w->>'name';
    IF NOT FOUND THEN
      RETURN '{"ok": true, "updated": false}'::jsonb;
    END IF;
  END IF;
  RETURN jsonb_build_object('row', to_jsonb(flagged));
END $$;

-- As in 000007, with cancels among the writes.
CREATE OR REPLACE FUNCTION devconnect_write_all(ws jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  w jsonb;
  answers jsonb := '[]'::jsonb;
BEGIN
  FOR w IN SELECT value FROM jsonb_array_elements(ws) WITH ORDINALITY ORDER BY ordinality LOOP
    IF w->>'kind' = 'cancel' THEN
      answers := answers || jsonb_build_array(devconnect_cancel(w));
    ELSE
      answers := answers || jsonb_build_array(devconnect_write(w));
    END IF;
  END LOOP;
  RETURN answers;
END $$;
