import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import {
  CreateConnectionRequestSchema,
  GitHubConfigSchema,
  GitHubConfig_GitHubApp,
} from '../../src/gen/google/cloud/developerconnect/v1/developer_connect_pb.js';
import { OperationSchema } from '../../src/gen/google/longrunning/operations_pb.js';
import { BadRequestSchema } from '../../src/gen/google/rpc/error_details_pb.js';
import { StatusSchema } from '../../src/gen/google/rpc/status_pb.js';
import { createConnection, PARENT, startTestServer, untilDone, type TestServer } from '../support/server.js';
import { storeSnapshot } from '../support/store-snapshot.js';

type Json = Record<string, unknown>;
const CONNECTIONS = `/v1/${PARENT}/connections`;
const GITHUB = { githubConfig: { githubApp: 'DEVELOPER_CONNECT' } };

interface Answer {
  status: number;
  body: Json;
}

/** A POST with a body and no Content-Type at all (fetch would add text/plain). */
function postWithoutType(server: TestServer, path: string, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(server.url + path, { method: 'POST', headers: { 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Json }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function call(server: TestServer, method: string, path: string, body?: string | Uint8Array<ArrayBuffer>, contentType: string | undefined = 'application/json'): Promise<Answer> {
  const headers: Record<string, string> = body !== undefined && contentType !== undefined ? { 'content-type': contentType } : {};
  const response = await fetch(server.url + path, { method, headers, body });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Json) };
}

/** The AIP-193 error of an answer: 400 INVALID_ARGUMENT, and the fields its BadRequest names. */
function badRequest(answer: Answer, what: string): { message: string; fields: string[] } {
  assert.equal(answer.status, 400, `${what}: ${JSON.stringify(answer.body)}`);
  const error = answer.body.error as Json;
  assert.equal(error.status, 'INVALID_ARGUMENT', what);
  const details = (error.details as Json[]) ?? [];
  const violations = details.find((d) => d['@type'] === 'type.googleapis.com/google.rpc.BadRequest')?.fieldViolations as Json[] | undefined;
  return { message: error.message as string, fields: (violations ?? []).map((v) => v.field as string) };
}

describe('limits of the protos and of Google, over REST and gRPC', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
    const op = await createConnection(server.url, 'keep-me');
    await untilDone(server.url, op.name as string);
  });
  after(() => server.stop());

  /** A refused call: answered 400 INVALID_ARGUMENT, and every row of the store as it was. */
  async function refused(what: string, send: () => Promise<Answer>): Promise<{ message: string; fields: string[] }> {
    const stored = storeSnapshot(server.dataDir);
    const error = badRequest(await send(), what);
    assert.equal(storeSnapshot(server.dataDir), stored, `${what} changed the store`);
    return error;
  }

  async function refusedCreate(body: unknown, field: string, what: string): Promise<string> {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const { message, fields } = await refused(what, () => call(server, 'POST', `${CONNECTIONS}?connectionId=refused`, text));
    assert.deepEqual(fields, [field], `${what}: ${message}`);
    return message;
  }

  test('an enum number that is not a value of the enum is refused, in JSON', async () => {
    const message = await refusedCreate({ githubConfig: { githubApp: 5 } }, 'connection.github_config.github_app', 'githubApp 5');
    assert.match(message, /not a value of google\.cloud\.developerconnect\.v1\.GitHubConfig\.GitHubApp/);
    // A known number is a value: google-gax sends enums as numbers.
    const ok = await call(server, 'POST', `${CONNECTIONS}?connectionId=by-number&validateOnly=true`, JSON.stringify({ githubConfig: { githubApp: 2 } }));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  test('an integer given as a JSON string is decimal digits, as the proto3 JSON mapping says', async () => {
    for (const value of ['0x10', ' 12', '12 ', '+5', '0b1', '1_000', '']) {
      const message = await refusedCreate({ githubConfig: { githubApp: 'DEVELOPER_CONNECT', appInstallationId: value } }, 'connection.github_config.app_installation_id', `appInstallationId ${JSON.stringify(value)}`);
      assert.match(message, /decimal digits/);
    }
    for (const value of ['16', '-3', 16]) {
      const ok = await call(server, 'POST', `${CONNECTIONS}?connectionId=decimal&validateOnly=true`, JSON.stringify({ githubConfig: { githubApp: 'DEVELOPER_CONNECT', appInstallationId: value } }));
      assert.equal(ok.status, 200, `${JSON.stringify(value)}: ${JSON.stringify(ok.body)}`);
    }
  });

  test('an enum number that is not a value of the enum is refused over gRPC, where protobuf keeps it', async () => {
    const client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    try {
      const githubConfig = create(GitHubConfigSchema, { githubApp: 7 as GitHubConfig_GitHubApp });
      const request = create(CreateConnectionRequestSchema, { parent: PARENT, connectionId: 'grpc-enum', connection: { connectionConfig: { case: 'githubConfig', value: githubConfig } } });
      const stored = storeSnapshot(server.dataDir);
      const error = await new Promise<grpc.ServiceError>((resolve, reject) =>
        client.makeUnaryRequest(
          '/google.cloud.developerconnect.v1.DeveloperConnect/CreateConnection',
          () => Buffer.from(toBinary(CreateConnectionRequestSchema, request)),
          (b: Buffer) => fromBinary(OperationSchema, b),
          request,
          (e) => (e ? resolve(e) : reject(new Error('the call succeeded'))),
        ),
      );
      assert.equal(error.code, grpc.status.INVALID_ARGUMENT, error.details);
      const [details] = error.metadata.get('grpc-status-details-bin');
      const status = fromBinary(StatusSchema, details as Buffer);
      const badRequestDetail = status.details.map((d) => anyUnpack(d, BadRequestSchema)).find((d) => d !== undefined);
      assert.deepEqual(badRequestDetail?.fieldViolations.map((v) => v.field), ['connection.github_config.github_app']);
      assert.equal(storeSnapshot(server.dataDir), stored, 'gRPC githubApp 7 changed the store');
    } finally {
      client.close();
    }
  });

  test("labels follow Google's rules", async () => {
    const labels = (entries: Record<string, string>) => ({ ...GITHUB, labels: entries });
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    assert.match(await refusedCreate(labels(many), 'connection.labels', '65 labels'), /at most 64/);
    const cases: [Record<string, string>, string][] = [
      [{ Env: 'prod' }, 'upper-case key'],
      [{ '1env': 'prod' }, 'key starting with a digit'],
      [{ _env: 'prod' }, 'key starting with an underscore'],
      [{ '': 'prod' }, 'empty key'],
      [{ ['k'.repeat(64)]: 'v' }, '64-character key'],
      [{ env: 'v'.repeat(64) }, '64-character value'],
      [{ env: 'Prod' }, 'upper-case value'],
      [{ env: 'a b' }, 'value with a space'],
      [{ 'env.x': 'a' }, 'key with a dot'],
    ];
    for (const [entries, what] of cases) await refusedCreate(labels(entries), 'connection.labels', what);
    // At the limits, and with international characters, labels are accepted.
    const fine = { ...Object.fromEntries(Array.from({ length: 62 }, (_, i) => [`k${i}`, ''])), ['k'.repeat(63)]: 'v'.repeat(63), équipe: 'café_2-x' };
    const ok = await call(server, 'POST', `${CONNECTIONS}?connectionId=labelled&validateOnly=true`, JSON.stringify(labels(fine)));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  test('labels are held to the same rules on update', async () => {
    const { fields } = await refused('PATCH labels', () => call(server, 'PATCH', `${CONNECTIONS}/keep-me?updateMask=labels`, JSON.stringify({ labels: { BAD: 'x' } })));
    assert.deepEqual(fields, ['connection.labels']);
  });

  test('annotations are limited to 256 KiB of keys and values', async () => {
    const big = { ...GITHUB, annotations: { a: 'x'.repeat(200 * 1024), b: 'y'.repeat(60 * 1024) } };
    assert.match(await refusedCreate(big, 'connection.annotations', 'annotations over 256 KiB'), /262144 bytes/);
    const fits = { ...GITHUB, annotations: { a: 'x'.repeat(200 * 1024), b: 'y'.repeat(50 * 1024) } };
    const ok = await call(server, 'POST', `${CONNECTIONS}?connectionId=annotated&validateOnly=true`, JSON.stringify(fits));
    assert.equal(ok.status, 200, JSON.stringify(ok.body).slice(0, 300));
  });

  test('strings hold no NUL, and text is Unicode', async () => {
    await refusedCreate({ ...GITHUB, annotations: { note: 'a\u0000b' } }, 'connection.annotations["note"]', 'NUL in a value');
    await refusedCreate({ ...GITHUB, annotations: { 'a\u0000': 'b' } }, 'connection.annotations', 'NUL in a key');
    // A lone surrogate has no UTF-8 encoding: neither in JSON nor percent-encoded in a query.
    await refused('lone surrogate', () => call(server, 'POST', `${CONNECTIONS}?connectionId=refused`, '{"githubConfig": {"githubApp": "DEVELOPER_CONNECT"}, "etag": "\\ud800"}'));
    for (const value of ['%ED%A0%80', '%FF', '%C3']) {
      const { message } = await refused(`filter=${value}`, () => call(server, 'GET', `${CONNECTIONS}?filter=${value}`));
      assert.match(message, /percent-encoding/);
    }
    const { fields } = await refused('NUL in a filter', () => call(server, 'GET', `/v1/${PARENT}/operations?filter=${encodeURIComponent('metadata.verb = "a\u0000"')}`));
    assert.deepEqual(fields, ['filter']);
  });

  test('a JSON body that is not UTF-8 is refused, not read with U+FFFD in it', async () => {
    const body = new Uint8Array(Buffer.concat([Buffer.from('{"githubConfig": {"githubApp": "DEVELOPER_CONNECT"}, "annotations": {"a": "'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}')]));
    const { message } = await refused('invalid UTF-8', () => call(server, 'POST', `${CONNECTIONS}?connectionId=latin`, body));
    assert.match(message, /not valid UTF-8/);
  });

  test('ids and names have length limits', async () => {
    const tooLong = 'a'.repeat(64);
    const { fields } = await refused('64-character id', () => call(server, 'POST', `${CONNECTIONS}?connectionId=${tooLong}`, JSON.stringify(GITHUB)));
    assert.deepEqual(fields, ['connection_id']);
    const longest = await call(server, 'POST', `${CONNECTIONS}?connectionId=${'a'.repeat(63)}&validateOnly=true`, JSON.stringify(GITHUB));
    assert.equal(longest.status, 200, JSON.stringify(longest.body));
    await refused('129-character name segment', () => call(server, 'GET', `${CONNECTIONS}/${'a'.repeat(129)}`));
  });

  test('a query parameter for a field that is not repeated is given once', async () => {
    const { message, fields } = await refused('connectionId twice', () => call(server, 'POST', `${CONNECTIONS}?connectionId=aa&connectionId=bb`, JSON.stringify(GITHUB)));
    assert.deepEqual(fields, ['connection_id']);
    assert.match(message, /more than once/);
    assert.deepEqual((await refused('pageSize twice', () => call(server, 'GET', `${CONNECTIONS}?pageSize=1&pageSize=2`))).fields, ['page_size']);
    // A repeated field takes the parameter as often as it is given.
    const mask = await call(server, 'PATCH', `${CONNECTIONS}/keep-me?updateMask=labels&validateOnly=true`, JSON.stringify({ labels: { a: 'b' } }));
    assert.equal(mask.status, 200, JSON.stringify(mask.body));
  });

  test('pageSize is a decimal integer', async () => {
    for (const value of ['0x10', '1e3', '%2B5', '%205', '5%20', '1.0', '', '0b1', 'Infinity']) {
      const { fields } = await refused(`pageSize=${value}`, () => call(server, 'GET', `${CONNECTIONS}?pageSize=${value}`));
      assert.deepEqual(fields, ['page_size'], `pageSize=${value}`);
    }
    for (const value of ['5', '007', '0']) {
      const res = await call(server, 'GET', `${CONNECTIONS}?pageSize=${value}`);
      assert.equal(res.status, 200, `pageSize=${value}: ${JSON.stringify(res.body)}`);
    }
  });

  test('timestamps in filters are dates of the calendar', async () => {
    for (const time of ['2026-02-30T00:00:00Z', '2025-02-29T00:00:00Z', '2026-04-31T00:00:00Z', '2026-13-01T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T00:00:00+24:00']) {
      const filter = encodeURIComponent(`create_time > "${time}"`);
      const { fields, message } = await refused(time, () => call(server, 'GET', `${CONNECTIONS}?filter=${filter}`));
      assert.deepEqual(fields, ['filter'], time);
      assert.match(message, /RFC 3339/, time);
    }
    for (const time of ['2024-02-29T00:00:00Z', '2026-12-31T23:59:59.999Z', '2026-01-01T00:00:00-05:30']) {
      const res = await call(server, 'GET', `${CONNECTIONS}?filter=${encodeURIComponent(`create_time > "${time}"`)}`);
      assert.equal(res.status, 200, `${time}: ${JSON.stringify(res.body)}`);
    }
  });

  test('a body must be application/json, in UTF-8', async () => {
    const body = JSON.stringify(GITHUB);
    const types: [string | undefined, RegExp][] = [
      ['text/plain', /not application\/json/],
      ['application/x-www-form-urlencoded', /not application\/json/],
      ['application/json; charset=iso-8859-1', /charset/],
      ['application/json; boundary=x', /only charset=utf-8/],
      [undefined, /no Content-Type/],
    ];
    for (const [type, why] of types) {
      const path = `${CONNECTIONS}?connectionId=typed`;
      const { message } = await refused(String(type), () => (type === undefined ? postWithoutType(server, path, body) : call(server, 'POST', path, body, type)));
      assert.match(message, why, String(type));
      assert.match(message, /application\/json/, String(type));
    }
    for (const type of ['application/json; charset=UTF-8', 'Application/JSON', 'application/json;charset="utf-8"']) {
      const res = await call(server, 'POST', `${CONNECTIONS}?connectionId=typed&validateOnly=true`, body, type);
      assert.equal(res.status, 200, `${type}: ${JSON.stringify(res.body)}`);
    }
    // A call without a body needs no media type (CancelOperation, `curl -X POST`).
    const op = await createConnection(server.url, 'typed-cancel');
    const cancel = await call(server, 'POST', `/v1/${op.name as string}:cancel`, undefined, undefined);
    assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
  });

  test('a request line that claims HTTP/2.0 over HTTP/1.1 is refused', async () => {
    for (const version of ['2.0', '0.9']) {
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = connect(server.port, '127.0.0.1', () => socket.write(`GET ${CONNECTIONS} HTTP/${version}\r\nHost: localhost\r\n\r\n`));
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      assert.match(raw, /^HTTP\/1\.1 400 /, raw);
      const error = (JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { error: Json }).error;
      assert.equal(error.status, 'INVALID_ARGUMENT');
      assert.match(error.message as string, new RegExp(`HTTP/${version.replace('.', '\\.')}`));
    }
  });
});
