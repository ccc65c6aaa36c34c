import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBinary, fromJson, toBinary, toJson, type DescMethod, type JsonObject, type Message } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import { SERVER_TOKEN_ISSUER, SIGNING_KEY_FILE, TokenSigningKey } from '../../src/auth/signing-key.js';
import { Code } from '../../src/gen/google/rpc/code_pb.js';
import { ErrorInfoSchema } from '../../src/gen/google/rpc/error_details_pb.js';
import { StatusSchema } from '../../src/gen/google/rpc/status_pb.js';
import { registry } from '../../src/proto/registry.js';
import { CLOUD_PLATFORM, epochSeconds, newRsaPrivateKeyPem, signJwt } from './auth.js';

export { Code };
export type Transport = 'rest' | 'grpc';

/** One call's answer, whatever carried it: the google.rpc.Code, and the error's Status or the response as proto3 JSON. */
export interface Outcome {
  code: Code;
  /** The google.rpc.Code name the answer carries (REST: `error.status`). */
  status: string;
  message: string;
  errorInfo?: { reason: string; domain: string; metadata: Record<string, string> };
  /** The response (proto3 JSON) of a call that succeeded. */
  body: JsonObject;
  /** REST only: the HTTP status and the WWW-Authenticate header. */
  http?: number;
  wwwAuthenticate?: string | null;
}

export interface RestRequest {
  verb: string;
  /** With the query string. */
  path: string;
  body?: JsonObject;
}

export const bearer = (token: string | undefined): string | undefined => (token === undefined ? undefined : `Bearer ${token}`);

/** One REST call with fetch, as curl would make it. */
export async function restCall(baseUrl: string, request: RestRequest, authorization: string | undefined): Promise<Outcome> {
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers.authorization = authorization;
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(baseUrl + request.path, {
    method: request.verb,
    headers,
    body: request.body === undefined ? undefined : JSON.stringify(request.body),
  });
  const body = (await response.json()) as JsonObject;
  const transport = { http: response.status, wwwAuthenticate: response.headers.get('www-authenticate') };
  if (response.ok) return { code: Code.OK, status: 'OK', message: '', body, ...transport };
  const error = body.error as { code: number; status: keyof typeof Code; message: string; details: JsonObject[] };
  assert.equal(error.code, response.status, 'error.code repeats the HTTP status (AIP-193)');
  const info = error.details.find((d) => d['@type'] === 'type.googleapis.com/google.rpc.ErrorInfo') as Outcome['errorInfo'] & JsonObject;
  return {
    code: Code[error.status],
    status: error.status,
    message: error.message,
    errorInfo: info && { reason: info.reason, domain: info.domain, metadata: info.metadata },
    body,
    ...transport,
  };
}

/** One unary gRPC call with the request given as proto3 JSON; the error's details are read from grpc-status-details-bin. */
export function grpcCall(client: grpc.Client, method: DescMethod, request: JsonObject, authorization: string | undefined): Promise<Outcome> {
  const metadata = new grpc.Metadata();
  if (authorization !== undefined) metadata.set('authorization', authorization);
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      `/${method.parent.typeName}/${method.name}`,
      (m: Message) => Buffer.from(toBinary(method.input, m)),
      (b: Buffer) => fromBinary(method.output, b),
      fromJson(method.input, request, { registry }),
      metadata,
      (error, response) => {
        if (!error) {
          resolve({ code: Code.OK, status: 'OK', message: '', body: toJson(method.output, response as Message, { registry }) as JsonObject });
          return;
        }
        const [bin] = error.metadata.get('grpc-status-details-bin');
        assert.ok(Buffer.isBuffer(bin), `${method.name}: the error carries grpc-status-details-bin`);
        const status = fromBinary(StatusSchema, bin);
        assert.equal(status.code, error.code, 'the Status in the trailer has the call’s code');
        assert.equal(status.message, error.details, 'the Status in the trailer has the call’s message');
        const info = status.details.map((d) => anyUnpack(d, ErrorInfoSchema)).find((i) => i !== undefined);
        resolve({
          code: error.code as number as Code,
          status: Code[error.code as number as Code],
          message: error.details,
          errorInfo: info && { reason: info.reason, domain: info.domain, metadata: { ...info.metadata } },
          body: {},
        });
      },
    );
  });
}

export interface ExpectedError {
  code: Code;
  message: string | RegExp;
  reason: string;
  domain: string;
  metadata?: Record<string, string>;
}

