/**
 * PKCS#12 (RFC 7292) bundles for the gateway, in two profiles:
 *
 * legacy — what older iOS and Android import (and what Windows calls "TripleDES-SHA1"):
 *   key:   pkcs8ShroudedKeyBag, pbeWithSHAAnd3-KeyTripleDES-CBC (PKCS#12 KDF, SHA-1)
 *   certs: EncryptedData, pbeWithSHAAnd3-KeyTripleDES-CBC. Certificates are public, but
 *          encrypting them keeps the mailbox address out of an intercepted blob, and it is the
 *          same shape as OpenSSL 1.x `-descert` and Windows TripleDES-SHA1 exports, which
 *          these devices import. (Not RC2-40, OpenSSL 1.x's default for certificates: it
 *          is broken, and OpenSSL 3 only reads it with the legacy provider.)
 *   MAC:   HMAC-SHA-1, key from the PKCS#12 KDF
 * modern — exactly what OpenSSL 3 writes by default, for importers that read PBES2 (current
 *          Windows among them; older iOS and Android do not, which is why legacy exists):
 *   key and certs: PBES2, PBKDF2 with HMAC-SHA-256, AES-256-CBC
 *   MAC:   HMAC-SHA-256, key from the PKCS#12 KDF (RFC 7292 B.2 with SHA-256)
 *
 * Iterations: 2048 everywhere, OpenSSL 3's defaults for both PBKDF2 and the MAC. Stretching
 * protects guessable, human-chosen passwords; ours are random with ~138 bits of entropy
 * (see password.ts), so no iteration count changes what an attacker can do, while 2048 is what
 * importers have been reading from OpenSSL for years and bulk issuance stays cheap. (The
 * PKCS#12 KDF runs on the event loop, one native hash per iteration: about 8 ms of a legacy
 * bundle's 15 at 2048 iterations; 100k would block the loop for most of a second.)
 *
 * Libraries: pkijs (with asn1js) builds and parses every structure and does PBES2 (over Node's
 * WebCrypto); the MAC (SHA-1 or SHA-256 through the PKCS#12 KDF) is pkcs12-kdf.ts when building
 * and pkijs when reading. pkijs cannot do the PKCS#12 PBE
 * schemes (it only speaks PBES2), and node-forge, which can, handles RSA keys and certificates
 * only (its `toPkcs12Asn1` re-encodes the key with `wrapRsaPrivateKey` and parses certificates
 * with an RSA-only parser), so it cannot pack EC credentials. So the legacy cipher is assembled
 * from the RFC 7292 B.2 key derivation (pkcs12-kdf.ts, on Node's native hashes; pkijs's and
 * node-forge's run SHA in JavaScript, ~20 ms of event loop per bundle) and OpenSSL's
 * DES-EDE3-CBC through Node. The MAC key comes from the same derivation.
 *
 * Both bags carry localKeyId (SHA-1 of the leaf certificate, as OpenSSL does: an identifier,
 * not a security function) and friendlyName, so importers pair key and certificate and show a
 * name.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, type webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type { Pkcs12Profile } from '../../domain/credentials';
import { splitPemBundle, toPem } from './certificate-info';
import { PKCS12_KDF_PURPOSE, pkcs12Kdf, pkcs12Mac } from './pkcs12-kdf';
import { nodeCrypto } from './x509';

export interface Pkcs12Input {
  privateKeyPkcs8: Buffer;
  certificatePem: string;
  /** Intermediates, leaf-side first (the root is left out, as the CA answers). */
  chainPem: string[];
  password: string;
  profile: Pkcs12Profile;
  friendlyName: string;
}

interface ProfileParameters {
  /** Key-bag and certificate encryption. */
  encryption: 'pkcs12-pbe-sha1-3des' | 'pbes2-pbkdf2-sha256-aes256cbc';
  macHash: 'SHA-1' | 'SHA-256';
  iterations: number;
  macIterations: number;
  macSaltBytes: number;
}

export const PKCS12_PROFILES: Readonly<Record<Pkcs12Profile, Readonly<ProfileParameters>>> = {
  // 8-byte salts (MAC and PBE): what OpenSSL 1.x and Windows wrote, the shape old importers saw.
  legacy: { encryption: 'pkcs12-pbe-sha1-3des', macHash: 'SHA-1', iterations: 2048, macIterations: 2048, macSaltBytes: 8 },
  modern: { encryption: 'pbes2-pbkdf2-sha256-aes256cbc', macHash: 'SHA-256', iterations: 2048, macIterations: 2048, macSaltBytes: 16 },
};

const OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  pbeWithSha1And3KeyTripleDesCbc: '1.2.840.113549.1.12.1.3',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  hmacWithSha256: '1.2.840.113549.2.9',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
} as const;

const engine = new pkijs.CryptoEngine({ name: 'node-webcrypto', crypto: nodeCrypto as unknown as pkijs.CryptoEngineParameters['crypto'] });

export async function buildPkcs12(input: Pkcs12Input): Promise<Buffer> {
  const profile = PKCS12_PROFILES[input.profile];
  if (!profile) throw new Error(`unknown PKCS#12 profile "${String(input.profile)}" (legacy or modern)`);
  if (input.password.length === 0) throw new Error('a PKCS#12 password must not be empty');
  const leafDer = certificateDer(input.certificatePem, 'certificate');
  const chainDer = input.chainPem.map((pem, i) => certificateDer(pem, `chain certificate ${i + 1}`));
  const attributes = bagAttributes(leafDer, input.friendlyName);

  const certificates = new pkijs.SafeContents({
    safeBags: [leafDer, ...chainDer].map(
      (der, i) =>
        new pkijs.SafeBag({
          bagId: OID.certBag,
          bagValue: new pkijs.CertBag({ certId: OID.x509Certificate, certValue: new asn1js.OctetString({ valueHex: der }) }),
          ...(i === 0 ? { bagAttributes: attributes } : {}),
        }),
    ),
  });
  const sealedKey = await encrypt(profile, input.privateKeyPkcs8, input.password);
  const keys = new pkijs.SafeContents({
    safeBags: [
      new pkijs.SafeBag({
        bagId: OID.pkcs8ShroudedKeyBag,
        bagValue: new pkijs.PKCS8ShroudedKeyBag({ encryptionAlgorithm: sealedKey.algorithm, encryptedData: new asn1js.OctetString({ valueHex: sealedKey.ciphertext }) }),
        bagAttributes: attributes,
      }),
    ],
  });

  // Certificates first, then the key: the order OpenSSL and Windows write.
  const sealedCertificates = await encrypt(profile, derOf(certificates), input.password);
  const authenticatedSafe = new pkijs.AuthenticatedSafe({
    safeContents: [
      new pkijs.ContentInfo({
        contentType: OID.encryptedData,
        content: new pkijs.EncryptedData({
          version: 0,
          encryptedContentInfo: new pkijs.EncryptedContentInfo({
            contentType: OID.data,
            contentEncryptionAlgorithm: sealedCertificates.algorithm,
            encryptedContent: new asn1js.OctetString({ valueHex: sealedCertificates.ciphertext }),
            disableSplit: true, // DER, not BER chunks: some importers are strict
          }),
        }).toSchema(),
      }),
      new pkijs.ContentInfo({ contentType: OID.data, content: new asn1js.OctetString({ valueHex: derOf(keys) }) }),
    ],
  });

  const authenticatedSafeDer = derOf(authenticatedSafe);
  const macSalt = randomBytes(profile.macSaltBytes);
  const mac = pkcs12Mac(profile.macHash, input.password, macSalt, profile.macIterations, Buffer.from(authenticatedSafeDer));
  const pfx = new pkijs.PFX({
    version: 3,
    authSafe: new pkijs.ContentInfo({ contentType: OID.data, content: new asn1js.OctetString({ valueHex: authenticatedSafeDer }) }),
    macData: new pkijs.MacData({
      mac: new pkijs.DigestInfo({
        digestAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: profile.macHash === 'SHA-1' ? OID.sha1 : OID.sha256, algorithmParams: new asn1js.Null() }),
        digest: new asn1js.OctetString({ valueHex: arrayBuffer(mac) }),
      }),
      macSalt: new asn1js.OctetString({ valueHex: arrayBuffer(macSalt) }),
      iterations: profile.macIterations,
    }),
  });
  return Buffer.from(derOf(pfx));
}

/**
 * Open a PKCS#12 made by either profile (or by OpenSSL with PBES2 or 3DES): check the MAC, then
 * decrypt. A wrong password fails the MAC check; the error never contains the password.
 */
