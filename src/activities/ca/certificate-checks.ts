/**
 * What the provider checks in every certificate a CA returns, before it is packed and uploaded.
 * A misconfigured CA (wrong template, wrong product, another tenant's order, a mix-up of
 * requests) must not ship a wrong certificate to every phone: one that fails here ends the run as
 * `CertificateRejected` (non-retryable — asking the same CA again gives the same answer), with a
 * message that names the check, in the history and the failure notification.
 *
 *   public-key          the certificate carries the key generated for this request
 *   san-email           SAN rfc822Name = the user's address, and no other name
 *   subject             CN and E, where present, are that address; nothing a Mailbox-validated
 *                       certificate may not carry (BR 7.1.4.2.2: CN, E, serialNumber only)
 *   basic-constraints   not a CA
 *   key-usage           signing: digitalSignature (+ nonRepudiation); RSA encryption:
 *                       keyEncipherment; EC encryption: keyAgreement (+ encipher/decipherOnly)
 *   extended-key-usage  emailProtection; under mailbox-strict nothing else, under multipurpose
 *                       nothing the BR forbid (serverAuth, codeSigning, timeStamping, OCSP, any)
 *   policy              exactly one CA/B Forum reserved S/MIME policy, the profile's; and every
 *                       organisation OID configured (CERT_POLICY_OIDS)
 *   validity            valid now; at least CERT_MIN_VALIDITY_DAYS left; no longer than
 *                       CERT_VALIDITY_DAYS (+ 1 day for backdating)
 *   chain               the returned chain leads to one of the configured roots, signatures and
 *                       CA constraints verified (pkijs' RFC 5280 path validation)
 *
 * Deliberately not checked: revocation (the certificate was issued a moment ago) and the CRL/AIA
 * URLs (what a commercial CA names is its own business; the linters in the test suite check that
 * the CAs this project configures write them).
 */
import { createHash, X509Certificate as NodeX509Certificate } from 'node:crypto';
import * as pkijs from 'pkijs';
import {
  isReservedSmimePolicy,
  KEY_USAGE_RULES,
  policyOidsFor,
  RESERVED_POLICY_OID,
  type CertificateProfileName,
  type KeyType,
  type KeyUsageName,
} from '../../domain/certificate-profile';
import type { CredentialKind } from '../../domain/enrollment';
import { nonRetryable } from '../../domain/errors';
import { DAY_MS } from '../../domain/schedule';
import { certificatePublicKeySha256, splitPemBundle } from '../crypto/certificate-info';
import { nodeCrypto, x509 } from '../crypto/x509';

export type CertificateCheckName =
  | 'parse'
  | 'public-key'
  | 'san-email'
  | 'subject'
  | 'basic-constraints'
  | 'key-usage'
  | 'extended-key-usage'
  | 'policy'
  | 'validity'
  | 'chain';

/** What the deployment expects of every certificate (from settings, fixed at worker start). */
export interface CertificateCheckPolicy {
  profile: CertificateProfileName;
  /** CERT_POLICY_OIDS: the organisation's own policy OIDs, each of which must be present. */
  organisationPolicyOids?: readonly string[];
  /** PEM roots the chain must end at (CERT_TRUST_ROOTS_FILE, CA_ROOT_FILE, or the embedded CA's root). */
  trustRootsPem: readonly string[];
  /** CERT_VALIDITY_DAYS: what was asked for; a longer certificate is refused. */
  maxValidityDays: number;
  /** CERT_MIN_VALIDITY_DAYS: a certificate with less left than this is refused. */
  minValidityDays: number;
}

/** What one request expects. */
export interface CertificateExpectation {
  kind: CredentialKind;
  /** The user's address; absent only for polls scheduled by workflow code older than this check. */
  email?: string;
  /** Hex SHA-256 of the SPKI of the key generated for this request. */
  publicKeySha256: string;
}

export interface ReturnedCertificate {
  certificatePem: string;
  chainPem: readonly string[];
}

/** What the activities need: `CertificateChecks` implements it. */
export interface IssuedCertificateCheck {
  /** Resolves when the certificate may be delivered; throws `CertificateRejected` naming the failed check otherwise. */
  check(returned: ReturnedCertificate, expected: CertificateExpectation): Promise<void>;
}

