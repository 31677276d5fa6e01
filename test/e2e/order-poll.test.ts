/**
 * The order-and-poll CA adapter against the local simulator (real HTTP on loopback, real
 * certificates from the embedded CA), with the simulator's clock moved by the test so an order
 * can stay pending for days.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request as httpRequest } from 'undici';
import type { CaAnswer, CertificateSigningRequest } from '../../src/activities/ca/certificate-authority';
import { EmbeddedCa } from '../../src/activities/ca/embedded-ca';
import { UNSERVED_REPOSITORY } from '../helpers/repository';
import { OrderPollCa } from '../../src/activities/ca/order-poll';
import { certificatePublicKeySha256, normalizeSerial } from '../../src/activities/crypto/certificate-info';
import { buildSmimeCsr } from '../../src/activities/crypto/csr';
import { generateKeyPair, type GeneratedKey } from '../../src/activities/crypto/keys';
import { x509 } from '../../src/activities/crypto/x509';
import type { CredentialKind } from '../../src/domain/enrollment';
import { createLogger } from '../../src/logging';
import { startOrderCaSimulator, type OrderCaSimulator } from '../../src/peers/order-ca-sim';
import { failureOf } from '../helpers/failures';

const run = promisify(execFile);
const logger = createLogger({ level: 'silent' });
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const API_KEY = 'order-ca-test-key-0123456789';

describe('order-and-poll CA adapter against the simulator', function () {
  this.timeout(30_000);
  let dir: string;
  let issuer: EmbeddedCa;
  let sim: OrderCaSimulator;
  let clock: number;
  const closers: (() => Promise<void>)[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'order-poll-test-'));
    issuer = await EmbeddedCa.open({ repository: UNSERVED_REPOSITORY, dir: join(dir, 'issuer'), pendingForMs: 0, logger });
    clock = Date.now();
    sim = await startOrderCaSimulator({ port: 0, apiKey: API_KEY, issueAfterMs: 3 * DAY, rejectEmails: ['@blocked.test'], now: () => clock, issuer, logger });
    closers.push(() => sim.close());
  });

  after(async () => {
    for (const close of closers.reverse()) await close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function adapter(overrides: { url?: string; apiKey?: string } = {}): OrderPollCa {
    const ca = new OrderPollCa({ url: overrides.url ?? sim.url, apiKey: overrides.apiKey ?? API_KEY, requestTimeoutMs: 5_000, logger });
    closers.push(() => ca.close());
    return ca;
  }

  let counter = 0;
  async function order(kind: CredentialKind = 'signing', email?: string): Promise<{ request: CertificateSigningRequest; key: GeneratedKey }> {
    counter += 1;
    const address = email ?? `person${counter}@example.com`;
    const key = await generateKeyPair({ algorithm: 'ec', rsaBits: 2048, ecCurve: 'P-256' });
    const csrPem = await buildSmimeCsr(key, { email: address, displayName: `Person ${counter}` }, kind);
    return { key, request: { idempotencyKey: `smime-wf-${counter}/${kind}`, kind, csrPem, email: address, displayName: `Person ${counter}`, validityDays: 365 } };
  }

  function issued(answer: CaAnswer) {
    assert.equal(answer.status, 'issued', `expected issued, got ${answer.status}`);
    return answer as Extract<CaAnswer, { status: 'issued' }>;
  }


  function admin(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown) {
    return httpRequest(`${sim.url}${path}`, {
      method,
      headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  it('answers "pending" for three days — a normal answer, not an error — then delivers the chain', async () => {
    const ca = adapter();
    const { request, key } = await order('signing');
    const placed = await ca.submit(request);
    assert.equal(placed.status, 'pending');
    const orderId = placed.requestId!;
    assert.match(orderId, /^ord_/);

    clock += 2 * DAY + 23 * HOUR;
    assert.deepEqual(await ca.poll(orderId), { status: 'pending', requestId: orderId });

    clock += HOUR;
    const answer = issued(await ca.poll(orderId));
    assert.equal(answer.requestId, orderId);
    assert.equal(certificatePublicKeySha256(answer.certificatePem), key.publicKeySha256);
    assert.equal(answer.chainPem.length, 1);

    const files = { leaf: join(dir, 'leaf.pem'), chain: join(dir, 'chain.pem'), root: join(dir, 'root.pem') };
    writeFileSync(files.leaf, answer.certificatePem);
    writeFileSync(files.chain, answer.chainPem.join(''));
    writeFileSync(files.root, issuer.rootCertificatePem);
    const verified = await run('openssl', ['verify', '-CAfile', files.root, '-untrusted', files.chain, '-purpose', 'smimesign', files.leaf]);
    assert.match(verified.stdout, /: OK/);
  });

  it('a repeated submission finds the existing order (externalId): one order, one certificate', async () => {
    const ca = adapter();
    const { request } = await order('encryption');
    const first = await ca.submit(request);
    const second = await ca.submit(request);
    assert.equal(first.status, 'pending');
    assert.deepEqual(second, first);
    assert.equal(sim.orders().filter((o) => o.externalId === request.idempotencyKey).length, 1);

    await sim.release(first.requestId!);
    const a = issued(await ca.submit(request));
    const b = issued(await ca.poll(first.requestId!));
    assert.equal(a.certificatePem, b.certificatePem);
    const serial = normalizeSerial(new x509.X509Certificate(a.certificatePem).serialNumber);
    assert.equal(issuer.issued().filter((record) => record.serial === serial).length, 1);
    assert.equal(issuer.issued().filter((record) => record.idempotencyKey.endsWith(first.requestId!)).length, 1);
  });

  it('issues at once when the CA needs no validation time', async () => {
    sim.setIssueAfter(0);
    try {
      const { request, key } = await order('signing');
      const answer = issued(await adapter().submit(request));
      assert.equal(certificatePublicKeySha256(answer.certificatePem), key.publicKeySha256);
    } finally {
      sim.setIssueAfter(3 * DAY);
    }
  });

  it('an order the CA rejects at once is CertificateRejected (non-retryable)', async () => {
    const { request } = await order('signing', 'eve@blocked.test');
    const failure = await failureOf(adapter().submit(request));
    assert.equal(failure.type, 'CertificateRejected');
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /domain control validation failed/);
  });

  it('an order rejected while pending is CertificateRejected at the next poll', async () => {
    const ca = adapter();
    const { request } = await order('signing');
    const placed = await ca.submit(request);
    const response = await admin('POST', `/sim/orders/${placed.requestId!}/reject`, { reason: 'organization validation expired' });
    assert.equal(response.statusCode, 200);
    await response.body.dump();
    const failure = await failureOf(ca.poll(placed.requestId!));
    assert.equal(failure.type, 'CertificateRejected');
    assert.match(failure.message, /organization validation expired/);
  });

  it('the same idempotency key with another CSR is CertificateRejected (the CA answers 409)', async () => {
    const ca = adapter();
    const { request } = await order('signing');
    await ca.submit(request);
    const other = await order('signing', request.email);
    const failure = await failureOf(ca.submit({ ...other.request, idempotencyKey: request.idempotencyKey }));
    assert.equal(failure.type, 'CertificateRejected');
    assert.match(failure.message, /409/);
  });

  it('polling an order the CA does not know is CertificateRejected', async () => {
    const failure = await failureOf(adapter().poll('ord_doesnotexist'));
    assert.equal(failure.type, 'CertificateRejected');
    assert.match(failure.message, /404/);
  });

  it('a wrong API key is a ConfigurationError, and the key is not in the message', async () => {
    const wrongKey = 'not-the-right-key-abcdef';
    const { request } = await order();
    const failure = await failureOf(adapter({ apiKey: wrongKey }).submit(request));
    assert.equal(failure.type, 'ConfigurationError');
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /ORDER_CA_API_KEY/);
    assert.ok(!failure.message.includes(wrongKey));
  });

  it('a CA that answers 503 is CaUnavailable (retryable)', async () => {
    const response = await admin('POST', '/sim/faults', { status: 503, count: 1 });
    await response.body.dump();
    const { request } = await order();
    const failure = await failureOf(adapter().submit(request));
    assert.equal(failure.type, 'CaUnavailable');
    assert.equal(failure.nonRetryable, false);
  });

  it('a CA that does not answer is CaUnavailable (retryable)', async () => {
    const { request } = await order();
    const failure = await failureOf(adapter({ url: 'http://127.0.0.1:9' }).submit(request));
    assert.equal(failure.type, 'CaUnavailable');
    assert.equal(failure.nonRetryable, false);
  });

  it('revokes by serial through the CA, and a second revoke is harmless', async () => {
    sim.setIssueAfter(0);
    try {
      const ca = adapter();
      const { request } = await order('signing');
      const serial = normalizeSerial(new x509.X509Certificate(issued(await ca.submit(request)).certificatePem).serialNumber);
      await ca.revoke(serial, 'cessationOfOperation');
      await ca.revoke(serial, 'cessationOfOperation');
      assert.deepEqual(issuer.revocations().filter((r) => r.serial === serial).map((r) => r.reason), ['cessationOfOperation']);
    } finally {
      sim.setIssueAfter(3 * DAY);
    }
  });

  it('orders survive a restart of a simulator with a data folder', async () => {
    const dataDir = join(dir, 'persistent');
    const first = await startOrderCaSimulator({ port: 0, apiKey: API_KEY, issueAfterMs: DAY, dataDir, now: () => clock, issuer, logger });
    const { request } = await order('signing');
    const placed = await adapter({ url: first.url }).submit(request);
    await first.close();
    const second = await startOrderCaSimulator({ port: 0, apiKey: API_KEY, issueAfterMs: DAY, dataDir, now: () => clock, issuer, logger });
    closers.push(() => second.close());
    assert.equal((await adapter({ url: second.url }).poll(placed.requestId!)).status, 'pending');
    clock += DAY;
    issued(await adapter({ url: second.url }).poll(placed.requestId!));
  });
});
