/**
 * What the CEG simulator checks in every upload, with the OpenSSL CLI:
 *
 *   1. the PKCS#12 opens with the password (MAC and encrypted bags), `openssl pkcs12`;
 *   2. it holds exactly one private key, and a certificate whose SHA-256 is the thumbprint sent;
 *   3. that certificate (`openssl x509`) carries EKU emailProtection, a SAN rfc822Name equal to the
 *      email sent, has not expired, and its public key is the private key's (`openssl pkey`);
 *   4. its algorithms are those of the profile sent (legacy: SHA-1 MAC, 3DES key bag;
 *      modern: SHA-256 MAC, PBES2/AES-256 key bag), when a profile is sent.
 *
 * `-legacy` loads OpenSSL's legacy provider so that RC2/3DES files (the legacy profile) open.
 */
import { createHash } from 'node:crypto';
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

export async function inspectCredential(input: {
  pkcs12: Buffer;
  password: string;
  thumbprint: string;
  email: string;
  profile?: Pkcs12Profile;
}): Promise<Inspection> {
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

  const [certificate, key] = await Promise.all([
    runOpenssl(['x509', '-noout', '-fingerprint', '-sha256', '-ext', 'subjectAltName,extendedKeyUsage', '-pubkey', '-checkend', '0'], { stdin: leaf.pem }),
    runOpenssl(['pkey', '-pubout'], { stdin: keys[0]!.pem }),
  ]);
  const certText = certificate.stdout.toString('utf8');
  if (!/Certificate will (not )?expire/.test(certText)) return fail('notPkcs12', 'OpenSSL could not read the certificate');
  if (key.code !== 0) return fail('noPrivateKey', 'OpenSSL could not read the private key');

  const fingerprint = /sha256 Fingerprint=([0-9A-F:]+)/i.exec(certText)?.[1]?.replace(/:/g, '').toLowerCase();
  if (fingerprint !== input.thumbprint) return fail('thumbprintMismatch', 'OpenSSL computes a different SHA-256 for the certificate');

  const certPublicKey = pemBlocks(certText).find((b) => b.label === 'PUBLIC KEY');
  const keyPublicKey = pemBlocks(key.stdout.toString('utf8')).find((b) => b.label === 'PUBLIC KEY');
  if (!certPublicKey || !keyPublicKey || !certPublicKey.der.equals(keyPublicKey.der)) {
    return fail('keyMismatch', 'the public key of the private key differs from the certificate\'s');
  }

  const eku = extensionValues(certText, 'X509v3 Extended Key Usage');
  if (!eku.includes('E-mail Protection')) {
    return fail('notEmailProtection', eku.length === 0 ? 'the certificate has no extended key usage extension' : `extended key usage is ${eku.join(', ')}`);
  }

  const emails = extensionValues(certText, 'X509v3 Subject Alternative Name')
    .filter((name) => name.startsWith('email:'))
    .map((name) => name.slice('email:'.length));
  if (!emails.some((e) => e.toLowerCase() === input.email.toLowerCase())) {
    return fail('emailMismatch', emails.length === 0 ? 'the certificate has no SAN rfc822Name' : `the certificate's rfc822Name(s): ${emails.join(', ')}`);
  }

  if (certificate.code !== 0 || /Certificate will expire/.test(certText)) return fail('certificateExpired', 'the certificate is no longer valid');

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
  const run = await runOpenssl(
    ['pkeyutl', '-decrypt', '-inkey', recipientKeyPath, '-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', 'rsa_oaep_md:sha256', '-pkeyopt', 'rsa_mgf1_md:sha256'],
    { stdin: passwordEncrypted },
  );
  if (run.code !== 0 || run.stdout.length === 0) return undefined;
  const password = run.stdout.toString('utf8');
  if (!/^[^\r\n\0]+$/.test(password) || Buffer.from(password, 'utf8').length !== run.stdout.length) return undefined;
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

function sha256Hex(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

/** The values of one extension as `openssl x509 -ext` prints them: a header line, then one indented line. */
function extensionValues(text: string, header: string): string[] {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.startsWith(header));
  if (at < 0) return [];
  const value = lines[at + 1]?.trim() ?? '';
  return value.split(/,\s*/).filter((v) => v.length > 0);
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
