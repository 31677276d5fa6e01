/**
 * The embedded CA: a real, small S/MIME certificate authority for development and tests. It
 * issues certificates that OpenSSL, NSS and mail clients accept (given its root), behaves like
 * the CAs the provider talks to in production — idempotent submissions, optional "pending"
 * answers to poll, refusals as typed errors — and keeps its state in files under `dir`, so a
 * restarted worker answers exactly as before.
 *
 * Layout of `dir`:
 *   ca-v2/root.pem, ca-v2/intermediate.pem          the hierarchy (see embedded/authority.ts)
 *   ca-v2/root-key.pem, ca-v2/intermediate-key.pem  their keys, mode 0600
 *   ca-v2/intermediate.crl, ca-v2/root.crl          the current CRLs, DER (see embedded/crl.ts)
 *   requests/<requestId>.json                       one per idempotency key: the first CSR and when it came
 *   issued/<requestId>.json                         the one certificate issued for that request
 *   revocations.jsonl                               one line per revoked serial
 *
 * Profile (whatever the CSR asks): a CA/B Forum S/MIME BR Mailbox-validated certificate, strict
 * or multipurpose as the request says (default strict): certificatePolicies = the reserved OID
 * then the organisation's OIDs; subject CN = E = the address (CN left out when the address is
 * longer than 64 characters), never a display name; SAN rfc822Name = the request's address (a
 * CSR naming another address is refused); EKU emailProtection only; key usage by kind (signing:
 * digitalSignature; encryption: keyEncipherment for RSA, keyAgreement for EC), critical;
 * basicConstraints CA:false; cRLDistributionPoints and AIA caIssuers (HTTP, the repository's
 * URLs); SKI/AKI; validity min(requested, 825) days; a random positive 16-byte serial.
 *
 * Revocation rewrites the CRL at once; `currentCrl()` reissues it when it is a day old, so what
 * the repository serves (src/peers/ca-repository) is never stale.
 */
