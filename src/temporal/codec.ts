import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { Keyring } from '../activities/crypto/sealing';

/**
 * The payload codec: every payload the provider writes to Temporal (workflow inputs, activity
 * arguments and results, signals, queries, memo) is AES-256-GCM encrypted, so the server,
 * its database and anyone reading raw histories see ciphertext only.
 *
 * This is the second layer. Secrets (keys, PKCS#12, passwords) are already sealed by the
 * activities under a different key; an operator who can decode payloads in the UI still cannot
 * read them.
 *
 * Rotation: encode with the keyring's current key; decode with whichever key the payload's
 * `encryption-key-id` names, so old histories stay readable while a previous key is kept.
 */
export const ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export class CodecError extends Error {
  override readonly name = 'CodecError';
}

export class AesGcmPayloadCodec implements PayloadCodec {
  constructor(private readonly keyring: Keyring) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const { kid, key } = this.keyring.current;
    return payloads.map((payload) => {
      const plaintext = temporal.api.common.v1.Payload.encode(payload).finish();
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      const body = Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { [METADATA_ENCODING_KEY]: utf8.encode(ENCODING), [KEY_ID_METADATA]: utf8.encode(kid) },
        data: body,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
      if (!encoding || fromUtf8.decode(encoding) !== ENCODING) return payload; // not ours: pass through
      const kidBytes = payload.metadata?.[KEY_ID_METADATA];
      const kid = kidBytes ? fromUtf8.decode(kidBytes) : '';
      const entry = this.keyring.find(kid);
      if (!entry) throw new CodecError(`payload was encrypted with codec key "${kid}", which is not in CODEC_KEYS (known: ${this.keyring.kids.join(', ')})`);
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < NONCE_BYTES + TAG_BYTES) throw new CodecError('encrypted payload is truncated');
      const nonce = data.subarray(0, NONCE_BYTES);
      const tag = data.subarray(data.length - TAG_BYTES);
      const decipher = createDecipheriv('aes-256-gcm', entry.key, nonce);
      decipher.setAuthTag(tag);
      let plaintext: Buffer;
      try {
        plaintext = Buffer.concat([decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new CodecError(`payload failed authentication under codec key "${kid}" (tampered, or a different key with the same id)`);
      }
      return temporal.api.common.v1.Payload.decode(plaintext);
    });
  }
}
