/**
 * `serve --tls self-signed`: the certificate it makes is trusted by what it prints, gRPC clients
 * (GRPC_DEFAULT_SSL_ROOTS_FILE_PATH's file as root) and REST clients alike, and a restart keeps it.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { killProcess, serveProcess } from '../support/server-process.js';

const PARENT = 'projects/demo/locations/us-central1';
const dataDir = mkdtempSync(join(tmpdir(), 'devconnect-tls-self-signed-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

function httpsGet(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { ca }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

/** A raw gRPC call of google.longrunning.Operations/ListOperations (field 4, name) over TLS; resolves with the status code. */
function grpcList(port: number, root: Buffer): Promise<grpc.status> {
  const client = new grpc.Client(`localhost:${port}`, grpc.credentials.createSsl(root));
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      '/google.longrunning.Operations/ListOperations',
      () => Buffer.concat([Buffer.from([0x22, PARENT.length]), Buffer.from(PARENT)]),
      (b: Buffer) => b,
      {},
      { deadline: Date.now() + 10_000 },
      (error) => {
        client.close();
        resolve(error ? error.code : grpc.status.OK);
      },
    );
  });
}

test('serve --tls self-signed makes a certificate for localhost, prints how to trust it, and keeps it across restarts', async () => {
  const server = await serveProcess(['--data-dir', dataDir, '--auth', 'none', '--tls', 'self-signed', '--log-level', 'error']);
  let fingerprint: string;
  try {
    const printed = /export GRPC_DEFAULT_SSL_ROOTS_FILE_PATH=(\S+)/.exec(server.stdout());
    assert.ok(printed, `no GRPC_DEFAULT_SSL_ROOTS_FILE_PATH line in:\n${server.stdout()}`);
    const certPath = printed[1]!;
    assert.equal(certPath, join(dataDir, 'tls', 'cert.pem'));
    assert.equal(statSync(join(dataDir, 'tls', 'key.pem')).mode & 0o777, 0o600, 'the private key is readable by its owner only');
    const cert = readFileSync(certPath);
    const x509 = new X509Certificate(cert);
    assert.match(x509.subjectAltName ?? '', /DNS:localhost/);
    assert.match(x509.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
    fingerprint = x509.fingerprint256;

    const port = Number(new URL(server.url).port);
    assert.equal(await grpcList(port, cert), grpc.status.OK, 'a gRPC client with the printed root file is served over TLS');
    const rest = await httpsGet(`https://127.0.0.1:${port}/v1/projects/demo/locations/us-central1/operations`, cert);
    assert.equal(rest.status, 200, rest.body);
    await assert.rejects(httpsGet(`https://127.0.0.1:${port}/v1/projects/demo/locations/us-central1/operations`, Buffer.from('')), /self[- ]signed|unable to verify/i);
  } finally {
    await killProcess(server, 'SIGTERM');
  }
  const again = await serveProcess(['--data-dir', dataDir, '--auth', 'none', '--tls', 'self-signed', '--log-level', 'error']);
  try {
    assert.equal(new X509Certificate(readFileSync(join(dataDir, 'tls', 'cert.pem'))).fingerprint256, fingerprint, 'the same certificate after a restart');
  } finally {
    await killProcess(again, 'SIGTERM');
  }
});
