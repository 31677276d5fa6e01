/**
 * The one place `@peculiar/x509` is loaded. It resolves its algorithm providers through tsyringe,
 * which needs the Reflect metadata polyfill *before* the library is imported; and it must use
 * Node's WebCrypto (OpenSSL underneath, run off the event loop) rather than whatever global it
 * happens to find. Modules in this folder import x509 from here, never from the package directly.
 */
import 'reflect-metadata';
import { createPrivateKey, createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/** Node's WebCrypto, typed with Node's own declarations (this project compiles without DOM types). */
export const nodeCrypto: webcrypto.Crypto = webcrypto;
x509.cryptoProvider.set(nodeCrypto);

export { x509 };

/** The WebCrypto algorithm a key of this type signs with (always SHA-256, see callers). */
export function signingAlgorithmFor(key: KeyObject): webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    case 'ec':
      return { name: 'ECDSA', namedCurve: webCryptoCurveName(key.asymmetricKeyDetails?.namedCurve) };
    default:
      throw new Error(`unsupported key type ${key.asymmetricKeyType ?? 'unknown'} (expected RSA or EC)`);
  }
}

function webCryptoCurveName(openSslName: string | undefined): string {
  switch (openSslName) {
    case 'prime256v1':
    case 'P-256':
      return 'P-256';
    case 'secp384r1':
    case 'P-384':
      return 'P-384';
    default:
      throw new Error(`unsupported EC curve ${openSslName ?? 'unknown'} (expected P-256 or P-384)`);
  }
}

/** A PKCS#8 private key and its SPKI public half as a WebCrypto pair that can sign. */
export async function importSigningPair(privateKeyPkcs8: Buffer): Promise<webcrypto.CryptoKeyPair> {
  const privateKeyObject = createPrivateKey({ key: privateKeyPkcs8, format: 'der', type: 'pkcs8' });
  const algorithm = signingAlgorithmFor(privateKeyObject);
  const spki = createPublicKey(privateKeyObject).export({ type: 'spki', format: 'der' });
  const [privateKey, publicKey] = await Promise.all([
    nodeCrypto.subtle.importKey('pkcs8', privateKeyPkcs8, algorithm, false, ['sign']),
    nodeCrypto.subtle.importKey('spki', spki, algorithm, true, ['verify']),
  ]);
  return { privateKey, publicKey };
}

/** The parameters `sign` needs for a key imported by `importSigningPair`. */
export function signatureParams(key: webcrypto.CryptoKey): webcrypto.Algorithm | webcrypto.EcdsaParams {
  return key.algorithm.name === 'ECDSA' ? ({ name: 'ECDSA', hash: 'SHA-256' } satisfies webcrypto.EcdsaParams) : { name: key.algorithm.name };
}
