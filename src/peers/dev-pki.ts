/**
 * The development PKI: what the provider and the CEG simulator need to talk mTLS on one machine
 * without an administrator issuing anything. Created once under `<dataDir>/dev-pki/`:
 *
 *   ca.crt / ca.key                 dev CA (ECDSA P-256, 10 years)
 *   server.crt / server.key         TLS server: localhost, 127.0.0.1, ::1 (EKU serverAuth)
 *   client.crt / client.key         "smime-escrow-provider dev client" (EKU clientAuth)
 *   recipient.crt / recipient.key   RSA 2048 "gateway recipient" (PKCS#12 passwords are encrypted to it)
 *
 * Never for production: a real deployment sets CEG_CLIENT_CERT / CEG_CLIENT_KEY / CEG_CA_FILE.
 *
 * Concurrency: the whole folder is generated under a temporary name and renamed into place, so a
 * reader either sees a complete PKI or none, and two processes starting at once agree on one
 * (the loser of the rename discards its own and reads the winner's).
 */
import 'reflect-metadata'; // @peculiar/x509 resolves its providers through tsyringe, which needs it first
import { createHash, webcrypto } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import type { Logger } from '../logging';
import { DAY_MS } from '../domain/schedule';

export interface DevPki {
  dir: string;
  caCertPem: string;
  caCertPath: string;
  /** The dev CA's private key (0600): lets tests and tools issue further dev certificates. */
  caKeyPath: string;
  serverCertPath: string;
  serverKeyPath: string;
  clientCertPath: string;
  clientKeyPath: string;
  clientCertPem: string;
  clientKeyPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  /** Hex SHA-256 of the client certificate's DER: what the simulator's allow list holds. */
  clientThumbprint: string;
  recipientCertPath: string;
  recipientKeyPath: string;
  recipientCertPem: string;
}

const DIR_NAME = 'dev-pki';
const FILES = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  serverCert: 'server.crt',
  serverKey: 'server.key',
  clientCert: 'client.crt',
  clientKey: 'client.key',
  recipientCert: 'recipient.crt',
  recipientKey: 'recipient.key',
} as const;

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
/** Node's WebCrypto, passed explicitly so this module never relies on a global provider. */
const crypto: webcrypto.Crypto = webcrypto;
const ECDSA: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const ECDSA_SHA256: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

/** One promise per folder, so concurrent callers in one process share the work. */
const inProcess = new Map<string, Promise<DevPki>>();

/** The dev PKI under `<dataDir>/dev-pki/`, created on first use. */
export function ensureDevPki(dataDir: string, logger?: Logger): Promise<DevPki> {
  const dir = join(dataDir, DIR_NAME);
  let pending = inProcess.get(dir);
  if (!pending) {
    pending = loadOrCreate(dataDir, dir, logger);
    inProcess.set(dir, pending);
    pending.catch(() => inProcess.delete(dir));
  }
  return pending;
}

/** Hex SHA-256 of a PEM certificate's DER: the thumbprint form used across the project. */
export function certificateThumbprint(certPem: string): string {
  const der = Buffer.from(new x509.X509Certificate(certPem).rawData);
  return createHash('sha256').update(der).digest('hex');
}

async function loadOrCreate(dataDir: string, dir: string, logger?: Logger): Promise<DevPki> {
  const existing = await readDevPki(dir);
  if (existing) return existing;

  await mkdir(dataDir, { recursive: true });
  const staging = await mkdtemp(join(dataDir, `${DIR_NAME}.tmp-`));
  try {
    await generateInto(staging);
    await rename(staging, dir);
    logger?.info(
      {
        dir,
        caCertPath: join(dir, FILES.caCert),
        serverCertPath: join(dir, FILES.serverCert),
        clientCertPath: join(dir, FILES.clientCert),
        recipientCertPath: join(dir, FILES.recipientCert),
      },
      'created the development PKI (dev CA, TLS server, mTLS client, gateway recipient); not for production',
    );
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    // Another process renamed its PKI into place first: use that one.
    if (!isAlreadyThere(err)) throw err;
  }
  const created = await readDevPki(dir);
  if (!created) throw new Error(`dev PKI in ${dir} disappeared while it was being created`);
  return created;
}

function isAlreadyThere(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EEXIST' || code === 'ENOTEMPTY';
}