/** Clock difference tolerated between the CA and this host for notBefore. */
const CLOCK_SKEW_MS = 5 * 60_000;
/** CAs backdate notBefore (step-ca by a minute, others by up to a day). */
const BACKDATE_ALLOWANCE_MS = DAY_MS;

const EKU = {
  emailProtection: '1.3.6.1.5.5.7.3.4',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
  any: '2.5.29.37.0',
} as const;
/** BR 7.1.2.3(f): never in an S/MIME certificate, whatever the generation. */
const FORBIDDEN_EKUS: Record<string, string> = {
  [EKU.serverAuth]: 'serverAuth',
  [EKU.codeSigning]: 'codeSigning',
  [EKU.timeStamping]: 'timeStamping',
  [EKU.ocspSigning]: 'OCSPSigning',
  [EKU.any]: 'anyExtendedKeyUsage',
};

const KEY_USAGE_FLAGS: [KeyUsageName, x509.KeyUsageFlags][] = [
  ['digitalSignature', x509.KeyUsageFlags.digitalSignature],
  ['nonRepudiation', x509.KeyUsageFlags.nonRepudiation],
  ['keyEncipherment', x509.KeyUsageFlags.keyEncipherment],
  ['dataEncipherment', x509.KeyUsageFlags.dataEncipherment],
  ['keyAgreement', x509.KeyUsageFlags.keyAgreement],
  ['keyCertSign', x509.KeyUsageFlags.keyCertSign],
  ['cRLSign', x509.KeyUsageFlags.cRLSign],
  ['encipherOnly', x509.KeyUsageFlags.encipherOnly],
  ['decipherOnly', x509.KeyUsageFlags.decipherOnly],
];

/** Subject attributes a Mailbox-validated certificate may carry (BR 7.1.4.2.2). */
const MAILBOX_SUBJECT_ATTRIBUTES = new Set(['2.5.4.3' /* CN */, '1.2.840.113549.1.9.1' /* E */, '2.5.4.5' /* serialNumber */]);

const pkijsEngine = new pkijs.CryptoEngine({ name: 'node-webcrypto', crypto: nodeCrypto as unknown as pkijs.CryptoEngineParameters['crypto'] });

export class CertificateChecks implements IssuedCertificateCheck {
  readonly #policy: CertificateCheckPolicy;
  readonly #policyOids: string[];
  readonly #roots: pkijs.Certificate[];

  constructor(policy: CertificateCheckPolicy) {
    this.#policy = policy;
    this.#policyOids = policyOidsFor(policy.profile, policy.organisationPolicyOids ?? []);
    const roots = policy.trustRootsPem.flatMap((pem) => splitPemBundle(pem));
    if (roots.length === 0) throw new Error('certificate checks need at least one trusted root certificate');
    this.#roots = roots.map((pem) => pkijs.Certificate.fromBER(pemToDer(pem)));
  }

  get policy(): CertificateCheckPolicy {
    return this.#policy;
  }

