/**
 * What the provider delivers passes the linters public CAs run before issuance — DigiCert's
 * pkilint (`lint_cabf_smime_cert lint -d`: it must *detect* the S/MIME type from the certificate)
 * and zlint (every lint, CABF_SMIME_BR among them) — with no error and no warning, for every
 * credential kind × key type × CA:
 *
 *   embedded     the provider's own CA (src/activities/ca/embedded-ca.ts)
 *   step-ca      the real step-ca the suite builds, with the provider's template
 *   order-poll   the order-and-poll simulator (its own embedded CA behind the order API)
 *
 * Each certificate is taken out of the PKCS#12 the CEG simulator received at the end of a real
 * provisionSmime run. The CA certificates, CRLs and issuer/subject pairs are linted too.
 *
 * URLs: the certificates name a public host (pki.example.com) for CRL and issuer, as a production
 * CA's do; the dev stack's loopback repository URLs are internal names to both linters, which the
 * last test pins down (the README justifies that one finding).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CertificateAuthority } from '../../src/activities/ca/certificate-authority';
import { CertificateChecks } from '../../src/activities/ca/certificate-checks';
import { EmbeddedCa } from '../../src/activities/ca/embedded-ca';
import { loopbackRepositoryBase, repositoryUrls } from '../../src/activities/ca/embedded/repository';
import { OrderPollCa } from '../../src/activities/ca/order-poll';
import { StepCa } from '../../src/activities/ca/step-ca';
import type { KeySource } from '../../src/activities/crypto/key-pool';
import { splitPemBundle } from '../../src/activities/crypto/certificate-info';
import { buildSmimeCsr } from '../../src/activities/crypto/csr';
import { generateKeyPair, type KeyOptions } from '../../src/activities/crypto/keys';
import type { CertificateProfileName } from '../../src/domain/certificate-profile';
import type { CredentialKind } from '../../src/domain/enrollment';
import { createLogger } from '../../src/logging';
import { startOrderCaSimulator, type OrderCaSimulator } from '../../src/peers/order-ca-sim';
import { blocking, CertificateLinters, formatFindings, type LintFinding } from '../../src/tools/certificate-linters';
import { enrollmentEvent } from '../helpers/events';
import { startProviderStack, type ProviderStack } from '../helpers/provider-stack';
import { startStepCa, STEP_CA_PUBLICATION, type StepCaFixture } from '../helpers/step-ca';

const logger = createLogger({ level: 'silent' });
const ORDER_API_KEY = 'smime-lint-order-key-0123456789';
const KEYS: Record<'RSA-2048' | 'EC-P-256', KeyOptions> = {
  'RSA-2048': { algorithm: 'rsa', rsaBits: 2048, ecCurve: 'P-256' },
  'EC-P-256': { algorithm: 'ec', rsaBits: 2048, ecCurve: 'P-256' },
};
type CaName = 'embedded' | 'step-ca' | 'order-poll';

interface Row {
  ca: CaName;
  kind: string;
  key: string;
  detected?: string;
  pkilint: LintFinding[];
  zlint: LintFinding[];
}

const count = (findings: LintFinding[], severities: string[]) => findings.filter((f) => severities.includes(f.severity)).length;

describe('S/MIME BR linters over everything the provider delivers (pkilint, zlint)', function () {
  this.timeout(300_000);
  let linters: CertificateLinters;
  let stack: ProviderStack;
  let stepCa: StepCaFixture;
  let orderIssuer: EmbeddedCa;
  let orderSim: OrderCaSimulator;
  let work: string;
  const adapters: { close(): Promise<void> }[] = [];
  const cas = {} as Record<CaName, CertificateAuthority>;
  let checks: CertificateChecks;
  let currentCa: CaName = 'embedded';
  let currentKey: KeyOptions = KEYS['RSA-2048'];
  const rows: Row[] = [];
  const caRows: { what: string; findings: LintFinding[] }[] = [];

  before(async function () {
    this.timeout(30 * 60_000); // first run: pkilint from PyPI, zlint and step-ca from the Go module proxy
    linters = await CertificateLinters.ensure();
    work = mkdtempSync(join(tmpdir(), 'smime-lint-'));
    stepCa = await startStepCa();
    orderIssuer = await EmbeddedCa.open({ dir: join(work, 'order-issuer'), repository: repositoryUrls('http://pki.example.com/order-ca-sim'), logger });
    orderSim = await startOrderCaSimulator({ port: 0, apiKey: ORDER_API_KEY, issueAfterMs: 0, issuer: orderIssuer, logger });
    const keys: KeySource = { take: async () => ({ ...(await generateKeyPair(currentKey)), fromPool: false }) };
    stack = await startProviderStack({
      codec: false,
      repositoryBaseUrl: 'http://pki.example.com/embedded-ca',
      // One provider, three CAs: the test switches between them (and between key types) per run.
      wrapCa: (embedded) => {
        cas.embedded = embedded;
        return {
          type: 'switch',
          submit: (request) => cas[currentCa].submit(request),
          poll: (requestId) => cas[currentCa].poll(requestId),
        };
      },
      // The provider's own checks run too (set below, once every CA's root is known).
      overrides: { keys, certificateChecks: { check: (returned, expected) => checks.check(returned, expected) } },
    });
    const step = await StepCa.create({
      url: stepCa.url,
      rootPem: stepCa.rootPem,
      provisionerName: stepCa.provisionerName,
      provisionerJwk: StepCa.readProvisionerKey(stepCa.provisionerKeyFile),
      ledgerDir: join(work, 'step-ca-ledger'),
      requestTimeoutMs: 10_000,
      logger,
      publication: STEP_CA_PUBLICATION.leaves,
    });
    const order = new OrderPollCa({ url: orderSim.url, apiKey: ORDER_API_KEY, requestTimeoutMs: 10_000, logger });
    adapters.push(step, order);
    cas['step-ca'] = step;
    cas['order-poll'] = order;
    checks = new CertificateChecks({
      profile: 'mailbox-strict',
      trustRootsPem: [stack.ca.rootCertificatePem, stepCa.rootPem, orderIssuer.rootCertificatePem],
      maxValidityDays: 365,
      minValidityDays: 30,
    });
  });

  after(async () => {
    if (rows.length > 0) process.stdout.write(`\n${resultTable(rows, linters.versions)}\n`);
    if (caRows.length > 0) process.stdout.write(`\n${caTable(caRows)}\n`);
    for (const adapter of adapters) await adapter.close();
    await stack?.stop();
    await orderSim?.close();
    await stepCa?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function file(name: string, content: string | Buffer): string {
    const path = join(work, name);
    writeFileSync(path, content);
    return path;
  }

  /** The certificate of the PKCS#12 the CEG simulator received for this device and kind. */
  function delivered(user: string, device: string, kind: CredentialKind): string {
    const received = join(stack.dataDir, 'ceg-sim', 'received', user, device);
    const out = execFileSync('openssl', ['pkcs12', '-in', join(received, `${kind}.p12`), '-clcerts', '-nokeys', '-passin', `file:${join(received, `${kind}.pass`)}`], { encoding: 'utf8' });
    const [pem] = splitPemBundle(out); // without OpenSSL's "Bag Attributes" lines, which pkilint does not read
    assert.ok(pem, `a certificate in the ${kind} PKCS#12`);
    return pem;
  }

  for (const ca of ['embedded', 'step-ca', 'order-poll'] as const) {
    for (const [keyName, keyOptions] of Object.entries(KEYS)) {
      it(`${ca}, ${keyName}: signing and encryption certificates as delivered have no error or warning`, async () => {
        currentCa = ca;
        currentKey = keyOptions;
        const event = enrollmentEvent({ email: `lint.${ca}.${keyName.toLowerCase()}.${randomUUID().slice(0, 6)}@example.com` });
        await (await stack.start(event)).result();
        for (const kind of ['signing', 'encryption'] as const) {
          const pem = file(`${ca}-${keyName}-${kind}.pem`, delivered(event.enrollmentUserUuid, event.deviceUuid, kind));
          const result = await linters.subscriber(pem);
          rows.push({ ca, kind, key: keyName, detected: result.detectedType, pkilint: result.findings.filter((f) => f.linter === 'pkilint'), zlint: result.findings.filter((f) => f.linter === 'zlint') });
          assert.equal(result.detectedType, 'MAILBOX-STRICT', `pkilint detects the type from the policy OID\n${formatFindings(result.findings)}`);
          assert.deepEqual(blocking(result.findings), [], `${ca} ${keyName} ${kind}:\n${formatFindings(blocking(result.findings))}`);
        }
      });
    }
  }

  for (const ca of ['embedded', 'step-ca', 'order-poll'] as const) {
    it(`${ca}: a mailbox-multipurpose certificate is detected as such, with no error or warning`, async () => {
      const certificatePem = await issueDirectly(cas[ca], 'mailbox-multipurpose');
      const result = await linters.subscriber(file(`${ca}-multipurpose.pem`, certificatePem));
      assert.equal(result.detectedType, 'MAILBOX-MULTIPURPOSE');
      assert.deepEqual(blocking(result.findings), [], formatFindings(blocking(result.findings)));
    });
  }

  it('the CA certificates: no error or warning from pkilint (RFC 5280) or zlint, and each issuer/subject pair links up', async () => {
    const hierarchies: [string, string, string][] = [
      ['embedded', stack.ca.rootCertificatePem, stack.ca.intermediateCertificatePem],
      ['order-poll', orderIssuer.rootCertificatePem, orderIssuer.intermediateCertificatePem],
      ['step-ca', stepCa.rootPem, stepCa.intermediatePem],
    ];
    const problems: string[] = [];
    for (const [name, rootPem, intermediatePem] of hierarchies) {
      const root = file(`${name}-root.pem`, rootPem);
      const intermediate = file(`${name}-intermediate.pem`, intermediatePem);
      for (const [what, findings] of [
        ['root', await linters.caCertificate(root)],
        ['intermediate', await linters.caCertificate(intermediate)],
        ['root → intermediate', await linters.chain(root, intermediate)],
      ] as const) {
        caRows.push({ what: `${name} ${what}`, findings });
        if (blocking(findings).length > 0) problems.push(`${name} ${what}:\n${formatFindings(blocking(findings))}`);
      }
    }
    for (const leaf of rows.filter((r) => r.ca === 'embedded')) {
      const findings = await linters.chain(file('embedded-intermediate.pem', stack.ca.intermediateCertificatePem), join(work, `embedded-${leaf.key}-${leaf.kind}.pem`));
      if (blocking(findings).length > 0) problems.push(`embedded intermediate → ${leaf.key} ${leaf.kind}:\n${formatFindings(blocking(findings))}`);
    }
    assert.deepEqual(problems, []);
  });

  it('the CRLs the embedded CA publishes: no error or warning from pkilint (RFC 5280 and CA/B Forum profiles)', async () => {
    const leaves = await linters.crl(file('intermediate.crl', await stack.ca.currentCrl()), 'CRL');
    const root = await linters.crl(file('root.crl', await stack.ca.currentRootCrl()), 'ARL');
    caRows.push({ what: 'embedded intermediate CRL', findings: leaves }, { what: 'embedded root CRL (ARL)', findings: root });
    const findings = [...leaves, ...root];
    assert.deepEqual(blocking(findings), [], formatFindings(blocking(findings)));
  });

  it("the dev stack's loopback repository URLs are the one finding: internal names (pkilint error, zlint warning), nothing else", async () => {
    const loopback = await EmbeddedCa.open({ dir: join(work, 'loopback'), repository: repositoryUrls(loopbackRepositoryBase(8446, 'embedded-ca')), logger });
    const result = await linters.subscriber(file('loopback.pem', await issueDirectly(loopback, 'mailbox-strict')));
    assert.equal(result.detectedType, 'MAILBOX-STRICT');
    const found = blocking(result.findings).map((f) => `${f.linter} ${f.severity} ${f.code}`);
    assert.deepEqual(found.sort(), ['pkilint error cabf.internal_domain_name', 'pkilint error cabf.internal_domain_name', 'zlint warning w_smime_aia_contains_internal_names'].sort(), formatFindings(result.findings));
  });

  /** A signing certificate for a fresh RSA key straight from the CA (no workflow), under the given profile. */
  async function issueDirectly(ca: CertificateAuthority, profile: CertificateProfileName): Promise<string> {
    const email = `direct.${randomUUID().slice(0, 8)}@example.com`;
    const key = await generateKeyPair(KEYS['RSA-2048']);
    const answer = await ca.submit({ idempotencyKey: randomUUID(), kind: 'signing', csrPem: await buildSmimeCsr(key, { email }, 'signing'), email, validityDays: 365, profile });
    assert.equal(answer.status, 'issued');
    return (answer as { certificatePem: string }).certificatePem;
  }
});

