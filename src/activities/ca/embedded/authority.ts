/**
 * The embedded CA's own hierarchy: a self-signed root (10 years) and an issuing intermediate
 * (5 years, pathLen 0), made on first use in `<dir>/ca/` and reused afterwards. RSA-2048 with
 * SHA-256 signatures, the combination every S/MIME client back to the oldest supported phones
 * validates. Private keys are PKCS#8 PEM files with mode 0600.
 *
 * Creation builds the whole set in a temporary folder and renames it into place, so two
 * processes opening a fresh directory at once end up sharing one hierarchy, never a mix.
 */
import { randomBytes, type webcrypto } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../crypto/keys';
import { importSigningPair, x509 } from '../../crypto/x509';
import { toPem } from '../../crypto/certificate-info';
import { DAY_MS } from '../../../domain/schedule';

export interface Authority {
  root: x509.X509Certificate;
  intermediate: x509.X509Certificate;
  /** The intermediate's private key, non-extractable, for signing leaves. */
  intermediateKey: webcrypto.CryptoKey;
  rootPem: string;
  intermediatePem: string;
}

const FILES = {
  root: 'root.pem',
  rootKey: 'root-key.pem',
  intermediate: 'intermediate.pem',
  intermediateKey: 'intermediate-key.pem',
} as const;

const ROOT_DAYS = 3653;
const INTERMEDIATE_DAYS = 1827;
const ORGANISATION = 'smime-escrow-provider (development CA)';
const CA_KEY_USAGE = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;

export function authorityDir(dir: string): string {
  return join(dir, 'ca');
}

export async function openAuthority(dir: string): Promise<Authority> {
  const caDir = authorityDir(dir);
  try {
    return await loadAuthority(caDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await createAuthority(dir, caDir);
  return loadAuthority(caDir);
}

async function loadAuthority(caDir: string): Promise<Authority> {
  const [rootPem, intermediatePem, intermediateKeyPem] = await Promise.all([
    readFile(join(caDir, FILES.root), 'utf8'),
    readFile(join(caDir, FILES.intermediate), 'utf8'),
    readFile(join(caDir, FILES.intermediateKey), 'utf8'),
  ]);
  const keyDer = Buffer.from(intermediateKeyPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const { privateKey } = await importSigningPair(keyDer);
  return {
    root: new x509.X509Certificate(rootPem),
    intermediate: new x509.X509Certificate(intermediatePem),
    intermediateKey: privateKey,
    rootPem,
    intermediatePem,
  };
}

async function createAuthority(dir: string, caDir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const staging = await mkdtemp(join(dir, '.ca-'));
  try {
    const label = randomBytes(3).toString('hex'); // tells CAs in different data dirs apart in a trust store
    const now = Date.now();
    const notBefore = new Date(now - 60_000);

    const rootKey = await generateKeyPair({ algorithm: 'rsa', rsaBits: 2048, ecCurve: 'P-256' });
    const rootKeys = await importSigningPair(rootKey.privateKeyPkcs8);
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      name: [{ CN: [`smime-escrow-provider dev root ${label}`] }, { O: [ORGANISATION] }],
      keys: rootKeys,
      notBefore,
      notAfter: new Date(now + ROOT_DAYS * DAY_MS),
      signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(CA_KEY_USAGE, true),
        await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
      ],
    });

    const intermediateKey = await generateKeyPair({ algorithm: 'rsa', rsaBits: 2048, ecCurve: 'P-256' });
    const intermediateKeys = await importSigningPair(intermediateKey.privateKeyPkcs8);
    const intermediate = await x509.X509CertificateGenerator.create({
      subject: [{ CN: [`smime-escrow-provider dev S/MIME issuing CA ${label}`] }, { O: [ORGANISATION] }],
      issuer: root.subjectName,
      publicKey: intermediateKeys.publicKey,
      signingKey: rootKeys.privateKey,
      notBefore,
      notAfter: new Date(now + INTERMEDIATE_DAYS * DAY_MS),
      signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(CA_KEY_USAGE, true),
        // S/MIME issuing CAs carry emailProtection (CA/B Forum S/MIME BR 7.1.2.2), and it keeps
        // OpenSSL's purpose check for smimesign/smimeencrypt happy along the chain.
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.emailProtection]),
        await x509.SubjectKeyIdentifierExtension.create(intermediateKeys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(rootKeys.publicKey),
      ],
    });

    await writeFile(join(staging, FILES.rootKey), toPem(rootKey.privateKeyPkcs8, 'PRIVATE KEY'), { mode: 0o600 });
    await writeFile(join(staging, FILES.intermediateKey), toPem(intermediateKey.privateKeyPkcs8, 'PRIVATE KEY'), { mode: 0o600 });
    await Promise.all([chmod(join(staging, FILES.rootKey), 0o600), chmod(join(staging, FILES.intermediateKey), 0o600)]);
    await writeFile(join(staging, FILES.root), toPem(Buffer.from(root.rawData)));
    await writeFile(join(staging, FILES.intermediate), toPem(Buffer.from(intermediate.rawData)));
    try {
      await rename(staging, caDir);
    } catch (error) {
      // Another process won the race: its hierarchy is the one; ours is discarded unused.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw error;
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
