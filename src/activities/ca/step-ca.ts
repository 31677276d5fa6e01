/**
 * `CertificateAuthority` over smallstep step-ca: `POST /1.0/sign` with the CSR and a one-time token
 * (a JWS) signed by a JWK provisioner's key; `POST /1.0/revoke` (passive) for revocation.
 *
 * ## A retry must not leave two certificates
 *
 * step-ca has no idempotency key, its tokens are single-use, and it cannot list or fetch
 * certificates (not by CSR, not by serial). So when an answer is lost — the CA signed, the
 * response never arrived — the certificate itself cannot be recovered. What this adapter does:
 *
 * 1. Key and CSR stay the same across retries (the CSR comes from an earlier activity, in history).
 * 2. Every submission n for (idempotency key, CSR) has a jti and a serial number derived by
 *    HMAC from the provisioner key: the same on every worker and after any restart. The token
 *    binds the CSR (`cnf.x5rt#S256`, checked by step-ca), and the provider's template gives the
 *    certificate exactly that serial.
 * 3. A ledger under DATA_DIR records submission n before it is sent, and the certificate when it
 *    arrives. A retry whose ledger has the certificate answers from it: same serial, no CA call.
 * 4. Otherwise the retry resends submission n with the same jti. If the first one never reached
 *    step-ca, it is simply issued now. If it did, step-ca refuses the reused jti (401) — and
 *    because its 401 does not say why, the adapter asks the one question that tells: it revokes
 *    serial n with a fresh token. Accepted (or "already revoked") means our credentials are
 *    good, so the 401 was the spent jti: whatever certificate submission n produced — nobody ever
 *    received it — is now revoked (reason superseded), and submission n+1 gets a new jti and
 *    serial. Refused with 401 means the credentials are bad: `CertificateRejected`.
 *
 * Guarantee: per (idempotency key, CSR) at most one *unrevoked* certificate, and the workflow
 * only ever receives that one. A lost answer costs one extra, revoked certificate, for the same
 * key and email, that no one holds. Without a shared DATA_DIR, a retry on another worker cannot
 * use the first worker's ledger and goes through step 4 (still one unrevoked certificate). The
 * ledger is serialised per entry inside one process, not across processes sharing a folder.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { JWK } from 'jose';
import type { CaAnswer, CertificateAuthority, CertificateSigningRequest, RevocationReason } from './certificate-authority';
import { CaHttp, excerpt, type CaHttpResponse } from './ca-http';
import { parseJson } from '../transport';
import { SubmissionLedger, type LedgerEntry } from './step-ca/ledger';
import { ProvisionerKey } from './step-ca/provisioner-key';
import { normalizeSerial } from '../crypto/certificate-info';
import { x509 } from '../crypto/x509';
import { DEFAULT_CERTIFICATE_PROFILE, policyOidsFor, type PublicationUrls } from '../../domain/certificate-profile';
import { nonRetryable, retryable } from '../../domain/errors';
import type { Logger } from '../../logging';

export { SMIME_X509_TEMPLATE } from './step-ca/smime-template';

export interface StepCaOptions {
  /** Base URL of step-ca, e.g. `https://ca.internal:9000` (CA_URL). */
  url: string;
  /** PEM root that verifies step-ca's TLS certificate (CA_ROOT_FILE); absent: Node's trust store. */
  rootPem?: string;
  /** JWK provisioner name (STEP_CA_PROVISIONER). */
  provisionerName: string;
  /** The provisioner's decrypted private JWK (STEP_CA_PROVISIONER_KEY_FILE). */
  provisionerJwk: JWK;
  /** Folder of the submission ledger, e.g. `<DATA_DIR>/step-ca-ledger`. */
  ledgerDir: string;
  requestTimeoutMs: number;
  logger: Logger;
  /** Lost answers tolerated for one request before giving up (each costs one revoked certificate). */
  maxLostAnswers?: number;
  /** CRL, issuer and OCSP URLs the template writes into every certificate (CERT_CRL_URL, ...). */
  publication: PublicationUrls;
  /** The organisation's own policy OIDs (CERT_POLICY_OIDS), after the reserved one. */
  organisationPolicyOids?: readonly string[];
}

/** RFC 5280 CRLReason codes, as step-ca's revoke API takes them. */
const REASON_CODES: Record<RevocationReason | 'superseded', number> = {
  keyCompromise: 1,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
};

export class StepCa implements CertificateAuthority {
  readonly type = 'step-ca';

  private constructor(
    private readonly http: CaHttp,
    private readonly provisioner: ProvisionerKey,
    private readonly ledger: SubmissionLedger,
    private readonly logger: Logger,
    private readonly maxLostAnswers: number,
    private readonly publication: PublicationUrls,
    private readonly organisationPolicyOids: readonly string[],
  ) {}

