import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { anyPack, EmptySchema } from '@bufbuild/protobuf/wkt';
import { rest, startTestServer, untilDone, type TestServer } from '../support/server.js';

type Json = Record<string, unknown>;
const PARENT = 'projects/status/locations/us-central1';

function metadataOf(operation: Json): Json {
  return operation.metadata as Json;
}

/**
 * A handler that reports progress: it says "started", then waits for a go-ahead given by the test
 * (its input names it), reports "halfway", and ends. The engine must commit each report before the
 * handler goes on, also when the report comes before the operation's first commit.
 */
describe('a handler reports statusMessage, and GetOperation shows it', () => {
  let server: TestServer;
  const gates = new Map<string, () => void>();

  before(async () => {
    server = await startTestServer();
    server.engine.register({
      kind: 'test.progress',
      cancellable: true,
      afterRestart: 'fail',
      run: async (input, context) => {
        await context.reportStatus('started');
        await new Promise<void>((go) => gates.set(input, go));
        await context.reportStatus('halfway');
        return { response: anyPack(EmptySchema, create(EmptySchema)) };
      },
    });
  });
  after(() => server.stop());

  test('reports made before and after the first commit are both seen, and the last one stays', async () => {
    const record = await server.engine.start({ parent: PARENT, kind: 'test.progress', input: 'a', verb: 'update', target: `${PARENT}/connections/a` });
    assert.equal(record.done, false, 'work that waits is returned running');
    for (let i = 0; i < 100 && !gates.has('a'); i++) await new Promise((r) => setTimeout(r, 5));
    const running = await rest(server.url, 'GET', `/v1/${record.name}`);
    assert.equal(metadataOf(running.body).statusMessage, 'started');
    gates.get('a')?.();
    const done = await untilDone(server.url, record.name);
    assert.equal(metadataOf(done).statusMessage, 'halfway');
    const stored = await server.store.getOperation(record.name);
    assert.equal(stored?.statusMessage, 'halfway', 'committed, not only cached');
  });
});
