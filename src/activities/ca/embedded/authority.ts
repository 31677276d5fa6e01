/**
 * The embedded CA's own hierarchy: a self-signed root (10 years) and an issuing intermediate
 * (5 years, pathLen 0), made on first use and reused afterwards. RSA-2048 with SHA-256
 * signatures, the combination every S/MIME client back to the oldest supported phones validates.
 * Private keys are PKCS#8 PEM files with mode 0600.
 *
 * Both follow the CA/B Forum S/MIME Baseline Requirements: the root the Root CA profile (7.1.2.1:
 * basicConstraints and keyUsage critical, no policies, no EKU), the intermediate the Subordinate
 * CA profile (7.1.2.2: certificatePolicies anyPolicy, an HTTP CRL distribution point and AIA caIssuers pointing at the root's repository files, EKU
 * emailProtection, keyUsage keyCertSign + cRLSign); both subjects carry country and organisation.
 *
 * Versioned folder: the hierarchy lives in `<dir>/ca-v2/`. Folders made before the BR profile
 * (`<dir>/ca/`: no policies, no CRL, no C in the subject) are left as they are — certificates they
 * issued still validate against their own root — and a new hierarchy is made next to them, with
 * a log line saying so. A new folder name rather than an in-place upgrade keeps every process
 * that opens the same folder at once (worker, repository server) on one and the same hierarchy.
 *
 * Creation builds the whole set in a temporary folder and renames it into place, so two
 * processes opening a fresh directory at once end up sharing one hierarchy, never a mix.
 */
import { randomBytes, type webcrypto } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PublicationUrls } from '../../../domain/certificate-profile';
import type { Logger } from '../../../logging';
import { generateKeyPair } from '../../crypto/keys';
import { importSigningPair, x509 } from '../../crypto/x509';
import { toPem } from '../../crypto/certificate-info';
import { DAY_MS } from '../../../domain/schedule';

export interface Authority {
  root: x509.X509Certificate;
  intermediate: x509.X509Certificate;
  /** The root's private key, non-extractable, for signing its CRL (the intermediate is never revoked, but the CRL must exist). */
  rootKey: webcrypto.CryptoKey;
  /** The intermediate's private key, non-extractable, for signing leaves and their CRL. */
  intermediateKey: webcrypto.CryptoKey;
  rootPem: string;
  intermediatePem: string;
  /** The folder holding this hierarchy (and its CRLs). */
  dir: string;
}

/** Bump when the hierarchy's profile changes; older folders are then left behind, not reused. */
export const HIERARCHY_VERSION = 2;
const HIERARCHY_DIR = `ca-v${HIERARCHY_VERSION}`;
/** Where hierarchies made before the S/MIME BR profile lived. */
const PRE_BR_DIR = 'ca';

const FILES = {
  root: 'root.pem',
  rootKey: 'root-key.pem',
  intermediate: 'intermediate.pem',
  intermediateKey: 'intermediate-key.pem',
} as const;

const ROOT_DAYS = 3653;
const INTERMEDIATE_DAYS = 1827;
const SIGNATURE = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;
/** "XX": the ISO 3166 user-assigned code the BRs allow where no country applies — a development CA belongs to none. */
const COUNTRY = 'XX';
const ORGANISATION = 'smime-escrow-provider development CA';
const ANY_POLICY = '2.5.29.32.0';
const CA_KEY_USAGE = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;

export function authorityDir(dir: string): string {
  return join(dir, HIERARCHY_DIR);
}

/** The root certificate (PEM) of the embedded CA in `dir`: what a relying party trusts. */
export function rootCertificateFile(dir: string): string {
  return join(authorityDir(dir), FILES.root);
}