export async function readPkcs12(der: Buffer, password: string): Promise<{ privateKeyPkcs8: Buffer; certificatesPem: string[] }> {
  let pfx: pkijs.PFX;
  try {
    pfx = pkijs.PFX.fromBER(arrayBuffer(der));
  } catch {
    throw new Error('not a PKCS#12 (PFX) structure');
  }
  if (pfx.authSafe.contentType !== OID.data || !(pfx.authSafe.content instanceof asn1js.OctetString)) {
    throw new Error('only password-integrity PKCS#12 is supported');
  }
  if (!pfx.macData) throw new Error('the PKCS#12 has no MAC, so its integrity and the password cannot be checked');
  const authenticatedSafeDer = arrayBuffer(Buffer.from(pfx.authSafe.content.getValue()));
  const macHash = hashNameOf(pfx.macData.mac.digestAlgorithm.algorithmId);
  const passwordBytes = arrayBuffer(Buffer.from(password, 'utf8'));
  const intact = await engine.verifyDataStampedWithPassword({
    password: passwordBytes,
    hashAlgorithm: macHash,
    salt: arrayBuffer(Buffer.from(pfx.macData.macSalt.getValue())),
    iterationCount: pfx.macData.iterations ?? 1,
    contentToVerify: authenticatedSafeDer,
    signatureToVerify: arrayBuffer(Buffer.from(pfx.macData.mac.digest.getValue())),
  });
  if (!intact) throw new Error('PKCS#12 integrity check failed: wrong password or damaged file');

  const privateKeys: Buffer[] = [];
  const certificatesPem: string[] = [];
  for (const content of pkijs.AuthenticatedSafe.fromBER(authenticatedSafeDer).safeContents) {
    const safeContentsDer = await openContentInfo(content, password);
    for (const bag of pkijs.SafeContents.fromBER(safeContentsDer).safeBags) {
      if (bag.bagId === OID.pkcs8ShroudedKeyBag) {
        const shrouded = bag.bagValue as pkijs.PKCS8ShroudedKeyBag;
        privateKeys.push(await decrypt(shrouded.encryptionAlgorithm, Buffer.from(shrouded.encryptedData.getValue()), password, 'key bag'));
      } else if (bag.bagId === OID.keyBag) {
        privateKeys.push(Buffer.from(derOf(bag.bagValue as pkijs.PrivateKeyInfo)));
      } else if (bag.bagId === OID.certBag) {
        const certBag = bag.bagValue as pkijs.CertBag;
        if (certBag.certId === OID.x509Certificate) certificatesPem.push(toPem(Buffer.from((certBag.certValue as asn1js.OctetString).getValue())));
      }
    }
  }
  if (privateKeys.length !== 1) throw new Error(`expected one private key in the PKCS#12, found ${privateKeys.length}`);
  return { privateKeyPkcs8: privateKeys[0]!, certificatesPem };
}

// ---------------------------------------------------------------------------------------------

interface Encrypted {
  algorithm: pkijs.AlgorithmIdentifier;
  ciphertext: ArrayBuffer;
}

async function encrypt(profile: ProfileParameters, plaintext: Buffer | ArrayBuffer, password: string): Promise<Encrypted> {
  const data = Buffer.from(plaintext as ArrayBuffer);
  return profile.encryption === 'pkcs12-pbe-sha1-3des'
    ? pkcs12TripleDesEncrypt(data, password, profile.iterations)
    : pbes2Aes256Encrypt(data, password, profile.iterations);
}

async function decrypt(algorithm: pkijs.AlgorithmIdentifier, ciphertext: Buffer, password: string, what: string): Promise<Buffer> {
  try {
    if (algorithm.algorithmId === OID.pbeWithSha1And3KeyTripleDesCbc) return pkcs12TripleDesDecrypt(algorithm, ciphertext, password);
    if (algorithm.algorithmId === OID.pbes2) {
      const plaintext = await engine.decryptEncryptedContentInfo({
        password: arrayBuffer(Buffer.from(password, 'utf8')),
        encryptedContentInfo: new pkijs.EncryptedContentInfo({
          contentType: OID.data,
          contentEncryptionAlgorithm: algorithm,
          encryptedContent: new asn1js.OctetString({ valueHex: arrayBuffer(ciphertext) }),
          disableSplit: true,
        }),
      });
      return Buffer.from(plaintext);
    }
  } catch {
    throw new Error(`cannot decrypt the PKCS#12 ${what}: wrong password or damaged file`);
  }
  throw new Error(`the PKCS#12 ${what} uses an unsupported encryption scheme (${algorithm.algorithmId})`);
}

async function openContentInfo(content: pkijs.ContentInfo, password: string): Promise<ArrayBuffer> {
  if (content.contentType === OID.data) return arrayBuffer(Buffer.from((content.content as asn1js.OctetString).getValue()));
  if (content.contentType === OID.encryptedData) {
    const info = new pkijs.EncryptedData({ schema: content.content }).encryptedContentInfo;
    return arrayBuffer(await decrypt(info.contentEncryptionAlgorithm, Buffer.from(info.getEncryptedContent()), password, 'certificate bag'));
  }
  throw new Error(`the PKCS#12 holds an unsupported content type (${content.contentType})`);
}

