/**
 * The lifecycle end to end: dev server, real activities, embedded CA, CEG simulator over mTLS,
 * and OpenSSL as the independent judge of what was delivered.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { retryable } from '../../src/domain/errors';
import type { CertificateAuthority } from '../../src/activities/ca/certificate-authority';
import { statusQuery } from '../../src/workflows/definitions';
import { enrollmentEvent } from '../helpers/events';
import { startProviderStack, type ProviderStack } from '../helpers/provider-stack';

function openssl(args: string[], input?: string | Buffer): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync('openssl', args, { input, encoding: 'utf8', timeout: 30_000 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

function receivedFiles(stack: ProviderStack, user: string, device: string, kind: string) {
  const dir = join(stack.dataDir, 'ceg-sim', 'received', user, device);
  return { p12: join(dir, `${kind}.p12`), pass: join(dir, `${kind}.pass`) };
}

/** Every Temporal payload in a raw (not decoded) history, found by walking the response objects. */
function rawPayloads(node: unknown, found: { path: string; metadata: Record<string, Uint8Array>; data: Uint8Array }[] = [], path = ''): typeof found {
  if (!node || typeof node !== 'object' || node instanceof Uint8Array) return found;
  const record = node as Record<string, unknown>;
  if (record.metadata && typeof record.metadata === 'object' && record.data instanceof Uint8Array) {
    found.push({ path, metadata: record.metadata as Record<string, Uint8Array>, data: record.data });
  }
  for (const [key, value] of Object.entries(record)) rawPayloads(value, found, `${path}.${key}`);
  return found;
}

async function simUploads(stack: ProviderStack): Promise<{ enrollmentUserUuid: string; deviceUuid: string; kind: string; thumbprint: string }[]> {
  const response = await fetch(`${stack.sim.adminUrl}/sim/uploads`);
  assert.equal(response.status, 200);
  return (await response.json()) as never;
}

