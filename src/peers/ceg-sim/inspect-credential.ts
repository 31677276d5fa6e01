/**
 * What the CEG simulator checks in every upload, with OpenSSL — never with the pkijs/node-forge
 * code that built the file:
 *
 *   1. the PKCS#12 opens with the password (MAC and encrypted bags), `openssl pkcs12` (the CLI);
 *   2. it holds exactly one private key, and a certificate whose SHA-256 is the thumbprint sent;
 *   3. that certificate carries EKU emailProtection, a SAN rfc822Name equal to the email sent, has
 *      not expired, and its public key is the private key's (Node's X509Certificate and KeyObject,
 *      OpenSSL in-process: one process per upload instead of four);
 *   4. its algorithms are those of the profile sent (legacy: SHA-1 MAC, 3DES key bag;
 *      modern: SHA-256 MAC, PBES2/AES-256 key bag), when a profile is sent.
 *
 * Archived credentials (history in an encryption upload) get the same checks but the email and
 * expiry ones (`inspectArchivedCredential`).
 *
 * `-legacy` loads OpenSSL's legacy provider so that RC2/3DES files (the legacy profile) open.
 */
import { constants, createHash, createPrivateKey, createPublicKey, privateDecrypt, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { x509 } from '../../activities/crypto/x509';
import type { Pkcs12Profile } from '../../domain/credentials';
import type { ProblemName } from '../../activities/ceg/wire-contract';
import { runOpenssl } from './openssl';

export interface Pkcs12Algorithms {
  /** MAC digest, e.g. sha1, sha256 ("none" when the file has no MAC). */
  mac: string;
  /** Encryption of the shrouded key bag, as OpenSSL prints it (with iterations and PRF). */
  keyBag?: string;
  /** Encryption of the certificate bag, as OpenSSL prints it ("none" when in the clear). */
  certBag: string;
}

export interface InspectedCredential {
  /** The profile the file's algorithms match, if any. */
  profile?: Pkcs12Profile;
  algorithms: Pkcs12Algorithms;
  /** Certificates in the file: the leaf and any chain. */
  certificateCount: number;
}

export type Inspection = { ok: true; credential: InspectedCredential } | { ok: false; problem: ProblemName; detail: string };

export interface InspectionInput {
  pkcs12: Buffer;
  password: string;
  thumbprint: string;
  /** The address a SAN rfc822Name must equal; unchecked when absent (an archived credential). */
  email?: string;
  profile?: Pkcs12Profile;
  /** Accept a certificate that has expired (an archived credential: its key still opens old mail). */
  allowExpired?: boolean;
}

/**
 * An archived credential (history in an encryption upload) is checked like the main one, except
 * that it may have expired, and may name an address the user had before (a domain rename): its
 * key is there to open old mail, not to receive new.
 */
export function inspectArchivedCredential(input: Omit<InspectionInput, 'email' | 'allowExpired'>): Promise<Inspection> {
  return inspectCredential({ ...input, allowExpired: true });
}

export async function inspectCredential(input: InspectionInput): Promise<Inspection> {
  const opened = await runOpenssl(['pkcs12', '-info', '-noenc', '-legacy', '-passin', 'fd:3'], { stdin: input.pkcs12, fd3: input.password });
  if (opened.code !== 0) {
    if (/mac verify error|bad decrypt|invalid password/i.test(opened.stderr)) {
      return fail('wrongPassword', 'OpenSSL could not verify the MAC or decrypt the bags with the password given');
    }
    return fail('notPkcs12', 'OpenSSL could not parse the data as PKCS#12');
  }

  const blocks = pemBlocks(opened.stdout.toString('utf8'));
  const keys = blocks.filter((b) => b.label.endsWith('PRIVATE KEY'));
  const certificates = blocks.filter((b) => b.label === 'CERTIFICATE');
  if (keys.length !== 1) return fail('noPrivateKey', `the PKCS#12 holds ${keys.length} private keys`);
  if (certificates.length === 0) return fail('thumbprintMismatch', 'the PKCS#12 holds no certificate');

  const leaf = certificates.find((c) => sha256Hex(c.der) === input.thumbprint);
  if (!leaf) return fail('thumbprintMismatch', `none of the ${certificates.length} certificates in the PKCS#12 has SHA-256 ${input.thumbprint}`);

  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(leaf.der);
  } catch {
    return fail('notPkcs12', 'OpenSSL could not read the certificate');
  }
  let keyPublicKey: Buffer;
  try {
    keyPublicKey = createPublicKey(createPrivateKey(keys[0]!.pem)).export({ type: 'spki', format: 'der' });
  } catch {
    return fail('noPrivateKey', 'OpenSSL could not read the private key');
  }

  const fingerprint = certificate.fingerprint256.replace(/:/g, '').toLowerCase();
  if (fingerprint !== input.thumbprint) return fail('thumbprintMismatch', 'OpenSSL computes a different SHA-256 for the certificate');

  if (!certificate.publicKey.export({ type: 'spki', format: 'der' }).equals(keyPublicKey)) {
    return fail('keyMismatch', 'the public key of the private key differs from the certificate\'s');
  }

  // Node names the extended key usage OIDs `keyUsage`; undefined when the extension is absent.
  const eku = certificate.keyUsage ?? [];
  if (!eku.includes(EMAIL_PROTECTION_OID)) {
    return fail('notEmailProtection', eku.length === 0 ? 'the certificate has no extended key usage extension' : `extended key usage is ${eku.join(', ')}`);
  }

  // From the DER, not Node's subjectAltName text, which JSON-quotes values holding ' " \ or a comma.
  if (input.email !== undefined) {
    const wanted = input.email.toLowerCase();
    const san = new x509.X509Certificate(leaf.der).getExtension(x509.SubjectAlternativeNameExtension);
    const emails = san?.names.items.filter((name) => name.type === 'email').map((name) => name.value) ?? [];
    if (!emails.some((e) => e.toLowerCase() === wanted)) {
      return fail('emailMismatch', emails.length === 0 ? 'the certificate has no SAN rfc822Name' : `the certificate's rfc822Name(s): ${emails.join(', ')}`);
    }
  }

  if (!input.allowExpired && Date.parse(certificate.validTo) <= Date.now()) return fail('certificateExpired', 'the certificate is no longer valid');

  const algorithms = parseAlgorithms(opened.stderr);
  const profile = profileOf(algorithms);
  if (input.profile && input.profile !== profile) {
    return fail('profileMismatch', `profile ${input.profile} was sent, the file has MAC ${algorithms.mac} and key bag ${algorithms.keyBag ?? 'unknown'}`);
  }
  return { ok: true, credential: { profile, algorithms, certificateCount: certificates.length } };
}

