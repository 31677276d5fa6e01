/**
 * How the order-and-poll adapter reads each kind of answer, against a loopback server that answers
 * as told (the simulator end to end is in test/e2e/order-poll.test.ts).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CertificateSigningRequest } from '../../../src/activities/ca/certificate-authority';
import { OrderPollCa } from '../../../src/activities/ca/order-poll';
import { createLogger } from '../../../src/logging';
import { failureOf } from '../../helpers/failures';

type Answer = { status: number; body: string; type?: string };

describe('order-and-poll adapter: reading answers', () => {
  let server: Server;
  let url: string;
  let answers: Record<string, Answer>;
  let received: { path: string; apiKey?: string; body: string }[];
  let ca: OrderPollCa;
  const request: CertificateSigningRequest = { idempotencyKey: 'wf-1/signing', kind: 'signing', csrPem: 'CSR PEM', email: 'ann@example.com', displayName: 'Ann', validityDays: 365 };
  const order = (status: string, extra: object = {}) => JSON.stringify({ orderId: 'ord_1', externalId: 'wf-1/signing', status, email: 'ann@example.com', product: 'smime-mailbox', createdAt: '2026-01-01T00:00:00Z', ...extra });

  before(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ path: `${req.method} ${req.url}`, apiKey: req.headers['x-api-key'] as string | undefined, body: Buffer.concat(chunks).toString() });
        const answer = answers[`${req.method} ${req.url}`] ?? { status: 404, body: '{"error":{"code":"not_found","message":"no"}}' };
        res.writeHead(answer.status, { 'content-type': answer.type ?? 'application/json' }).end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => {
    answers = {};
    received = [];
    ca = new OrderPollCa({ url, apiKey: 'secret-key', requestTimeoutMs: 2_000, logger: createLogger({ level: 'silent' }) });
  });
  afterEach(() => ca?.close());
  after(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));


  it('places the order with the idempotency key as externalId, the kind as usage, the profile (default strict) and the API key header', async () => {
    answers['POST /v1/orders'] = { status: 201, body: order('pending') };
    assert.deepEqual(await ca.submit(request), { status: 'pending', requestId: 'ord_1' });
    assert.equal(received[0]!.apiKey, 'secret-key');
    assert.deepEqual(JSON.parse(received[0]!.body), {
      csr: 'CSR PEM',
      email: 'ann@example.com',
      product: 'smime-mailbox',
      profile: 'mailbox-strict',
      usage: 'signing',
      validityDays: 365,
      externalId: 'wf-1/signing',
      displayName: 'Ann',
    });
  });

  it('downloads the chain of an issued order: leaf first, intermediates after', async () => {
    const leaf = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----';
    const intermediate = '-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----';
    answers['GET /v1/orders/ord_1'] = { status: 200, body: order('issued', { serial: 'ab' }) };
    answers['GET /v1/orders/ord_1/certificate'] = { status: 200, body: `${leaf}\n${intermediate}\n`, type: 'application/pem-certificate-chain' };
    const answer = await ca.poll('ord_1');
    assert.equal(answer.status, 'issued');
    if (answer.status !== 'issued') return;
    assert.match(answer.certificatePem, /AAAA/);
    assert.equal(answer.chainPem.length, 1);
    assert.match(answer.chainPem[0]!, /BBBB/);
  });

  for (const status of [401, 403]) {
    it(`${status} is a ConfigurationError naming ORDER_CA_API_KEY, without the key`, async () => {
      answers['POST /v1/orders'] = { status, body: '{"error":{"code":"unauthorized","message":"bad key"}}' };
      const failure = await failureOf(ca.submit(request));
      assert.equal(failure.type, 'ConfigurationError');
      assert.match(failure.message, /ORDER_CA_API_KEY/);
      assert.ok(!failure.message.includes('secret-key'));
    });
  }

  it('404 when placing an order means a wrong CA_URL: ConfigurationError', async () => {
    const failure = await failureOf(ca.submit(request));
    assert.equal(failure.type, 'ConfigurationError');
    assert.match(failure.message, /CA_URL/);
  });

  for (const status of [429, 500, 503]) {
    it(`${status} is CaUnavailable (retryable)`, async () => {
      answers['GET /v1/orders/ord_1'] = { status, body: 'busy' };
      const failure = await failureOf(ca.poll('ord_1'));
      assert.equal(failure.type, 'CaUnavailable');
      assert.equal(failure.nonRetryable, false);
    });
  }

  it('400 is CertificateRejected with the CA\'s words', async () => {
    answers['POST /v1/orders'] = { status: 400, body: '{"error":{"code":"invalid_csr","message":"csr is not a PEM PKCS#10 request"}}' };
    const failure = await failureOf(ca.submit(request));
    assert.equal(failure.type, 'CertificateRejected');
    assert.match(failure.message, /invalid_csr/);
  });

  it('a 200 that is not an order is CaUnavailable (a broken answer, worth another try)', async () => {
    answers['GET /v1/orders/ord_1'] = { status: 200, body: '<html>maintenance</html>' };
    assert.equal((await failureOf(ca.poll('ord_1'))).type, 'CaUnavailable');
  });

  it('an issued order whose download holds no certificate is CaUnavailable', async () => {
    answers['GET /v1/orders/ord_1'] = { status: 200, body: order('issued') };
    answers['GET /v1/orders/ord_1/certificate'] = { status: 200, body: 'nothing here', type: 'application/pem-certificate-chain' };
    assert.equal((await failureOf(ca.poll('ord_1'))).type, 'CaUnavailable');
  });

  it('revokes by normalised serial with the reason', async () => {
    answers['POST /v1/certificates/abcd/revoke'] = { status: 200, body: '{"serial":"abcd","revokedAt":"2026-01-01T00:00:00Z"}' };
    await ca.revoke('0x00:AB:CD', 'keyCompromise');
    assert.deepEqual(JSON.parse(received[0]!.body), { reason: 'keyCompromise' });
  });
});
