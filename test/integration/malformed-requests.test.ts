import assert from 'node:assert/strict';
import { connect as connectTcp } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { PARENT, startTestServer, type TestServer } from '../support/server.js';

describe("a client that goes away is not the server's fault", () => {
  let server: TestServer;
  const logged: { level: number; msg: string }[] = [];
  before(async () => {
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logged.push(JSON.parse(line) as { level: number; msg: string }) });
    server = await startTestServer({ logger });
  });
  after(() => server.stop());

  test('one that closes the connection mid-body is logged at debug, not as an unexpected error', async () => {
    const socket = connectTcp(server.port, '127.0.0.1');
    // With Expect: 100-continue, node:http says "100 Continue" as it hands the request over, so
    // the client knows the REST transport is reading the body when it goes away.
    const continued = new Promise((resolve) => socket.once('data', resolve));
    socket.write(`POST /v1/${PARENT}/connections?connectionId=gone HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n`);
    assert.match(String(await continued), /^HTTP\/1\.1 100 Continue/);
    socket.end('{"git');
    const said = /before sending the whole request body/;
    for (let i = 0; i < 200 && !logged.some((line) => said.test(line.msg)); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    const line = logged.find((l) => said.test(l.msg));
    assert.equal(line?.level, 20, `logged at debug: ${JSON.stringify(logged)}`);
    assert.deepEqual(logged.filter((l) => l.level >= 40), [], 'nothing at warn or error');
  });
});