describe('lifecycle end to end (dev server, real activities, CEG simulator, OpenSSL)', function () {
  this.timeout(120_000);
  let stack: ProviderStack;
  let work: string;

  before(async () => {
    stack = await startProviderStack();
    work = mkdtempSync(join(tmpdir(), 'e2e-openssl-'));
  });
  after(async () => {
    await stack?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('an enrollment ends Delivered with signing and encryption credentials at the gateway', async () => {
    const event = enrollmentEvent({ platform: 'Apple' });
    const started = Date.now();
    const handle = await stack.start(event);
    const report = await handle.result();
    const elapsed = Date.now() - started;
    assert.equal(report.stage, 'Delivered');
    assert.equal(report.attempts, 1);
    assert.deepEqual(report.credentials.map((c: { kind: string; state: string; profile?: string }) => [c.kind, c.state, c.profile]), [
      ['signing', 'delivered', 'legacy'],
      ['encryption', 'delivered', 'legacy'],
    ]);
    const uploads = (await simUploads(stack)).filter((u) => u.deviceUuid === event.deviceUuid);
    assert.deepEqual(uploads.map((u) => u.kind).sort(), ['encryption', 'signing']);
    const description = await handle.describe();
    assert.equal(description.searchAttributes.Stage?.[0], 'Delivered');
    const status = await handle.query(statusQuery);
    assert.equal(status.stage, 'Delivered');
    assert.ok(elapsed < 30_000, `start to delivered took ${elapsed} ms`);
  });

  for (const [platform, profile, keyAlg, mac] of [
    ['Apple', 'legacy', /pbeWithSHA1And3-KeyTripleDES-CBC/, /MAC: sha1/],
    ['WinRT', 'modern', /PBES2, PBKDF2, AES-256-CBC.*PRF hmacWithSHA256/, /MAC: sha256/],
  ] as const) {
    it(`OpenSSL opens the ${profile} PKCS#12 (${platform}) with its password, and the contents are right`, async () => {
      const event = enrollmentEvent({ platform });
      await (await stack.start(event)).result();
      for (const kind of ['signing', 'encryption'] as const) {
        const files = receivedFiles(stack, event.enrollmentUserUuid, event.deviceUuid, kind);
        const info = openssl(['pkcs12', '-in', files.p12, '-info', '-noout', '-passin', `file:${files.pass}`]);
        assert.equal(info.status, 0, info.stderr);
        assert.match(info.stderr, keyAlg);
        assert.match(info.stderr, mac);
        const certPem = openssl(['pkcs12', '-in', files.p12, '-clcerts', '-nokeys', '-passin', `file:${files.pass}`]).stdout;
        const text = openssl(['x509', '-noout', '-text'], certPem).stdout;
        assert.match(text, /X509v3 Extended Key Usage:\s*\n\s*E-mail Protection\s*\n/, 'EKU is emailProtection only');
        assert.match(text, new RegExp(`email:${event.email!.replace(/[.+]/g, '\\$&')}`), 'SAN rfc822Name is the user');
        const usage = /X509v3 Key Usage: critical\s*\n\s*(.+)\n/.exec(text)?.[1];
        assert.equal(usage?.trim(), kind === 'signing' ? 'Digital Signature' : 'Key Encipherment');
        const wrong = openssl(['pkcs12', '-in', files.p12, '-info', '-noout', '-passin', 'pass:not-the-password']);
        assert.notEqual(wrong.status, 0, 'a wrong password must not open it');
      }
    });
  }

  it('openssl cms signs and verifies with the signing credential, encrypts and decrypts with the encryption one', async () => {
    const event = enrollmentEvent({ platform: 'Android' });
    await (await stack.start(event)).result();
    const extract = (kind: string) => {
      const files = receivedFiles(stack, event.enrollmentUserUuid, event.deviceUuid, kind);
      const cert = join(work, `${kind}.crt`);
      const key = join(work, `${kind}.key`);
      writeFileSync(cert, openssl(['pkcs12', '-in', files.p12, '-clcerts', '-nokeys', '-passin', `file:${files.pass}`]).stdout);
      writeFileSync(key, openssl(['pkcs12', '-in', files.p12, '-nocerts', '-noenc', '-passin', `file:${files.pass}`]).stdout, { mode: 0o600 });
      return { cert, key };
    };
    const chain = join(work, 'chain.pem');
    writeFileSync(chain, `${stack.ca.intermediateCertificatePem}\n${stack.ca.rootCertificatePem}`);
    const root = join(work, 'root.pem');
    writeFileSync(root, stack.ca.rootCertificatePem);
    const message = join(work, 'message.txt');
    writeFileSync(message, 'Quarterly numbers attached.\n');

    const signing = extract('signing');
    const signed = join(work, 'signed.p7m');
    const sign = openssl(['cms', '-sign', '-in', message, '-signer', signing.cert, '-inkey', signing.key, '-certfile', chain, '-out', signed]);
    assert.equal(sign.status, 0, sign.stderr);
    const verify = openssl(['cms', '-verify', '-in', signed, '-CAfile', root, '-purpose', 'smimesign']);
    assert.equal(verify.status, 0, verify.stderr);
    assert.match(verify.stdout, /Quarterly numbers attached/);

    const encryption = extract('encryption');
    const encrypted = join(work, 'encrypted.p7m');
    assert.equal(openssl(['cms', '-encrypt', '-binary', '-aes-256-cbc', '-in', message, '-out', encrypted, encryption.cert]).status, 0);
    const decrypted = openssl(['cms', '-decrypt', '-in', encrypted, '-recip', encryption.cert, '-inkey', encryption.key]);
    assert.equal(decrypted.status, 0, decrypted.stderr);
    assert.equal(decrypted.stdout, 'Quarterly numbers attached.\n');
  });

  it('a delivered enrollment\'s history is at most 30 events and 24 KB (payload codec on)', async () => {
    const handle = await stack.start(enrollmentEvent({ platform: 'Apple' }));
    await handle.result();
    const { historyLength, historySize } = await handle.describe();
    assert.ok(historyLength <= 30, `${historyLength} events`);
    assert.ok(historySize !== undefined && historySize <= 24 * 1024, `${historySize} bytes`);
  });

  it('the history, read raw, holds only encrypted payloads (payload codec on)', async () => {
    const event = enrollmentEvent();
    const handle = await stack.start(event);
    await handle.result();
    const raw = await stack.env.connection.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId: handle.workflowId } });
    // Search attributes stay plain by design: the server must index them (UUIDs, stage, attempt
    // only); so does the SDK's own patch marker, which holds the patch's name.
    const payloads = rawPayloads(raw.history).filter((p) => !p.path.includes('.searchAttributes.') && !p.path.includes('.markerRecordedEventAttributes.details.patch-data.'));
    assert.ok(payloads.length > 10, `found ${payloads.length} payloads`);
    for (const payload of payloads) {
      assert.equal(Buffer.from(payload.metadata.encoding!).toString(), 'binary/encrypted', payload.path);
      assert.ok(!Buffer.from(payload.data).toString('latin1').includes(event.enrollmentUserUuid), 'ciphertext only');
    }
  });
});