export async function openAuthority(dir: string, intermediateUrls: PublicationUrls, logger?: Logger): Promise<Authority> {
  const caDir = authorityDir(dir);
  try {
    return await loadAuthority(caDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (existsSync(join(dir, PRE_BR_DIR, FILES.root))) {
    logger?.warn(
      { oldHierarchy: join(dir, PRE_BR_DIR), newHierarchy: caDir },
      'embedded CA: the hierarchy in this folder predates the S/MIME Baseline Requirements profile (no policies, CRL or AIA); making a new root and intermediate next to it — certificates issued before validate only against the old root, which is kept',
    );
  }
  await createAuthority(dir, caDir, intermediateUrls);
  return loadAuthority(caDir);
}

async function loadAuthority(caDir: string): Promise<Authority> {
  const [rootPem, intermediatePem, rootKeyPem, intermediateKeyPem] = await Promise.all([
    readFile(join(caDir, FILES.root), 'utf8'),
    readFile(join(caDir, FILES.intermediate), 'utf8'),
    readFile(join(caDir, FILES.rootKey), 'utf8'),
    readFile(join(caDir, FILES.intermediateKey), 'utf8'),
  ]);
  const [root, intermediate] = await Promise.all([importSigningPair(pemBody(rootKeyPem)), importSigningPair(pemBody(intermediateKeyPem))]);
  return {
    root: new x509.X509Certificate(rootPem),
    intermediate: new x509.X509Certificate(intermediatePem),
    rootKey: root.privateKey,
    intermediateKey: intermediate.privateKey,
    rootPem,
    intermediatePem,
    dir: caDir,
  };
}

function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
}

/** cRLDistributionPoints and authorityInformationAccess for the given URLs (both non-critical, BR 7.1.2.2/7.1.2.3). */
export function publicationExtensions(urls: PublicationUrls): x509.Extension[] {
  const extensions: x509.Extension[] = [new x509.CRLDistributionPointsExtension([urls.crl], false)];
  if (urls.caIssuers || urls.ocsp) {
    extensions.push(
      new x509.AuthorityInfoAccessExtension({ ...(urls.ocsp ? { ocsp: [urls.ocsp] } : {}), ...(urls.caIssuers ? { caIssuers: [urls.caIssuers] } : {}) }, false),
    );
  }
  return extensions;
}

async function createAuthority(dir: string, caDir: string, intermediateUrls: PublicationUrls): Promise<void> {
  await mkdir(dir, { recursive: true });
  const staging = await mkdtemp(join(dir, '.ca-'));
  try {
    const label = randomBytes(3).toString('hex'); // tells CAs in different data dirs apart in a trust store
    const now = Date.now();
    const notBefore = new Date(now - 60_000);

    const rootKey = await generateKeyPair({ algorithm: 'rsa', rsaBits: 2048, ecCurve: 'P-256' });
    const rootKeys = await importSigningPair(rootKey.privateKeyPkcs8);
    const rootName: x509.JsonName = [{ C: [COUNTRY] }, { O: [ORGANISATION] }, { CN: [`smime-escrow-provider dev root ${label}`] }];
    const root = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: rootName,
      issuer: rootName,
      publicKey: rootKeys.publicKey,
      signingKey: rootKeys.privateKey,
      notBefore,
      notAfter: new Date(now + ROOT_DAYS * DAY_MS),
      signingAlgorithm: SIGNATURE,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(CA_KEY_USAGE, true),
        await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
      ],
    });

    const intermediateKey = await generateKeyPair({ algorithm: 'rsa', rsaBits: 2048, ecCurve: 'P-256' });
    const intermediateKeys = await importSigningPair(intermediateKey.privateKeyPkcs8);
    const intermediate = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: [{ C: [COUNTRY] }, { O: [ORGANISATION] }, { CN: [`smime-escrow-provider dev S/MIME issuing CA ${label}`] }],
      issuer: root.subjectName,
      publicKey: intermediateKeys.publicKey,
      signingKey: rootKeys.privateKey,
      notBefore,
      notAfter: new Date(now + INTERMEDIATE_DAYS * DAY_MS),
      signingAlgorithm: SIGNATURE,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(CA_KEY_USAGE, true),
        // S/MIME issuing CAs carry emailProtection (BR 7.1.2.2(g)); it also keeps OpenSSL's
        // smimesign/smimeencrypt purpose checks happy along the chain.
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.emailProtection]),
        // anyPolicy: BR 7.1.6.3 allows it for a subordinate CA of the same organisation, and it
        // covers whatever CERT_PROFILE and CERT_POLICY_OIDS the leaves carry, now and later.
        // (The reserved mailbox OIDs here would make zlint judge the CA as a Mailbox-validated
        // subscriber: e_mailbox_validated_allowed_subjectdn_attributes on its C and O.)
        new x509.CertificatePolicyExtension([ANY_POLICY], false),
        ...publicationExtensions(intermediateUrls),
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

/**
 * 16 random bytes with the top bits set to 01: positive without a DER sign byte and without a
 * leading zero byte, so every tool prints the same 32 hex digits. 126 random bits, well above the
 * 64 the Baseline Requirements ask for.
 */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x3f) | 0x40;
  return bytes.toString('hex');
}