  static async create(options: StepCaOptions): Promise<StepCa> {
    const provisioner = await ProvisionerKey.fromJwk(options.provisionerName, options.provisionerJwk);
    const http = new CaHttp({ baseUrl: options.url, rootPem: options.rootPem, timeoutMs: options.requestTimeoutMs, caName: 'step-ca' });
    const organisationPolicyOids = options.organisationPolicyOids ?? [];
    policyOidsFor(DEFAULT_CERTIFICATE_PROFILE, organisationPolicyOids); // refuse bad OIDs at start
    return new StepCa(http, provisioner, new SubmissionLedger(options.ledgerDir), options.logger, options.maxLostAnswers ?? 5, options.publication, organisationPolicyOids);
  }

  /** Read the provisioner key file (a decrypted JWK, JSON). Errors name the setting, never the content. */
  static readProvisionerKey(file: string): JWK {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`STEP_CA_PROVISIONER_KEY_FILE: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    const parsed = parseJson(text);
    if (!parsed || typeof parsed !== 'object' || typeof (parsed as JWK).kty !== 'string') {
      throw new Error(`STEP_CA_PROVISIONER_KEY_FILE: ${file} is not a JWK (JSON with "kty"); an encrypted key must be decrypted first (step crypto jwe decrypt)`);
    }
    return parsed as JWK;
  }

  async submit(request: CertificateSigningRequest): Promise<CaAnswer> {
    const csr = parseCsr(request.csrPem);
    const csrSha256Hex = csr.sha256.toString('hex');
    const id = SubmissionLedger.entryId(request.idempotencyKey, csrSha256Hex);
    return this.ledger.exclusive(id, async () => {
      const recorded = await this.ledger.read(id);
      if (recorded?.issued) {
        this.logger.info({ requestId: id, serial: recorded.issued.serial }, 'step-ca: certificate already issued for this request (from the ledger)');
        return issuedAnswer(id, recorded.issued);
      }
      let entry: LedgerEntry = recorded ?? {
        version: 1,
        idempotencyKey: request.idempotencyKey,
        csrSha256: csrSha256Hex,
        kind: request.kind,
        email: request.email,
        attempt: 0,
        serial: '',
        submittedAt: '',
        supersededSerials: [],
      };
      const firstAttempt = entry.attempt;
      for (;;) {
        const { jti, serialHex } = this.provisioner.reconciliationIds(request.idempotencyKey, csrSha256Hex, entry.attempt);
        entry = { ...entry, serial: serialHex, submittedAt: new Date().toISOString() };
        await this.ledger.write(id, entry);

        const response = await this.sign(request, csr, jti, serialHex);
        if (response.status === 200 || response.status === 201) {
          const issued = this.issuedFrom(response, serialHex);
          await this.ledger.write(id, { ...entry, issued });
          this.logger.info({ requestId: id, serial: issued.serial, kind: request.kind, attempt: entry.attempt }, 'step-ca: certificate issued');
          return issuedAnswer(id, issued);
        }
        if (response.status !== 401) throw signFailure(response);

        // 401: a spent jti (an earlier answer was lost) or bad credentials. Revoking the serial
        // that submission would have produced tells the two apart, and cleans up in the first case.
        const revoked = await this.revokeSerial(serialHex, 'superseded');
        if (revoked === 'unauthorized') {
          throw nonRetryable('CertificateRejected', `step-ca refused the provisioner's tokens (401): check STEP_CA_PROVISIONER and STEP_CA_PROVISIONER_KEY_FILE (${excerpt(response.text)})`);
        }
        this.logger.warn(
          { requestId: id, attempt: entry.attempt, supersededSerial: serialHex },
          'step-ca: an earlier submission of this request was used up but its answer was lost; its certificate is revoked and the request is sent again',
        );
        if (entry.attempt - firstAttempt + 1 >= this.maxLostAnswers) {
          await this.ledger.write(id, { ...entry, supersededSerials: [...entry.supersededSerials, serialHex] });
          throw nonRetryable('CertificateRejected', `step-ca: ${this.maxLostAnswers} answers in a row were lost for this request; giving up rather than revoking more certificates`);
        }
        entry = { ...entry, attempt: entry.attempt + 1, supersededSerials: [...entry.supersededSerials, serialHex] };
      }
    });
  }

  /** step-ca answers at once or not at all; a request id is only ever one whose certificate the ledger holds. */
  async poll(requestId: string): Promise<CaAnswer> {
    const entry = /^[0-9a-f]{40}$/.test(requestId) ? await this.ledger.read(requestId) : undefined;
    if (entry?.issued) return issuedAnswer(requestId, entry.issued);
    throw nonRetryable(
      'ConfigurationError',
      `step-ca has no pending request ${requestId}: step-ca never answers "pending", so this id comes from another CA type (was CA_TYPE changed while requests were pending?)`,
    );
  }

  async revoke(serial: string, reason: RevocationReason): Promise<void> {
    const result = await this.revokeSerial(serial, reason);
    if (result === 'unauthorized') {
      throw nonRetryable('CertificateRejected', 'step-ca refused the revocation token (401): check STEP_CA_PROVISIONER and STEP_CA_PROVISIONER_KEY_FILE');
    }
    this.logger.info({ serial, reason, alreadyRevoked: result === 'already-revoked' }, 'step-ca: certificate revoked');
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private async sign(request: CertificateSigningRequest, csr: ParsedCsr, jti: string, serialHex: string): Promise<CaHttpResponse> {
    const ott = await this.provisioner.signToken({
      caUrl: this.http.baseUrl,
      // step-ca accepts a CSR whose CN is the token subject or one of its SANs.
      subject: csr.commonName ?? request.email,
      email: request.email,
      kind: request.kind,
      csrSha256: csr.sha256,
      jti,
      serialHex,
      policies: policyOidsFor(request.profile ?? DEFAULT_CERTIFICATE_PROFILE, this.organisationPolicyOids),
      publication: this.publication,
    });
    return this.http.call('POST', '/1.0/sign', {
      json: { csr: request.csrPem, ott, notAfter: `${request.validityDays * 24}h` },
    });
  }

  /** Passive revocation (the only kind step-ca implements). Idempotent: "already revoked" is success. */
  private async revokeSerial(serialHex: string, reason: RevocationReason | 'superseded'): Promise<'revoked' | 'already-revoked' | 'unauthorized'> {
    const hex = serialHex.toLowerCase().replace(/^0x/, '');
    const ott = await this.provisioner.revokeToken({ caUrl: this.http.baseUrl, serialHex: hex });
    const response = await this.http.call('POST', '/1.0/revoke', {
      json: { serial: `0x${hex}`, ott, reasonCode: REASON_CODES[reason], reason, passive: true },
    });
    if (response.status === 200) return 'revoked';
    if (response.status === 401) return 'unauthorized';
    // step-ca's wire text for a second revocation of the same serial; nothing else tells it apart.
    if (response.status === 400 && /already revoked/i.test(response.text)) return 'already-revoked';
    if (response.status === 501) {
      throw nonRetryable('ConfigurationError', 'step-ca cannot revoke: it runs without a database ("db" in ca.json), which single-use tokens and revocation need');
    }
    if (response.status >= 500 || response.status === 429) throw retryable('CaUnavailable', `step-ca revoke: HTTP ${response.status}: ${excerpt(response.text)}`);
    throw nonRetryable('CertificateRejected', `step-ca refused to revoke ${hex}: HTTP ${response.status}: ${excerpt(response.text)}`);
  }

  private issuedFrom(response: CaHttpResponse, expectedSerialHex: string): NonNullable<LedgerEntry['issued']> {
    const body = parseJson(response.text) as { crt?: unknown; ca?: unknown; certChain?: unknown } | undefined;
    const chain = Array.isArray(body?.certChain) ? body.certChain.filter((c): c is string => typeof c === 'string') : [];
    const leaf = typeof body?.crt === 'string' ? body.crt : chain[0];
    if (!leaf) throw retryable('CaUnavailable', `step-ca sign: HTTP ${response.status} without a certificate: ${excerpt(response.text)}`);
    // certChain is leaf + intermediates; older step-ca versions send only crt and ca.
    const intermediates = chain.length > 1 ? chain.slice(1) : typeof body?.ca === 'string' ? [body.ca] : [];
    let serial: string;
    try {
      serial = normalizeSerial(new x509.X509Certificate(leaf).serialNumber);
    } catch {
      throw retryable('CaUnavailable', `step-ca sign: HTTP ${response.status} with a certificate that does not parse`);
    }
    if (serial !== expectedSerialHex) {
      // The provisioner does not use the provider's template: the certificate is good, but a lost
      // answer could not be cleaned up. Say so loudly; the administrator should fix the template.
      this.logger.warn({ serial, expectedSerial: expectedSerialHex }, 'step-ca: the certificate does not carry the serial from the token; is the S/MIME template configured on the provisioner?');
    }
    return { certificatePem: leaf.trim() + '\n', chainPem: intermediates.map((c) => c.trim() + '\n'), serial, issuedAt: new Date().toISOString() };
  }
}