describe('no secret in the clear outside activities (payload codec off)', function () {
  this.timeout(120_000);
  let stack: ProviderStack;
  before(async () => {
    stack = await startProviderStack({ codec: false });
  });
  after(async () => stack?.stop());

  it('a delivered workflow\'s real event history holds no private key, PKCS#12 or password', async () => {
    const event = enrollmentEvent();
    const handle = await stack.start(event);
    await handle.result();
    const raw = await stack.env.connection.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId: handle.workflowId } });
    // Every payload decoded to text: this is what someone with database access (and no sealing key) sees.
    const history = rawPayloads(raw.history)
      .map((p) => Buffer.from(p.data).toString('utf8'))
      .join('\n');
    assert.ok(history.includes(event.enrollmentUserUuid), 'sanity: the history is readable without the codec');
    assert.doesNotMatch(history, /sealed:v1:/, 'not even sealed: keys and PKCS#12 files never cross the workflow');
    assert.doesNotMatch(history, /PRIVATE KEY/);
    for (const kind of ['signing', 'encryption']) {
      const files = receivedFiles(stack, event.enrollmentUserUuid, event.deviceUuid, kind);
      const password = readFileSync(files.pass, 'utf8').trim();
      const p12 = readFileSync(files.p12);
      assert.ok(password.length >= 20);
      assert.ok(!history.includes(password), `${kind} password found in history`);
      for (const encoded of [p12.toString('base64').slice(40, 120), p12.toString('hex').slice(80, 240)]) {
        assert.ok(!history.includes(encoded), `${kind} PKCS#12 found in history`);
      }
      const keyPem = openssl(['pkcs12', '-in', files.p12, '-nocerts', '-noenc', '-passin', `file:${files.pass}`]).stdout;
      const keyBody = keyPem.split('\n').filter((l) => l && !l.startsWith('-----') && !l.includes(':'))[3]!;
      assert.ok(!history.includes(keyBody), `${kind} private key found in history`);
      const keyDer = Buffer.from(keyPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
      assert.ok(!history.includes(keyDer.toString('base64').slice(100, 180)), `${kind} private key (base64 DER) found in history`);
    }
  });

  it('an activity retried after a lost CA response yields one certificate at the CA', async () => {
    const lost = new Set<string>();
    const lossy = await startProviderStack({
      codec: false,
      wrapCa: (ca): CertificateAuthority => ({
        type: 'lossy-embedded',
        poll: (id) => ca.poll(id),
        async submit(request) {
          const answer = await ca.submit(request);
          if (!lost.has(request.kind)) {
            lost.add(request.kind);
            throw retryable('CaUnavailable', 'socket hang up (the CA issued, the answer was lost)');
          }
          return answer;
        },
      }),
    });
    try {
      const event = enrollmentEvent();
      const report = await (await lossy.start(event)).result();
      assert.deepEqual([...lost].sort(), ['encryption', 'signing'], 'both first answers were lost');
      const issued = lossy.ca.issued().filter((r) => r.email === event.email);
      assert.equal(issued.length, 2, 'one certificate per kind, despite the retries');
      assert.deepEqual(new Set(report.credentials.map((c: { serial?: string }) => c.serial)), new Set(issued.map((r) => r.serial)));
    } finally {
      await lossy.stop();
    }
  });
});