import { readFileSync } from 'node:fs';
import { appendFile, mkdir } from 'node:fs/promises';
import { createHash, createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { DEFAULT_CERTIFICATE_PROFILE, policyOidsFor, type CertificateProfileName } from '../../domain/certificate-profile';
import { nonRetryable } from '../../domain/errors';
import type { CredentialKind } from '../../domain/enrollment';
import type { Logger } from '../../logging';
import { normalizeSerial, toPem } from '../crypto/certificate-info';
import { smimeKeyUsage, smimeSubjectName } from '../crypto/csr';
import { x509 } from '../crypto/x509';
import type { CaAnswer, CertificateAuthority, CertificateSigningRequest, RevocationReason } from './certificate-authority';
import { openAuthority, publicationExtensions, randomSerial, type Authority } from './embedded/authority';
import { CRL_LIFETIMES, nextCrlNumber, readCrl, signCrl, writeAtomically } from './embedded/crl';
import { createExclusive, KeyedMutex, readAllJson, readJson } from './embedded/files';
import { REPOSITORY_FILES, type RepositoryUrls } from './embedded/repository';
import { DAY_MS } from '../../domain/schedule';

export interface EmbeddedCaOptions {
  dir: string;
  /**
   * The URLs its certificates name for CRL and issuer (embedded/repository.ts). The intermediate's
   * are written once, when the hierarchy is made; the leaves' into every certificate.
   */
  repository: RepositoryUrls;
  /** The organisation's own policy OIDs (CERT_POLICY_OIDS), after the reserved one. */
  organisationPolicyOids?: readonly string[];
  /** Answer `pending` until this long after submission (0: issue at once). */
  pendingForMs?: number;
  /** Refuse every request (exercises the failure path). */
  reject?: boolean;
  logger?: Logger;
  /**
   * The clock behind the pending timer, so tests can move time. Certificates are always dated
   * by the real clock, so what the CA issues validates today.
   */
  now?: () => number;
}

export interface IssuedCertificateRecord {
  serial: string;
  idempotencyKey: string;
  email: string;
  kind: string;
  issuedAt: string;
}

export interface RevocationRecord {
  serial: string;
  reason: RevocationReason;
  revokedAt: string;
}

interface RequestRecord {
  requestId: string;
  idempotencyKey: string;
  /** SHA-256 of the CSR's DER: a repeated key must come with the same CSR. */
  csrSha256: string;
  csrPem: string;
  kind: CredentialKind;
  email: string;
  displayName?: string;
  /** Absent in records written before profiles existed: the default. */
  profile?: CertificateProfileName;
  validityDays: number;
  submittedAtMs: number;
}

interface IssuedRecord extends IssuedCertificateRecord {
  requestId: string;
  certificatePem: string;
}

/** The CA/B Forum S/MIME Baseline Requirements' maximum lifetime. */
export const MAX_VALIDITY_DAYS = 825;
/** Backdating absorbs small clock differences between this host and the relying party. */
const BACKDATE_MS = 60_000;
const REQUEST_ID_PATTERN = /^emb-[0-9a-f]{32}$/;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+$/;
const SUBJECT_ALT_NAME_OID = '2.5.29.17';
const CRL_LOCK = 'crl';

export class EmbeddedCa implements CertificateAuthority {
  readonly type = 'embedded';
  readonly #dir: string;
  readonly #authority: Authority;
  readonly #repository: RepositoryUrls;
  readonly #organisationPolicyOids: readonly string[];
  readonly #pendingForMs: number;
  readonly #reject: boolean;
  readonly #logger?: Logger;
  readonly #now: () => number;
  readonly #mutex = new KeyedMutex();

  private constructor(authority: Authority, options: EmbeddedCaOptions) {
    this.#dir = options.dir;
    this.#authority = authority;
    this.#repository = options.repository;
    this.#organisationPolicyOids = options.organisationPolicyOids ?? [];
    policyOidsFor(DEFAULT_CERTIFICATE_PROFILE, this.#organisationPolicyOids); // refuse bad OIDs at open, not at the first issuance
    this.#pendingForMs = Math.max(0, options.pendingForMs ?? 0);
    this.#reject = options.reject ?? false;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
  }

  /** Open the CA in `dir`, creating its root and intermediate on first use. */
  static async open(options: EmbeddedCaOptions): Promise<EmbeddedCa> {
    await mkdir(join(options.dir, 'requests'), { recursive: true });
    await mkdir(join(options.dir, 'issued'), { recursive: true });
    const authority = await openAuthority(options.dir, options.repository.intermediate, options.logger);
    const ca = new EmbeddedCa(authority, options);
    await Promise.all([ca.currentCrl(), ca.currentRootCrl()]); // the repository has something to serve from the start
    return ca;
  }

  /** The URLs this CA writes into what it issues. */
  get repository(): RepositoryUrls {
    return this.#repository;
  }

  get rootCertificatePem(): string {
    return this.#authority.rootPem;
  }

  get intermediateCertificatePem(): string {
    return this.#authority.intermediatePem;
  }

  async submit(request: CertificateSigningRequest): Promise<CaAnswer> {
    this.#refuseIfConfigured();
    checkRequestFields(request);
    const csr = parseCsr(request.csrPem);
    const csrSha256 = createHash('sha256').update(Buffer.from(csr.rawData)).digest('hex');
    const requestId = requestIdFor(request.idempotencyKey);

    return this.#mutex.run(requestId, async () => {
      let record = await readJson<RequestRecord>(this.#requestPath(requestId));
      if (!record) {
        await checkCsrAgainstPolicy(csr, request);
        const fresh: RequestRecord = {
          requestId,
          idempotencyKey: request.idempotencyKey,
          csrSha256,
          csrPem: toPem(Buffer.from(csr.rawData), 'CERTIFICATE REQUEST'),
          kind: request.kind,
          email: request.email,
          ...(request.displayName ? { displayName: request.displayName } : {}),
          profile: request.profile ?? DEFAULT_CERTIFICATE_PROFILE,
          validityDays: request.validityDays,
          submittedAtMs: this.#now(),
        };
        const created = await createExclusive(this.#requestPath(requestId), `${JSON.stringify(fresh, null, 2)}\n`);
        // Lost a race with another process: its record is the first answer.
        record = created ? fresh : await readJson<RequestRecord>(this.#requestPath(requestId));
        if (!record) throw new Error(`embedded CA request ${requestId} vanished while being created`);
      }
      if (record.csrSha256 !== csrSha256) {
        throw nonRetryable(
          'CertificateRejected',
          `idempotency key "${request.idempotencyKey}" was already used with a different CSR (request ${requestId}); a key names exactly one request`,
        );
      }
      return this.#answer(record);
    });
  }

  async poll(requestId: string): Promise<CaAnswer> {
    this.#refuseIfConfigured();
    if (!REQUEST_ID_PATTERN.test(requestId)) throw nonRetryable('CertificateRejected', `embedded CA has no request "${requestId}"`);
    return this.#mutex.run(requestId, async () => {
      const record = await readJson<RequestRecord>(this.#requestPath(requestId));
      if (!record) throw nonRetryable('CertificateRejected', `embedded CA has no request "${requestId}"`);
      return this.#answer(record);
    });
  }

  async revoke(serial: string, reason: RevocationReason): Promise<void> {
    let wanted: string;
    try {
      wanted = normalizeSerial(serial);
    } catch {
      throw nonRetryable('CertificateRejected', `"${serial}" is not a hexadecimal serial number`);
    }
    await this.#mutex.run('revocations', async () => {
      const issued = this.issued();
      if (!issued.some((record) => record.serial === wanted)) {
        throw nonRetryable('CertificateRejected', `embedded CA did not issue a certificate with serial ${wanted}`);
      }
      if (this.revocations().some((r) => r.serial === wanted)) return; // revoking twice is harmless
      const line: RevocationRecord = { serial: wanted, reason, revokedAt: new Date().toISOString() };
      await appendFile(this.#revocationsPath(), `${JSON.stringify(line)}\n`, { encoding: 'utf8', mode: 0o644 });
      this.#logger?.info({ serial: wanted, reason }, 'embedded CA revoked a certificate');
    });
    await this.#reissueCrl();
  }

  /**
   * The current CRL of the intermediate (DER), reissued first when it is missing, older than a day,
   * or does not list every revocation yet (another process revoked since it was written).
   */
  async currentCrl(): Promise<Buffer> {
    const stored = await readCrl(this.#crlPath());
    const fresh = stored && Date.now() - stored.crl.thisUpdate.getTime() < CRL_LIFETIMES.leavesRefreshMs;
    if (stored && fresh && stored.crl.entries.length === this.revocations().length) return stored.der;
    return this.#reissueCrl();
  }

  /** The root's CRL (DER): it lists no one (the intermediate is never revoked), but relying parties may fetch it. */
  async currentRootCrl(): Promise<Buffer> {
    const file = join(this.#authority.dir, REPOSITORY_FILES.rootCrl);
    return this.#mutex.run(CRL_LOCK, async () => {
      const stored = await readCrl(file);
      if (stored && Date.now() - stored.crl.thisUpdate.getTime() < CRL_LIFETIMES.rootRefreshMs) return stored.der;
      const thisUpdate = new Date(Date.now() - BACKDATE_MS);
      const der = await signCrl({
        issuer: this.#authority.root,
        signingKey: this.#authority.rootKey,
        entries: [],
        thisUpdate,
        nextUpdate: new Date(thisUpdate.getTime() + CRL_LIFETIMES.rootValidMs),
        number: nextCrlNumber(stored?.number, Date.now()),
      });
      await writeAtomically(file, der);
      return der;
    });
  }

  /**
   * Sign a CRL of every revocation and put it in place. Another process may append a revocation
   * meanwhile and write its own CRL; whoever finishes sees the revocation log changed under it and
   * signs again, so the last CRL written always lists every revocation.
   */
  async #reissueCrl(): Promise<Buffer> {
    return this.#mutex.run(CRL_LOCK, async () => {
      for (let round = 0; ; round += 1) {
        const before = this.#revocationsText();
        const stored = await readCrl(this.#crlPath());
        const thisUpdate = new Date(Date.now() - BACKDATE_MS);
        const der = await signCrl({
          issuer: this.#authority.intermediate,
          signingKey: this.#authority.intermediateKey,
          entries: parseRevocations(before),
          thisUpdate,
          nextUpdate: new Date(thisUpdate.getTime() + CRL_LIFETIMES.leavesValidMs),
          number: nextCrlNumber(stored?.number, Date.now()),
        });
        await writeAtomically(this.#crlPath(), der);
        if (this.#revocationsText() === before || round >= 10) return der;
      }
    });
  }

  /** Every revocation, oldest first. */
  revocations(): RevocationRecord[] {
    return parseRevocations(this.#revocationsText());
  }

  #revocationsText(): string {
    try {
      return readFileSync(this.#revocationsPath(), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw error;
    }
  }

  /** Every certificate issued, as recorded on disk (for tests and operators). */
  issued(): IssuedCertificateRecord[] {
    const records = readAllJson<IssuedRecord>(join(this.#dir, 'issued'));
    return records
      .map(({ serial, idempotencyKey, email, kind, issuedAt }) => ({ serial, idempotencyKey, email, kind, issuedAt }))
      .sort((a, b) => a.issuedAt.localeCompare(b.issuedAt));
  }

  #refuseIfConfigured(): void {
    if (this.#reject) throw nonRetryable('CertificateRejected', 'embedded CA configured to reject');
  }

  async #answer(record: RequestRecord): Promise<CaAnswer> {
    const existing = await readJson<IssuedRecord>(this.#issuedPath(record.requestId));
    if (existing) return this.#issuedAnswer(existing);
    if (this.#now() - record.submittedAtMs < this.#pendingForMs) return { status: 'pending', requestId: record.requestId };
    return this.#issuedAnswer(await this.#issue(record));
  }

  #issuedAnswer(record: IssuedRecord): CaAnswer {
    return { status: 'issued', certificatePem: record.certificatePem, chainPem: [this.#authority.intermediatePem], requestId: record.requestId };
  }

  async #issue(request: RequestRecord): Promise<IssuedRecord> {
    const csr = parseCsr(request.csrPem);
    const keyType = publicKeyType(csr);
    const { intermediate, intermediateKey } = this.#authority;
    const notBefore = new Date(Date.now() - BACKDATE_MS);
    const lifetimeMs = Math.min(request.validityDays, MAX_VALIDITY_DAYS) * DAY_MS;
    // Never outlive the issuer: a chain with a leaf beyond its CA's notAfter does not validate.
    const notAfter = new Date(Math.min(notBefore.getTime() + lifetimeMs, intermediate.notAfter.getTime()));
    const issuerKeyId = intermediate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    if (!issuerKeyId) throw new Error('the embedded CA intermediate has no subject key identifier');

    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: smimeSubjectName({ email: request.email }),
      issuer: intermediate.subjectName,
      notBefore,
      notAfter,
      publicKey: csr.publicKey,
      signingKey: intermediateKey,
      signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(smimeKeyUsage(request.kind, keyType), true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.emailProtection]),
        new x509.SubjectAlternativeNameExtension([{ type: 'email', value: request.email }]),
        new x509.CertificatePolicyExtension(policyOidsFor(request.profile ?? DEFAULT_CERTIFICATE_PROFILE, this.#organisationPolicyOids), false),
        ...publicationExtensions(this.#repository.leaves),
        await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
        new x509.AuthorityKeyIdentifierExtension(issuerKeyId),
      ],
    });

    const record: IssuedRecord = {
      requestId: request.requestId,
      serial: normalizeSerial(certificate.serialNumber),
      idempotencyKey: request.idempotencyKey,
      email: request.email,
      kind: request.kind,
      issuedAt: new Date().toISOString(),
      certificatePem: toPem(Buffer.from(certificate.rawData)),
    };
    if (!(await createExclusive(this.#issuedPath(request.requestId), `${JSON.stringify(record, null, 2)}\n`))) {
      // Another process issued for this request first; ours was never handed out.
      const winner = await readJson<IssuedRecord>(this.#issuedPath(request.requestId));
      if (!winner) throw new Error(`embedded CA issuance record for ${request.requestId} vanished`);
      return winner;
    }
    this.#logger?.info({ requestId: request.requestId, serial: record.serial, kind: request.kind, notAfter: notAfter.toISOString() }, 'embedded CA issued a certificate');
    return record;
  }

  #requestPath(requestId: string): string {
    return join(this.#dir, 'requests', `${requestId}.json`);
  }

  #issuedPath(requestId: string): string {
    return join(this.#dir, 'issued', `${requestId}.json`);
  }

  #revocationsPath(): string {
    return join(this.#dir, 'revocations.jsonl');
  }

  #crlPath(): string {
    return join(this.#authority.dir, REPOSITORY_FILES.intermediateCrl);
  }
}

function parseRevocations(text: string): RevocationRecord[] {
  return text
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => JSON.parse(line) as RevocationRecord);
}

/** Stable per idempotency key, and safe as a file name whatever the key contains. */
function requestIdFor(idempotencyKey: string): string {
  return `emb-${createHash('sha256').update(idempotencyKey, 'utf8').digest('hex').slice(0, 32)}`;
}

function checkRequestFields(request: CertificateSigningRequest): void {
  if (!request.idempotencyKey) throw nonRetryable('CertificateRejected', 'the request has no idempotency key');
  if (request.kind !== 'signing' && request.kind !== 'encryption') throw nonRetryable('CertificateRejected', `unknown credential kind "${String(request.kind)}"`);
  if (!EMAIL_PATTERN.test(request.email ?? '')) throw nonRetryable('CertificateRejected', 'the request has no valid email address');
  if (!Number.isInteger(request.validityDays) || request.validityDays < 1) {
    throw nonRetryable('CertificateRejected', `validityDays must be a positive whole number of days, got ${String(request.validityDays)}`);
  }
}

function parseCsr(csrPem: string): x509.Pkcs10CertificateRequest {
  try {
    return new x509.Pkcs10CertificateRequest(csrPem);
  } catch {
    throw nonRetryable('CertificateRejected', 'the CSR is not a PEM PKCS#10 certificate request');
  }
}

async function checkCsrAgainstPolicy(csr: x509.Pkcs10CertificateRequest, request: CertificateSigningRequest): Promise<void> {
  let signatureValid = false;
  try {
    signatureValid = await csr.verify();
  } catch {
    signatureValid = false;
  }
  if (!signatureValid) throw nonRetryable('CertificateRejected', 'the CSR signature does not verify (proof of possession failed)');

  const keyType = publicKeyType(csr);
  const key = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' });
  const details = key.asymmetricKeyDetails ?? {};
  if (keyType === 'rsa' && (details.modulusLength ?? 0) < 2048) throw nonRetryable('CertificateRejected', 'RSA keys must be at least 2048 bits');
  if (keyType === 'ec' && !['prime256v1', 'secp384r1'].includes(details.namedCurve ?? '')) {
    throw nonRetryable('CertificateRejected', 'EC keys must be on P-256 or P-384');
  }

  const sanExtension = csr.getExtension(SUBJECT_ALT_NAME_OID);
  const san = sanExtension ? new x509.SubjectAlternativeNameExtension(sanExtension.rawData) : undefined;
  const emails = san?.names.items.filter((name) => name.type === 'email').map((name) => name.value) ?? [];
  if (emails.length !== 1 || emails[0]!.toLowerCase() !== request.email.toLowerCase()) {
    throw nonRetryable('CertificateRejected', "the CSR's SAN rfc822Name must be exactly the request's email address");
  }
}

function publicKeyType(csr: x509.Pkcs10CertificateRequest): 'rsa' | 'ec' {
  const type = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' }).asymmetricKeyType;
  if (type === 'rsa' || type === 'ec') return type;
  throw nonRetryable('CertificateRejected', `the CSR carries a ${type ?? 'unknown'} key; RSA or EC is required`);
}
