/**
 * S/MIME credentials for the CEG tests, made without the project's own crypto module: the OpenSSL
 * CLI makes the key, the certificate and the PKCS#12; node-forge makes the deliberately broken
 * files OpenSSL refuses to write (a key that does not match its certificate, an expired one).
 */
import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import forge from 'node-forge';
import type { CredentialUpload } from '../../../src/activities/ceg/credential-gateway';

const run = promisify(execFile);

export interface TestCredential {
  pkcs12: Buffer;
  password: string;
  thumbprint: string;
  email: string;
  certPem: string;
}

export function randomPassword(): string {
  return randomBytes(18).toString('base64url');
}

/**
 * A self-signed S/MIME certificate and its PKCS#12, via the OpenSSL CLI.
 * `sanEmail` (default `email`) goes into the SAN; `eku` defaults to emailProtection.
 */
export async function opensslCredential(workDir: string, options: { email: string; sanEmail?: string; eku?: string; profile?: 'legacy' | 'modern'; password?: string }): Promise<TestCredential> {
  const id = randomUUID();
  const key = join(workDir, `${id}.key`);
  const cert = join(workDir, `${id}.crt`);
  const p12 = join(workDir, `${id}.p12`);
  const passFile = join(workDir, `${id}.pass`);
  const password = options.password ?? randomPassword();
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-noenc',
    '-keyout', key, '-out', cert, '-days', '30',
    '-subj', `/CN=${options.email}`,
    '-addext', `extendedKeyUsage=${options.eku ?? 'emailProtection'}`,
    '-addext', `subjectAltName=email:${options.sanEmail ?? options.email}`,
    '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment',
  ]);
  await writeFile(passFile, `${password}\n`, { mode: 0o600 });
  const profileArgs = options.profile === 'legacy' ? ['-legacy'] : [];
  try {
    await run('openssl', ['pkcs12', '-export', ...profileArgs, '-in', cert, '-inkey', key, '-passout', `file:${passFile}`, '-out', p12]);
  } finally {
    await rm(passFile, { force: true });
  }
  const certPem = await readFile(cert, 'utf8');
  const pkcs12 = await readFile(p12);
  await Promise.all([rm(key), rm(cert), rm(p12)]);
  return { pkcs12, password, thumbprint: thumbprintOfPem(certPem), email: options.email, certPem };
}

/**
 * A PKCS#12 built by node-forge (3DES, SHA-1 MAC): with `mismatchedKey`, the key inside is not
 * the certificate's; with `expired`, the certificate's validity ended yesterday. `password`
 * (both builders): the one to seal with, e.g. an upload's, for archived credentials.
 */
export function forgeCredential(options: { email: string; mismatchedKey?: boolean; expired?: boolean; password?: string }): TestCredential {
  const pair = () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const key = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()) as forge.pki.rsa.PrivateKey;
    return { privateKey: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e) };
  };
  const certKeys = pair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = certKeys.publicKey;
  cert.serialNumber = '01' + randomBytes(8).toString('hex');
  const now = Date.now();
  cert.validity.notBefore = new Date(now - (options.expired ? 30 : 1) * 86_400_000);
  cert.validity.notAfter = new Date(now + (options.expired ? -1 : 30) * 86_400_000);
  const name = [{ name: 'commonName', value: options.email }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'extKeyUsage', emailProtection: true },
    { name: 'subjectAltName', altNames: [{ type: 1, value: options.email }] },
  ]);
  cert.sign(certKeys.privateKey, forge.md.sha256.create());
  const keyInside = options.mismatchedKey ? pair().privateKey : certKeys.privateKey;
  const password = options.password ?? randomPassword();
  const asn1 = forge.pkcs12.toPkcs12Asn1(keyInside, [cert], password, { algorithm: '3des' });
  const pkcs12 = Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
  const certPem = forge.pki.certificateToPem(cert);
  return { pkcs12, password, thumbprint: thumbprintOfPem(certPem), email: options.email, certPem };
}

export function thumbprintOfPem(certPem: string): string {
  const body = certPem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  return createHash('sha256').update(Buffer.from(body, 'base64')).digest('hex');
}

/** Encrypt a password to a recipient certificate with the OpenSSL CLI (RSA-OAEP, SHA-256, MGF1-SHA-256). */
export async function encryptPasswordForRecipient(password: string, recipientCertPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'openssl',
      ['pkeyutl', '-encrypt', '-certin', '-inkey', recipientCertPath, '-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', 'rsa_oaep_md:sha256', '-pkeyopt', 'rsa_mgf1_md:sha256'],
      { encoding: 'buffer' },
      (err, stdout) => (err ? reject(err) : resolve(Buffer.from(stdout).toString('base64'))),
    );
    child.stdin!.end(password);
  });
}

/** A CredentialUpload for a fresh (user, device). */
export function uploadOf(credential: TestCredential, overrides: Partial<CredentialUpload> = {}): CredentialUpload {
  return {
    enrollmentUserUuid: randomUUID(),
    deviceUuid: randomUUID(),
    enrollmentUserId: '4711',
    kind: 'signing',
    pkcs12: credential.pkcs12,
    password: credential.password,
    thumbprint: credential.thumbprint,
    email: credential.email,
    ...overrides,
  };
}

/** A TLS client certificate (EKU clientAuth) issued by the given CA with the OpenSSL CLI. */
export async function opensslClientCertificate(workDir: string, ca: { certPath: string; keyPath: string }): Promise<{ certPem: string; keyPem: string }> {
  const id = randomUUID();
  const key = join(workDir, `${id}.key`);
  const csr = join(workDir, `${id}.csr`);
  const cert = join(workDir, `${id}.crt`);
  const ext = join(workDir, `${id}.ext`);
  await run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-noenc', '-keyout', key, '-out', csr, '-subj', '/CN=another client']);
  await writeFile(ext, 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca.certPath, '-CAkey', ca.keyPath, '-set_serial', `0x${randomBytes(12).toString('hex')}`, '-days', '2', '-extfile', ext, '-out', cert]);
  const [certPem, keyPem] = await Promise.all([readFile(cert, 'utf8'), readFile(key, 'utf8')]);
  await Promise.all([rm(key), rm(csr), rm(cert), rm(ext)]);
  return { certPem, keyPem };
}
