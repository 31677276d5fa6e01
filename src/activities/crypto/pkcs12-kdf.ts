/**
 * The PKCS#12 key derivation (RFC 7292 appendix B.2) on Node's native hashes. It derives the
 * 3DES key and IV of the legacy profile and the MAC key of both profiles. node-forge and pkijs
 * implement it in JavaScript (a SHA-1 or SHA-256 per iteration in JS, ~20 ms of event loop per
 * bundle at 2048 iterations); `crypto.hash` does each iteration in OpenSSL.
 */
import { createHash, createHmac, hash } from 'node:crypto';

export type Pkcs12KdfHash = 'SHA-1' | 'SHA-256';

/** RFC 7292 B.3 diversifiers. */
export const PKCS12_KDF_PURPOSE = { key: 1, iv: 2, mac: 3 } as const;

const DIGEST: Record<Pkcs12KdfHash, { name: string; u: number; v: number }> = {
  'SHA-1': { name: 'sha1', u: 20, v: 64 },
  'SHA-256': { name: 'sha256', u: 32, v: 64 },
};

/** The password as RFC 7292 B.1 wants it: BMPString (UTF-16 big-endian) with a two-byte zero terminator. */
export function pkcs12PasswordBytes(password: string): Buffer {
  const bytes = Buffer.alloc(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) bytes.writeUInt16BE(password.charCodeAt(i), i * 2);
  return bytes;
}

/** `bytes` repeated to fill a whole number of v-byte blocks (empty stays empty). */
function fillBlocks(bytes: Buffer, v: number): Buffer {
  const out = Buffer.alloc(v * Math.ceil(bytes.length / v));
  for (let i = 0; i < out.length; i++) out[i] = bytes[i % bytes.length]!;
  return out;
}

export function pkcs12Kdf(hashName: Pkcs12KdfHash, password: string, salt: Buffer, purpose: number, iterations: number, length: number): Buffer {
  const { name, u, v } = DIGEST[hashName];
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error('PKCS#12 KDF iterations must be at least 1');
  const diversifier = Buffer.alloc(v, purpose);
  const input = Buffer.concat([fillBlocks(salt, v), fillBlocks(pkcs12PasswordBytes(password), v)]);
  const blocks: Buffer[] = [];
  for (let produced = 0; produced < length; produced += u) {
    let a: Buffer = createHash(name).update(diversifier).update(input).digest();
    for (let i = 1; i < iterations; i++) a = hash(name, a, 'buffer') as unknown as Buffer;
    blocks.push(a);
    if (produced + u >= length) break;
    // I_j = (I_j + B + 1) mod 2^(8v) for every v-byte block of I, with B = A repeated to v bytes.
    for (let j = 0; j < input.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = input[j + k]! + a[k % u]! + carry;
        input[j + k] = sum & 0xff;
        carry = sum >>> 8;
      }
    }
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** The PFX MAC (RFC 7292 section 5): HMAC over the authenticated safe with a KDF-derived key. */
export function pkcs12Mac(hashName: Pkcs12KdfHash, password: string, salt: Buffer, iterations: number, content: Buffer): Buffer {
  const key = pkcs12Kdf(hashName, password, salt, PKCS12_KDF_PURPOSE.mac, iterations, DIGEST[hashName].u);
  return createHmac(DIGEST[hashName].name, key).update(content).digest();
}
