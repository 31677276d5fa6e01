/**
 * A misconfigured CA, for the checks that must catch one: it passes each request to the embedded
 * CA and hands back a copy of the certificate with exactly one thing wrong, signed by the same
 * intermediate — so the chain, the profile and everything else still hold, and only the check
 * for that one flaw can refuse it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CaAnswer, CertificateAuthority } from '../../src/activities/ca/certificate-authority';
import type { EmbeddedCa } from '../../src/activities/ca/embedded-ca';
import { authorityDir, randomSerial } from '../../src/activities/ca/embedded/authority';
import { toPem } from '../../src/activities/crypto/certificate-info';
import { generateKeyPair } from '../../src/activities/crypto/keys';
import { importSigningPair, x509 } from '../../src/activities/crypto/x509';

export type Flaw = 'another address' | 'no emailProtection' | 'another key';

export function misissuingCa(ca: EmbeddedCa, caDir: string, flaw: Flaw): CertificateAuthority & { misissued: string[] } {
  const misissued: string[] = [];
  async function spoil(answer: CaAnswer): Promise<CaAnswer> {
    if (answer.status !== 'issued') return answer;
    const original = new x509.X509Certificate(answer.certificatePem);
    const keyPem = readFileSync(join(authorityDir(caDir), 'intermediate-key.pem'), 'utf8');
    const { privateKey } = await importSigningPair(Buffer.from(keyPem.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
    let publicKey = original.publicKey;
    let extensions = [...original.extensions];
    const replace = (type: string, extension: x509.Extension) => {
      extensions = [...extensions.filter((e) => e.type !== type), extension];
    };
    switch (flaw) {
      case 'another address':
        replace('2.5.29.17', new x509.SubjectAlternativeNameExtension([{ type: 'email', value: 'mallory@example.com' }]));
        break;
      case 'no emailProtection':
        replace('2.5.29.37', new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]));
        break;
      case 'another key': {
        const other = await generateKeyPair({ algorithm: 'rsa', rsaBits: 2048, ecCurve: 'P-256' });
        publicKey = new x509.PublicKey(other.publicKeySpki);
        break;
      }
    }
    const spoiled = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: original.subjectName,
      issuer: original.issuerName,
      notBefore: original.notBefore,
      notAfter: original.notAfter,
      publicKey,
      signingKey: privateKey,
      signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      extensions,
    });
    const pem = toPem(Buffer.from(spoiled.rawData));
    misissued.push(pem);
    return { ...answer, certificatePem: pem };
  }
  return {
    type: `misissuing (${flaw})`,
    misissued,
    submit: async (request) => spoil(await ca.submit(request)),
    poll: async (requestId) => spoil(await ca.poll(requestId)),
  };
}