  /** Throws `CertificateRejected` naming the first check that fails. */
  async check(returned: ReturnedCertificate, expected: CertificateExpectation, now = new Date()): Promise<void> {
    const certificate = parse(returned.certificatePem);
    checkPublicKey(returned.certificatePem, expected);
    if (expected.email) checkSanEmail(certificate, expected.email);
    if (expected.email) checkSubject(certificate, expected.email);
    checkBasicConstraints(certificate);
    checkKeyUsage(certificate, expected.kind, keyTypeOf(returned.certificatePem));
    checkExtendedKeyUsage(certificate, this.#policy.profile);
    this.#checkPolicies(certificate);
    this.#checkValidity(certificate, now);
    await this.#checkChain(returned, now);
  }

  #checkPolicies(certificate: x509.X509Certificate): void {
    const policies = certificate.getExtension(x509.CertificatePolicyExtension)?.policies ?? [];
    const wanted = RESERVED_POLICY_OID[this.#policy.profile];
    const reserved = policies.filter(isReservedSmimePolicy);
    if (reserved.length !== 1 || reserved[0] !== wanted) {
      const found = reserved.length === 0 ? 'none' : reserved.join(', ');
      fail('policy', `expected exactly one CA/B Forum S/MIME reserved policy, ${wanted} (${this.#policy.profile}); the certificate has ${found}`);
    }
    const missing = this.#policyOids.filter((oid) => !policies.includes(oid));
    if (missing.length > 0) fail('policy', `the certificate lacks the configured policy OID(s) ${missing.join(', ')} (CERT_POLICY_OIDS)`);
  }

  #checkValidity(certificate: x509.X509Certificate, now: Date): void {
    const notBefore = certificate.notBefore.getTime();
    const notAfter = certificate.notAfter.getTime();
    if (notBefore > now.getTime() + CLOCK_SKEW_MS) fail('validity', `the certificate is not valid before ${certificate.notBefore.toISOString()}`);
    const leftDays = (notAfter - now.getTime()) / DAY_MS;
    if (leftDays < this.#policy.minValidityDays) {
      fail('validity', `the certificate expires ${certificate.notAfter.toISOString()}, ${Math.max(0, leftDays).toFixed(1)} days from now; at least ${this.#policy.minValidityDays} are required (CERT_MIN_VALIDITY_DAYS)`);
    }
    const lifetimeMs = notAfter - notBefore;
    if (lifetimeMs > this.#policy.maxValidityDays * DAY_MS + BACKDATE_ALLOWANCE_MS) {
      fail('validity', `the certificate is valid for ${(lifetimeMs / DAY_MS).toFixed(1)} days, more than the ${this.#policy.maxValidityDays} asked for (CERT_VALIDITY_DAYS)`);
    }
  }

  async #checkChain(returned: ReturnedCertificate, now: Date): Promise<void> {
    const leaf = pkijs.Certificate.fromBER(pemToDer(returned.certificatePem));
    const intermediates = returned.chainPem.flatMap((pem) => splitPemBundle(pem)).map((pem) => pkijs.Certificate.fromBER(pemToDer(pem)));
    const engine = new pkijs.CertificateChainValidationEngine({
      trustedCerts: this.#roots,
      certs: [...intermediates, leaf], // pkijs: the end entity last
      checkDate: now,
    });
    let result: pkijs.CertificateChainValidationEngineVerifyResult;
    try {
      result = await engine.verify({}, pkijsEngine);
    } catch (error) {
      result = { result: false, resultCode: -1, resultMessage: (error as Error).message ?? String(error) };
    }
    if (!result.result) {
      const roots = this.#roots.map((root) => describeName(root)).join('; ');
      fail('chain', `the certificate does not chain to a configured root (${roots}): ${result.resultMessage || `code ${result.resultCode}`}`);
    }
  }
}

function fail(check: CertificateCheckName, message: string): never {
  throw nonRetryable('CertificateRejected', `certificate check "${check}" failed: ${message}`);
}

function parse(pem: string): x509.X509Certificate {
  try {
    return new x509.X509Certificate(pem);
  } catch {
    return fail('parse', 'the CA returned something that is not a PEM X.509 certificate');
  }
}

function checkPublicKey(pem: string, expected: CertificateExpectation): void {
  // A certificate for another key would be useless (and a sign of a CA-side mix-up).
  if (certificatePublicKeySha256(pem) !== expected.publicKeySha256) {
    fail('public-key', `the CA returned a ${expected.kind} certificate for a different public key than the CSR's`);
  }
}

function checkSanEmail(certificate: x509.X509Certificate, email: string): void {
  const san = certificate.getExtension(x509.SubjectAlternativeNameExtension);
  if (!san) fail('san-email', `the certificate has no subjectAltName; expected rfc822Name ${email}`);
  const names = san.names.items;
  const emails = names.filter((name) => name.type === 'email').map((name) => name.value);
  const others = names.filter((name) => name.type !== 'email').map((name) => `${name.type}:${name.value}`);
  const wanted = email.toLowerCase();
  const strangers = emails.filter((value) => value.toLowerCase() !== wanted);
  if (!emails.some((value) => value.toLowerCase() === wanted)) {
    fail('san-email', `the certificate is for ${emails.join(', ') || 'no address'}, not ${email}`);
  }
  if (strangers.length > 0 || others.length > 0) {
    fail('san-email', `the certificate names ${[...strangers, ...others].join(', ')} besides ${email}`);
  }
}

