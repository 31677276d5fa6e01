/**
 * How the step-ca adapter types each kind of answer, against a loopback server that answers as
 * told (the real step-ca is in test/e2e/step-ca.test.ts; these are the answers it rarely gives).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import type { CertificateSigningRequest } from '../../../src/activities/ca/certificate-authority';
import { StepCa } from '../../../src/activities/ca/step-ca';
import { buildSmimeCsr } from '../../../src/activities/crypto/csr';
import { generateKeyPair as generateCredentialKey } from '../../../src/activities/crypto/keys';
import { createLogger } from '../../../src/logging';
import { failureOf } from '../../helpers/failures';

type Answer = { status: number; body: string };

describe('step-ca adapter: typing of answers', () => {
  let dir: string;
  let server: Server;
  let url: string;
  let answers: Record<string, Answer[]>;
  let seen: string[];
  let ca: StepCa;
  let request: CertificateSigningRequest;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'step-ca-answers-'));
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      req.on('end', () => {
        seen.push(req.url ?? '');
        const answer = answers[req.url ?? '']?.shift() ?? { status: 404, body: '{"status":404,"message":"not found"}' };
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const key = await generateCredentialKey({ algorithm: 'ec', rsaBits: 2048, ecCurve: 'P-256' });
    request = {
      idempotencyKey: 'wf/signing',
      kind: 'signing',
      csrPem: await buildSmimeCsr(key, { email: 'ann@example.com' }, 'signing'),
      email: 'ann@example.com',
      validityDays: 365,
    };
  });

  beforeEach(async () => {
    answers = {};
    seen = [];
    const jwk = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);
    ca = await StepCa.create({ url, provisionerName: 'p', provisionerJwk: jwk, ledgerDir: join(dir, `ledger-${Date.now()}-${Math.random()}`), requestTimeoutMs: 2_000, logger: createLogger({ level: 'silent' }), publication: { crl: 'http://pki.example.com/smime.crl' } });
  });
  afterEach(() => ca?.close());
  after(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });


  const stepError = (status: number, message: string): Answer => ({ status, body: JSON.stringify({ status, message }) });

  for (const status of [500, 502, 503, 429]) {
    it(`sign answered ${status} is CaUnavailable (retryable)`, async () => {
      answers['/1.0/sign'] = [stepError(status, 'busy')];
      const failure = await failureOf(ca.submit(request));
      assert.equal(failure.type, 'CaUnavailable');
      assert.equal(failure.nonRetryable, false);
    });
  }

  for (const status of [400, 403]) {
    it(`sign answered ${status} is CertificateRejected with step-ca's message`, async () => {
      answers['/1.0/sign'] = [stepError(status, 'The request was forbidden by the certificate authority: email name "x" not allowed.')];
      const failure = await failureOf(ca.submit(request));
      assert.equal(failure.type, 'CertificateRejected');
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /not allowed/);
      assert.deepEqual(seen, ['/1.0/sign'], 'a refusal is not retried');
    });
  }

  it('a 401 whose revocation probe is also refused means bad credentials: CertificateRejected, nothing resent', async () => {
    answers['/1.0/sign'] = [stepError(401, 'The request lacked necessary authorization to be completed.')];
    answers['/1.0/revoke'] = [stepError(401, 'The request lacked necessary authorization to be completed.')];
    const failure = await failureOf(ca.submit(request));
    assert.equal(failure.type, 'CertificateRejected');
    assert.match(failure.message, /STEP_CA_PROVISIONER/);
    assert.deepEqual(seen, ['/1.0/sign', '/1.0/revoke']);
  });

  it('a step-ca without a database (revoke 501) is a ConfigurationError', async () => {
    answers['/1.0/sign'] = [stepError(401, 'unauthorized')];
    answers['/1.0/revoke'] = [stepError(501, 'The requested method is not implemented by the certificate authority.')];
    assert.equal((await failureOf(ca.submit(request))).type, 'ConfigurationError');
  });

  it('gives up after too many lost answers in a row instead of revoking without end', async () => {
    answers['/1.0/sign'] = Array.from({ length: 10 }, () => stepError(401, 'unauthorized'));
    answers['/1.0/revoke'] = Array.from({ length: 10 }, () => ({ status: 200, body: '{"status":"ok"}' }));
    const failure = await failureOf(ca.submit(request));
    assert.equal(failure.type, 'CertificateRejected');
    assert.match(failure.message, /5 answers in a row were lost/);
    assert.equal(seen.filter((p) => p === '/1.0/revoke').length, 5);
  });

  it('a success without a certificate is CaUnavailable (a broken answer, worth another try)', async () => {
    answers['/1.0/sign'] = [{ status: 201, body: '{"unexpected":true}' }];
    assert.equal((await failureOf(ca.submit(request))).type, 'CaUnavailable');
  });

  it('a CSR that is not PEM PKCS#10 is CertificateRejected before anything is sent', async () => {
    const failure = await failureOf(ca.submit({ ...request, csrPem: 'not a csr' }));
    assert.equal(failure.type, 'CertificateRejected');
    assert.deepEqual(seen, []);
  });
});