/** PBES2 (RFC 8018) by pkijs over WebCrypto: PBKDF2-HMAC-SHA-256, AES-256-CBC (64-byte salt, pkijs's choice). */
async function pbes2Aes256Encrypt(plaintext: Buffer, password: string, iterations: number): Promise<Encrypted> {
  const info = await engine.encryptEncryptedContentInfo({
    password: arrayBuffer(Buffer.from(password, 'utf8')),
    contentEncryptionAlgorithm: { name: 'AES-CBC', length: 256 } as webcrypto.AesKeyAlgorithm,
    hmacHashAlgorithm: 'SHA-256',
    iterationCount: iterations,
    contentToEncrypt: arrayBuffer(plaintext),
    contentType: OID.data,
  });
  return { algorithm: info.contentEncryptionAlgorithm, ciphertext: info.getEncryptedContent() };
}

/** RFC 7292 B.2 diversifiers: 1 = key material, 2 = IV. */
function tripleDesKeyAndIv(password: string, salt: Buffer, iterations: number): { key: Buffer; iv: Buffer } {
  return {
    key: pkcs12Kdf('SHA-1', password, salt, PKCS12_KDF_PURPOSE.key, iterations, 24),
    iv: pkcs12Kdf('SHA-1', password, salt, PKCS12_KDF_PURPOSE.iv, iterations, 8),
  };
}

const TRIPLE_DES_SALT_BYTES = 8;

function pkcs12TripleDesEncrypt(plaintext: Buffer, password: string, iterations: number): Encrypted {
  const salt = randomBytes(TRIPLE_DES_SALT_BYTES);
  const { key, iv } = tripleDesKeyAndIv(password, salt, iterations);
  const cipher = createCipheriv('des-ede3-cbc', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  // pkcs-12PbeParams ::= SEQUENCE { salt OCTET STRING, iterations INTEGER }
  const parameters = new asn1js.Sequence({ value: [new asn1js.OctetString({ valueHex: arrayBuffer(salt) }), new asn1js.Integer({ value: iterations })] });
  return { algorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.pbeWithSha1And3KeyTripleDesCbc, algorithmParams: parameters }), ciphertext: arrayBuffer(ciphertext) };
}

function pkcs12TripleDesDecrypt(algorithm: pkijs.AlgorithmIdentifier, ciphertext: Buffer, password: string): Buffer {
  const parameters = algorithm.algorithmParams as asn1js.Sequence;
  const [saltBlock, iterationsBlock] = parameters.valueBlock.value as [asn1js.OctetString, asn1js.Integer];
  const { key, iv } = tripleDesKeyAndIv(password, Buffer.from(saltBlock.getValue()), iterationsBlock.valueBlock.valueDec);
  const decipher = createDecipheriv('des-ede3-cbc', key, iv);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

function bagAttributes(leafDer: ArrayBuffer, friendlyName: string): pkijs.Attribute[] {
  const localKeyId = createHash('sha1').update(Buffer.from(leafDer)).digest();
  return [
    new pkijs.Attribute({ type: OID.friendlyName, values: [new asn1js.BmpString({ value: friendlyName })] }),
    new pkijs.Attribute({ type: OID.localKeyId, values: [new asn1js.OctetString({ valueHex: arrayBuffer(localKeyId) })] }),
  ];
}

function hashNameOf(oid: string): 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512' {
  const names: Record<string, 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512'> = {
    [OID.sha1]: 'SHA-1',
    [OID.sha256]: 'SHA-256',
    '2.16.840.1.101.3.4.2.2': 'SHA-384',
    '2.16.840.1.101.3.4.2.3': 'SHA-512',
  };
  const name = names[oid];
  if (!name) throw new Error(`the PKCS#12 MAC uses an unsupported digest (${oid})`);
  return name;
}

function certificateDer(pem: string, what: string): ArrayBuffer {
  const [block, ...rest] = splitPemBundle(pem);
  if (!block || rest.length > 0) throw new Error(`${what} must be exactly one PEM certificate`);
  return arrayBuffer(Buffer.from(block.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
}

function derOf(value: { toSchema(): asn1js.BaseBlock }): ArrayBuffer {
  return value.toSchema().toBER(false);
}

/** A standalone ArrayBuffer holding exactly these bytes (a Buffer may be a view into a pool). */
function arrayBuffer(bytes: Buffer): ArrayBuffer {
  const copy = new ArrayBuffer(bytes.length);
  new Uint8Array(copy).set(bytes);
  return copy;
}
