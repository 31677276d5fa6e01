/**
 * Public facts about certificates: what the workflow records, the API shows and the activities
 * compare. Nothing here touches a private key.
 */
import { createHash, X509Certificate as NodeX509Certificate } from 'node:crypto';
import type { CertificateInfo } from '../../domain/credentials';
import { x509 } from './x509';
import { spkiSha256 } from './keys';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END CERTIFICATE-----/g;

export async function certificateInfo(certificatePem: string, chainPem: string[]): Promise<CertificateInfo> {
  const certificate = parseCertificate(certificatePem, 'certificate');
  const chain = chainPem.map((pem, index) => parseCertificate(pem, `chain certificate ${index + 1}`));
  const der = Buffer.from(certificate.rawData);
  return {
    certificatePem: toPem(der),
    chainPem: chain.map((c) => toPem(Buffer.from(c.rawData))),
    serial: normalizeSerial(certificate.serialNumber),
    thumbprint: createHash('sha256').update(der).digest('hex'),
    notBefore: certificate.notBefore.toISOString(),
    notAfter: certificate.notAfter.toISOString(),
    subject: certificate.subject,
    issuer: certificate.issuer,
  };
}

/**
 * Hex SHA-256 of the certificate's SubjectPublicKeyInfo, re-encoded by OpenSSL so it compares
 * equal to `GeneratedKey.publicKeySha256` for the matching key, however the CA encoded it.
 */
export function certificatePublicKeySha256(certificatePem: string): string {
  let certificate: NodeX509Certificate;
  try {
    certificate = new NodeX509Certificate(certificatePem);
  } catch {
    throw new Error('not a PEM X.509 certificate');
  }
  return spkiSha256(certificate.publicKey.export({ type: 'spki', format: 'der' }));
}

/** The certificates in a PEM bundle, in order, each as a normalised PEM block. */
export function splitPemBundle(text: string): string[] {
  const blocks: string[] = [];
  for (const match of text.matchAll(PEM_CERTIFICATE)) {
    blocks.push(toPem(Buffer.from(match[1]!.replace(/\s+/g, ''), 'base64')));
  }
  return blocks;
}

/**
 * A serial number in one canonical form: lower-case hex of the (positive) integer, no leading
 * zeros, no DER sign byte, no separators. Accepts `0x`, colons, upper case and DER padding, so
 * serials from any CA or tool compare equal.
 */
export function normalizeSerial(serial: string): string {
  const hex = serial.trim().toLowerCase().replace(/^0x/, '').replace(/[:\s]/g, '');
  if (!/^[0-9a-f]+$/.test(hex)) throw new Error('a serial number must be hexadecimal');
  return BigInt(`0x${hex}`).toString(16);
}

export function toPem(der: Buffer, label = 'CERTIFICATE'): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function parseCertificate(pem: string, what: string): x509.X509Certificate {
  try {
    return new x509.X509Certificate(pem);
  } catch {
    throw new Error(`${what} is not a PEM X.509 certificate`);
  }
}