function checkSubject(certificate: x509.X509Certificate, email: string): void {
  const wanted = email.toLowerCase();
  for (const rdn of certificate.subjectName.toJSON()) {
    for (const [type, values] of Object.entries(rdn)) {
      const oid = attributeOid(type);
      if (!MAILBOX_SUBJECT_ATTRIBUTES.has(oid)) {
        fail('subject', `the subject carries ${type}=${values.join(',')}, which a Mailbox-validated certificate may not (CN, E and serialNumber only)`);
      }
      if (oid !== '2.5.4.5' && values.some((value) => value.toLowerCase() !== wanted)) {
        fail('subject', `the subject's ${type} is "${values.join(',')}", not the address ${email}`);
      }
    }
  }
}

/** The OID of a subject attribute as @peculiar/x509 names it in JSON (short name or dotted OID). */
function attributeOid(type: string): string {
  switch (type) {
    case 'CN':
      return '2.5.4.3';
    case 'E':
      return '1.2.840.113549.1.9.1';
    case 'serialNumber':
      return '2.5.4.5';
    default:
      return type;
  }
}

function checkBasicConstraints(certificate: x509.X509Certificate): void {
  const constraints = certificate.getExtension(x509.BasicConstraintsExtension);
  if (constraints?.ca) fail('basic-constraints', 'the CA returned a CA certificate (basicConstraints cA true)');
}

function checkKeyUsage(certificate: x509.X509Certificate, kind: CredentialKind, keyType: KeyType): void {
  const extension = certificate.getExtension(x509.KeyUsagesExtension);
  const rule = KEY_USAGE_RULES[kind][keyType];
  if (!extension) fail('key-usage', `the ${kind} certificate has no keyUsage; ${rule.required} is required for ${keyType.toUpperCase()} keys`);
  const present = KEY_USAGE_FLAGS.filter(([, flag]) => (extension.usages & flag) === flag).map(([name]) => name);
  if (!present.includes(rule.required)) {
    fail('key-usage', `the ${kind} certificate's keyUsage is ${present.join(', ') || 'empty'}; ${rule.required} is required for ${keyType.toUpperCase()} keys`);
  }
  const extra = present.filter((name) => !rule.allowed.includes(name));
  if (extra.length > 0) fail('key-usage', `the ${kind} certificate's keyUsage also has ${extra.join(', ')}; a ${keyType.toUpperCase()} ${kind} certificate may carry only ${rule.allowed.join(', ')}`);
}

function checkExtendedKeyUsage(certificate: x509.X509Certificate, profile: CertificateProfileName): void {
  const usages = (certificate.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? []).map(String);
  if (!usages.includes(EKU.emailProtection)) {
    fail('extended-key-usage', `the certificate does not allow emailProtection (EKU: ${usages.join(', ') || 'none'})`);
  }
  const forbidden = usages.filter((oid) => oid in FORBIDDEN_EKUS).map((oid) => FORBIDDEN_EKUS[oid]);
  if (forbidden.length > 0) fail('extended-key-usage', `the certificate also allows ${forbidden.join(', ')}, which no S/MIME certificate may`);
  const others = usages.filter((oid) => oid !== EKU.emailProtection);
  if (profile === 'mailbox-strict' && others.length > 0) {
    fail('extended-key-usage', `a mailbox-strict certificate allows emailProtection only; this one also ${others.join(', ')}`);
  }
}

function keyTypeOf(pem: string): KeyType {
  const type = new NodeX509Certificate(pem).publicKey.asymmetricKeyType;
  if (type === 'rsa' || type === 'ec') return type;
  return fail('public-key', `the certificate carries a ${type ?? 'unknown'} key; RSA or EC is expected`);
}

function pemToDer(pem: string): ArrayBuffer {
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  return der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength) as ArrayBuffer;
}

function describeName(certificate: pkijs.Certificate): string {
  const cn = certificate.subject.typesAndValues.find((tv) => tv.type === '2.5.4.3');
  const value = cn?.value.valueBlock.value;
  const sha256 = createHash('sha256').update(Buffer.from(certificate.toSchema().toBER())).digest('hex').slice(0, 16);
  return `${typeof value === 'string' ? value : 'root'} ${sha256}`;
}