/** An error, or a success whose response `check` inspects. */
export type Expected = { error: ExpectedError } | { ok: (body: JsonObject) => void };

const HTTP_STATUS: Partial<Record<Code, number>> = { [Code.UNAUTHENTICATED]: 401, [Code.PERMISSION_DENIED]: 403, [Code.NOT_FOUND]: 404, [Code.FAILED_PRECONDITION]: 400 };

export function assertOutcome(outcome: Outcome, expected: Expected, transport: Transport): void {
  const seen = JSON.stringify({ code: Code[outcome.code], message: outcome.message, errorInfo: outcome.errorInfo, body: outcome.body });
  if ('ok' in expected) {
    assert.equal(outcome.code, Code.OK, seen);
    if (transport === 'rest') assert.equal(outcome.http, 200);
    expected.ok(outcome.body);
    return;
  }
  const { code, message, reason, domain, metadata } = expected.error;
  assert.equal(outcome.status, Code[code], seen);
  assert.equal(outcome.code, code);
  if (transport === 'rest') {
    assert.equal(outcome.http, HTTP_STATUS[code], seen);
    // RFC 6750 §3: a refused credential is answered with a Bearer challenge, and only then.
    if (code === Code.UNAUTHENTICATED) assert.match(outcome.wwwAuthenticate ?? '', /^Bearer( |$)/);
    else assert.equal(outcome.wwwAuthenticate, null);
  }
  if (typeof message === 'string') assert.equal(outcome.message, message);
  else assert.match(outcome.message, message);
  assert.equal(outcome.errorInfo?.reason, reason, seen);
  assert.equal(outcome.errorInfo?.domain, domain);
  if (metadata) assert.deepEqual(outcome.errorInfo?.metadata, metadata);
}

export const unauthenticated = (reason: string, message: RegExp): Expected => ({
  error: { code: Code.UNAUTHENTICATED, message, reason, domain: 'googleapis.com', metadata: { service: 'developerconnect.googleapis.com' } },
});

export const scopeInsufficient = (method: DescMethod): Expected => ({
  error: {
    code: Code.PERMISSION_DENIED,
    message: 'Request had insufficient authentication scopes.',
    reason: 'ACCESS_TOKEN_SCOPE_INSUFFICIENT',
    domain: 'googleapis.com',
    metadata: { service: 'developerconnect.googleapis.com', method: `${method.parent.typeName}.${method.name}` },
  },
});

/** Google's IAM denial, word for word. */
export const iamDenied = (permission: string, resource: string): Expected => ({
  error: {
    code: Code.PERMISSION_DENIED,
    message: `Permission '${permission}' denied on resource '${resource}' (or it may not exist).`,
    reason: 'IAM_PERMISSION_DENIED',
    domain: 'iam.googleapis.com',
    metadata: { permission, resource },
  },
});

export const notFound = (resource: string): Expected => ({
  error: { code: Code.NOT_FOUND, message: /was not found/, reason: 'RESOURCE_NOT_FOUND', domain: 'developerconnect.googleapis.com', metadata: { resource } },
});

export const ok = (check: (body: JsonObject) => void): Expected => ({ ok: check });

/** A new data directory whose token signing key the test knows, so it can sign tokens the server's key would never sign. */
export async function dataDirWithKnownSigningKey(): Promise<{ dataDir: string; signingKeyPem: string; kid: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'devconnect-matrix-'));
  const signingKeyPem = newRsaPrivateKeyPem();
  mkdirSync(join(dataDir, 'secrets'), { mode: 0o700 });
  writeFileSync(join(dataDir, 'secrets', SIGNING_KEY_FILE), signingKeyPem, { mode: 0o600 });
  return { dataDir, signingKeyPem, kid: (await TokenSigningKey.fromPem(signingKeyPem)).kid };
}

/** A token as the server would sign it, with `claims` over the usual ones, signed with `pem` under the server's kid. */
export function serverLikeToken(pem: string, kid: string, member: string, claims: Record<string, unknown> = {}): Promise<string> {
  return signJwt(pem, { iss: SERVER_TOKEN_ISSUER, sub: member, scope: CLOUD_PLATFORM, ...claims }, { kid });
}

/** An hour past: far beyond the server's clock tolerance. */
export const EXPIRED = { iat: epochSeconds() - 7200, exp: epochSeconds() - 3600 };

/** The `name`s of a list in a response (`operations`, `connections`, `locations`). */
export function names(list: unknown): string[] {
  return ((list ?? []) as JsonObject[]).map((item) => String(item.name));
}