function resultTable(rows: Row[], versions: { pkilint: string; zlint: string }): string {
  const lines = [
    `S/MIME lint results (pkilint ${versions.pkilint} lint_cabf_smime_cert -d, zlint ${versions.zlint} all lints): errors/warnings (notices)`,
    '| CA | kind | key | detected | pkilint E/W | zlint E/W | notices/info |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const notes = [...r.pkilint, ...r.zlint].filter((f) => f.severity === 'notice' || f.severity === 'info').map((f) => f.code);
      return `| ${r.ca} | ${r.kind} | ${r.key} | ${r.detected ?? '—'} | ${count(r.pkilint, ['fatal', 'error'])}/${count(r.pkilint, ['warning'])} | ${count(r.zlint, ['fatal', 'error'])}/${count(r.zlint, ['warning'])} | ${notes.join(', ') || '—'} |`;
    }),
  ];
  return lines.join('\n');
}

function caTable(rows: { what: string; findings: LintFinding[] }[]): string {
  return [
    '| CA document | errors/warnings | notices/info |',
    '|---|---|---|',
    ...rows.map((r) => {
      const notes = r.findings.filter((f) => f.severity === 'notice' || f.severity === 'info').map((f) => `${f.linter} ${f.code}`);
      return `| ${r.what} | ${blocking(r.findings).map((f) => `${f.linter} ${f.severity} ${f.code}`).join(', ') || '0/0'} | ${notes.join(', ') || '—'} |`;
    }),
  ].join('\n');
}
