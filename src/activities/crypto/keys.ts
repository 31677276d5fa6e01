/**
 * Key pairs for S/MIME credentials. Generation uses Node's asynchronous `generateKeyPair`, which
 * runs on the libuv thread pool: an RSA-2048 key costs tens to hundreds of milliseconds of CPU,
 * and doing that on the event loop would stall every other activity and the worker's heartbeats.
 */
import { createHash, generateKeyPair as generateNodeKeyPair } from 'node:crypto';
import { nonRetryable } from '../../domain/errors';

export interface KeyOptions {
  algorithm: 'rsa' | 'ec';
  rsaBits: number;
  ecCurve: 'P-256' | 'P-384';
}

export interface GeneratedKey {
  /** PKCS#8 DER. A secret: it leaves the activity only sealed. */
  privateKeyPkcs8: Buffer;
  /** SubjectPublicKeyInfo DER. */
  publicKeySpki: Buffer;
  /** Hex SHA-256 of the SPKI DER: lets anyone check that a certificate carries this key. */
  publicKeySha256: string;
  /** e.g. 'RSA-2048', 'EC-P-256'. */
  algorithm: string;
}


/** Below this, an RSA key is too weak for a certificate a public CA would still issue. */
const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 8192;

const OPENSSL_CURVE_NAMES: Record<KeyOptions['ecCurve'], string> = { 'P-256': 'prime256v1', 'P-384': 'secp384r1' };

interface DerPair {
  publicKey: Buffer;
  privateKey: Buffer;
}

// Node's callback API wrapped by hand: `promisify` loses the DER-encoding overloads' types.
function generateRsa(modulusLength: number): Promise<DerPair> {
  return new Promise((resolve, reject) =>
    generateNodeKeyPair(
      'rsa',
      { modulusLength, publicExponent: 0x10001, publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } },
      (error, publicKey, privateKey) => (error ? reject(error) : resolve({ publicKey, privateKey })),
    ),
  );
}

function generateEc(namedCurve: string): Promise<DerPair> {
  return new Promise((resolve, reject) =>
    generateNodeKeyPair(
      'ec',
      { namedCurve, publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } },
      (error, publicKey, privateKey) => (error ? reject(error) : resolve({ publicKey, privateKey })),
    ),
  );
}

export async function generateKeyPair(options: KeyOptions): Promise<GeneratedKey> {
  if (options.algorithm === 'rsa') {
    const bits = options.rsaBits;
    if (!Number.isInteger(bits) || bits < MIN_RSA_BITS || bits > MAX_RSA_BITS || bits % 8 !== 0) {
      throw nonRetryable('ConfigurationError', `RSA key size ${bits} is not allowed: use 2048, 3072 or 4096 (KEY_RSA_BITS)`);
    }
    const { publicKey, privateKey } = await generateRsa(bits);
    return generated(privateKey, publicKey, `RSA-${bits}`);
  }
  if (options.algorithm === 'ec') {
    const namedCurve = OPENSSL_CURVE_NAMES[options.ecCurve];
    if (!namedCurve) throw nonRetryable('ConfigurationError', `EC curve ${String(options.ecCurve)} is not supported: use P-256 or P-384 (KEY_EC_CURVE)`);
    const { publicKey, privateKey } = await generateEc(namedCurve);
    return generated(privateKey, publicKey, `EC-${options.ecCurve}`);
  }
  throw nonRetryable('ConfigurationError', `key algorithm ${String(options.algorithm)} is not supported: use rsa or ec (KEY_ALGORITHM)`);
}

export function spkiSha256(spkiDer: Buffer): string {
  return createHash('sha256').update(spkiDer).digest('hex');
}

function generated(privateKeyPkcs8: Buffer, publicKeySpki: Buffer, algorithm: string): GeneratedKey {
  return { privateKeyPkcs8, publicKeySpki, publicKeySha256: spkiSha256(publicKeySpki), algorithm };
}