/**
 * Decrypt `passwordEncrypted` (RSAES-OAEP, SHA-256, MGF1-SHA-256) with the recipient key file.
 * Undefined when it does not decrypt to a usable password.
 */
export async function decryptPassword(passwordEncrypted: Buffer, recipientKeyPath: string): Promise<string | undefined> {
  let plain: Buffer;
  try {
    // Node's OAEP uses the same digest for MGF1 as for the label hash: SHA-256 both.
    plain = privateDecrypt({ key: await readFile(recipientKeyPath, 'utf8'), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, passwordEncrypted);
  } catch {
    return undefined;
  }
  if (plain.length === 0) return undefined;
  const password = plain.toString('utf8');
  if (!/^[^\r\n\0]+$/.test(password) || Buffer.from(password, 'utf8').length !== plain.length) return undefined;
  return password;
}

function fail(problem: ProblemName, detail: string): Inspection {
  return { ok: false, problem, detail };
}

interface PemBlock {
  label: string;
  pem: string;
  der: Buffer;
}

function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g)) {
    blocks.push({ label: m[1]!, pem: m[0], der: Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64') });
  }
  return blocks;
}

const EMAIL_PROTECTION_OID = '1.3.6.1.5.5.7.3.4';

function sha256Hex(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

/** Algorithms from `openssl pkcs12 -info` (printed on stderr), as OpenSSL words them. */
function parseAlgorithms(info: string): Pkcs12Algorithms {
  const mac = /^MAC: ([^,\s]+)/m.exec(info)?.[1] ?? 'none';
  const keyBag = /^Shrouded Keybag: (.+)$/m.exec(info)?.[1]?.trim();
  // No "PKCS7 Encrypted data" section: the certificates are stored in the clear.
  const certBag = /^PKCS7 Encrypted data: (.+)$/m.exec(info)?.[1]?.trim() ?? 'none';
  return { mac, ...(keyBag ? { keyBag } : {}), certBag };
}

/** legacy: SHA-1 MAC and a 3DES key bag; modern: SHA-256 MAC and a PBES2/PBKDF2-HMAC-SHA-256/AES-256 key bag. */
function profileOf(a: Pkcs12Algorithms): Pkcs12Profile | undefined {
  if (a.mac === 'sha1' && a.keyBag?.startsWith('pbeWithSHA1And3-KeyTripleDES-CBC')) return 'legacy';
  if (a.mac === 'sha256' && a.keyBag?.startsWith('PBES2, PBKDF2, AES-256-CBC') && a.keyBag.includes('PRF hmacWithSHA256')) return 'modern';
  return undefined;
}