async function readDevPki(dir: string): Promise<DevPki | undefined> {
  const path = (name: keyof typeof FILES) => join(dir, FILES[name]);
  let caCertPem: string;
  try {
    caCertPem = await readFile(path('caCert'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const read = async (name: keyof typeof FILES) => {
    try {
      return await readFile(path(name), 'utf8');
    } catch (err) {
      throw new Error(`dev PKI in ${dir} is incomplete (${FILES[name]}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}); delete the folder to have it created again`);
    }
  };
  const [clientCertPem, clientKeyPem, serverCertPem, serverKeyPem, recipientCertPem] = await Promise.all([
    read('clientCert'),
    read('clientKey'),
    read('serverCert'),
    read('serverKey'),
    read('recipientCert'),
  ]);
  await read('recipientKey');
  return {
    dir,
    caCertPem,
    caCertPath: path('caCert'),
    caKeyPath: path('caKey'),
    serverCertPath: path('serverCert'),
    serverKeyPath: path('serverKey'),
    clientCertPath: path('clientCert'),
    clientKeyPath: path('clientKey'),
    clientCertPem,
    clientKeyPem,
    serverCertPem,
    serverKeyPem,
    clientThumbprint: certificateThumbprint(clientCertPem),
    recipientCertPath: path('recipientCert'),
    recipientKeyPath: path('recipientKey'),
    recipientCertPem,
  };
}

async function generateInto(dir: string): Promise<void> {
  const now = Date.now();
  const notBefore = new Date(now - 5 * 60 * 1000); // tolerate small clock skew between processes
  const caKeys = (await crypto.subtle.generateKey(ECDSA, true, ['sign', 'verify'])) as CryptoKeyPair;
  const caName = 'CN=smime-escrow-provider dev CA, O=smime-escrow-provider development';
  const caCert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: caName,
      keys: caKeys,
      notBefore,
      notAfter: new Date(now + 3650 * DAY_MS),
      signingAlgorithm: ECDSA_SHA256,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
      ],
    },
    crypto,
  );

  const issue = async (params: {
    subject: string;
    keys: CryptoKeyPair;
    keyUsage: x509.KeyUsageFlags;
    extendedKeyUsage?: x509.ExtendedKeyUsage;
    subjectAltNames?: x509.JsonGeneralNames;
  }) =>
    x509.X509CertificateGenerator.create(
      {
        subject: params.subject,
        issuer: caCert.subject,
        publicKey: params.keys.publicKey,
        signingKey: caKeys.privateKey,
        notBefore,
        notAfter: new Date(now + 825 * DAY_MS),
        signingAlgorithm: ECDSA_SHA256,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(params.keyUsage, true),
          ...(params.extendedKeyUsage ? [new x509.ExtendedKeyUsageExtension([params.extendedKeyUsage], false)] : []),
          ...(params.subjectAltNames ? [new x509.SubjectAlternativeNameExtension(params.subjectAltNames, false)] : []),
          await x509.SubjectKeyIdentifierExtension.create(params.keys.publicKey, false, crypto),
          await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
        ],
      },
      crypto,
    );

  const serverKeys = (await crypto.subtle.generateKey(ECDSA, true, ['sign', 'verify'])) as CryptoKeyPair;
  const serverCert = await issue({
    subject: 'CN=localhost, O=smime-escrow-provider development',
    keys: serverKeys,
    keyUsage: x509.KeyUsageFlags.digitalSignature,
    extendedKeyUsage: x509.ExtendedKeyUsage.serverAuth,
    subjectAltNames: [
      { type: 'dns', value: 'localhost' },
      { type: 'ip', value: '127.0.0.1' },
      { type: 'ip', value: '::1' },
    ],
  });

  const clientKeys = (await crypto.subtle.generateKey(ECDSA, true, ['sign', 'verify'])) as CryptoKeyPair;
  const clientCert = await issue({
    subject: 'CN=smime-escrow-provider dev client, O=smime-escrow-provider development',
    keys: clientKeys,
    keyUsage: x509.KeyUsageFlags.digitalSignature,
    extendedKeyUsage: x509.ExtendedKeyUsage.clientAuth,
  });

  // RSA, because the password is encrypted to it with RSA-OAEP-SHA-256.
  const recipientKeys = (await crypto.subtle.generateKey(
    { name: 'RSA-OAEP', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    true,
    ['encrypt', 'decrypt'],
  )) as CryptoKeyPair;
  const recipientCert = await issue({
    subject: 'CN=smime-escrow-provider dev gateway recipient, O=smime-escrow-provider development',
    keys: recipientKeys,
    keyUsage: x509.KeyUsageFlags.keyEncipherment,
  });

  const keyPem = async (key: CryptoKey) => x509.PemConverter.encode(await crypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
  const writeCert = (name: string, cert: x509.X509Certificate) => writeFile(join(dir, name), cert.toString('pem') + '\n', { mode: 0o644 });
  const writeKey = async (name: string, key: CryptoKey) => writeFile(join(dir, name), (await keyPem(key)) + '\n', { mode: 0o600 });

  await Promise.all([
    writeCert(FILES.caCert, caCert),
    writeKey(FILES.caKey, caKeys.privateKey),
    writeCert(FILES.serverCert, serverCert),
    writeKey(FILES.serverKey, serverKeys.privateKey),
    writeCert(FILES.clientCert, clientCert),
    writeKey(FILES.clientKey, clientKeys.privateKey),
    writeCert(FILES.recipientCert, recipientCert),
    writeKey(FILES.recipientKey, recipientKeys.privateKey),
  ]);
}