interface ParsedCsr {
  sha256: Buffer;
  commonName?: string;
}

function parseCsr(csrPem: string): ParsedCsr {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch {
    throw nonRetryable('CertificateRejected', 'the CSR is not a PEM PKCS#10 request');
  }
  const commonName = csr.subjectName.getField('CN')[0];
  return { sha256: createHash('sha256').update(Buffer.from(csr.rawData)).digest(), commonName: commonName || undefined };
}

function issuedAnswer(requestId: string, issued: NonNullable<LedgerEntry['issued']>): CaAnswer {
  return { status: 'issued', certificatePem: issued.certificatePem, chainPem: issued.chainPem, requestId };
}

/** Any non-success, non-401 answer to a sign request, typed where it is born. */
function signFailure(response: CaHttpResponse) {
  const message = messageOf(response);
  if (response.status >= 500 || response.status === 429) return retryable('CaUnavailable', `step-ca sign: HTTP ${response.status}: ${message}`);
  return nonRetryable('CertificateRejected', `step-ca refused to sign (HTTP ${response.status}): ${message}`);
}

function messageOf(response: CaHttpResponse): string {
  const body = parseJson(response.text) as { message?: unknown } | undefined;
  return typeof body?.message === 'string' ? excerpt(body.message) : excerpt(response.text);
}
