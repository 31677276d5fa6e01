/**
 * Encryption at rest for escrowed private keys (envelope encryption):
 *
 *   - each credential gets its own random 256-bit data key;
 *   - the PKCS#8 key is encrypted with it, AES-256-GCM, the additional authenticated data binding
 *     the row id, user, kind and scope, so a ciphertext copied onto another row (another user's)
 *     does not open;
 *   - the data key is sealed (sealing.ts: AES-256-GCM under the keyring's current key-encryption
 *     key, the kid inside the sealed value and in its AAD) with a context naming the row id, so a
 *     wrapped data key cannot be moved to another row either.
 *
 * Rotation re-seals data keys only; the private-key ciphertexts never change. Opening names the kid
 * when the keyring lacks it (`SealingError` from the Sealer).
 *
 * Private-key ciphertext layout: version byte 0x01 || 12-byte nonce || ciphertext || 16-byte tag.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { nonRetryable } from '../../domain/errors';
import type { Sealer } from '../crypto/sealing';
import type { EscrowKey } from './escrow-store';

const VERSION = 0x01;
const DATA_KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** Who a private key belongs to: what its ciphertext is bound to. */
export interface KeyOwnerIdentity extends EscrowKey {
  id: string;
}

export interface EncryptedPrivateKey {
  keyCiphertext: Buffer;
  /** The sealed data key (`sealed:v1:<kid>:...`). */
  wrappedDataKey: string;
  /** The key-encryption key id the data key is sealed under (also inside `wrappedDataKey`). */
  dataKeyKid: string;
}

export function encryptPrivateKey(sealer: Sealer, identity: KeyOwnerIdentity, privateKeyPkcs8: Buffer): EncryptedPrivateKey {
  const dataKey = randomBytes(DATA_KEY_BYTES);
  try {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', dataKey, nonce);
    cipher.setAAD(privateKeyAad(identity));
    const body = Buffer.concat([cipher.update(privateKeyPkcs8), cipher.final()]);
    const wrappedDataKey = sealer.seal(dataKey, dataKeyContext(identity.id));
    return {
      keyCiphertext: Buffer.concat([Buffer.of(VERSION), nonce, body, cipher.getAuthTag()]),
      wrappedDataKey,
      dataKeyKid: kidOf(wrappedDataKey),
    };
  } finally {
    dataKey.fill(0);
  }
}

export function decryptPrivateKey(sealer: Sealer, identity: KeyOwnerIdentity, stored: { keyCiphertext: Buffer; wrappedDataKey: string }): Buffer {
  const dataKey = sealer.open(stored.wrappedDataKey, dataKeyContext(identity.id));
  try {
    const blob = stored.keyCiphertext;
    if (blob.length < 1 + NONCE_BYTES + TAG_BYTES || blob[0] !== VERSION) {
      throw nonRetryable('SealingError', `escrowed credential ${identity.id}: the private-key ciphertext is not in a known format`);
    }
    const nonce = blob.subarray(1, 1 + NONCE_BYTES);
    const tag = blob.subarray(blob.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', dataKey, nonce);
    decipher.setAAD(privateKeyAad(identity));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(blob.subarray(1 + NONCE_BYTES, blob.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw nonRetryable('SealingError', `escrowed credential ${identity.id}: the private key does not authenticate (tampered, or moved from another row)`);
    }
  } finally {
    dataKey.fill(0);
  }
}

/** Re-seal a wrapped data key under the sealer's current key (opening it with whichever key its kid names). */
export function rewrapDataKey(sealer: Sealer, id: string, wrappedDataKey: string): { wrappedDataKey: string; dataKeyKid: string } {
  const dataKey = sealer.open(wrappedDataKey, dataKeyContext(id));
  try {
    const rewrapped = sealer.seal(dataKey, dataKeyContext(id));
    return { wrappedDataKey: rewrapped, dataKeyKid: kidOf(rewrapped) };
  } finally {
    dataKey.fill(0);
  }
}

function dataKeyContext(id: string): string {
  return `escrow-data-key:${id}`;
}

function privateKeyAad(identity: KeyOwnerIdentity): Buffer {
  // JSON of a fixed-order array: unambiguous whatever characters the fields hold.
  return Buffer.from(JSON.stringify(['escrow-private-key/v1', identity.id, identity.enrollmentUserUuid, identity.kind, identity.scope]), 'utf8');
}

/** The kid of a `sealed:v1:<kid>:...` value (the Sealer validated the format when it made it). */
function kidOf(sealed: string): string {
  const kid = sealed.split(':')[2];
  if (!kid) throw new Error('sealed value without a key id');
  return kid;
}
