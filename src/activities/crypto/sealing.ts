/**
 * Sealing: the only form in which a secret (private key, PKCS#12, password) may cross a workflow.
 *
 *   sealed:v1:<kid>:<base64url nonce>:<base64url ciphertext || tag>
 *
 * AES-256-GCM under a key-encryption key from a keyring (the first key seals, every key opens, so
 * keys can rotate while old histories stay readable). The additional authenticated data binds
 * the blob to its version, key id and a caller-given context (`private-key`, `pkcs12-bundle`...):
 * a sealed key cannot be replayed where a bundle is expected, nor relabelled with another kid.
 *
 * Errors name the key id and the context, never the content.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ConfigError } from '../../config/load';
import type { Sealed } from '../../domain/credentials';
import { nonRetryable } from '../../domain/errors';

export interface KeyringKey {
  kid: string;
  key: Buffer;
}

export const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const PREFIX = 'sealed:v1:';
/** Key ids appear inside the sealed string (':'-separated) and in codec metadata. */
const KID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export class Keyring {
  readonly #keys: readonly KeyringKey[];

  /** The first key is the current one (seals/encodes); all of them open/decode. */
  constructor(keys: KeyringKey[]) {
    if (keys.length === 0) throw new Error('a keyring needs at least one key');
    const seen = new Set<string>();
    for (const { kid, key } of keys) {
      if (!KID_PATTERN.test(kid)) throw new Error(`key id "${kid}" must be 1-64 characters of A-Z a-z 0-9 . _ -`);
      if (key.length !== KEY_BYTES) throw new Error(`key "${kid}" must be ${KEY_BYTES} bytes`);
      if (seen.has(kid)) throw new Error(`key id "${kid}" appears twice`);
      seen.add(kid);
    }
    this.#keys = keys.map(({ kid, key }) => ({ kid, key: Buffer.from(key) }));
  }

  get current(): KeyringKey {
    return this.#keys[0]!;
  }

  find(kid: string): KeyringKey | undefined {
    return this.#keys.find((k) => k.kid === kid);
  }

  get kids(): string[] {
    return this.#keys.map((k) => k.kid);
  }

  /** Keep key bytes out of `console.log`, `util.inspect` and JSON. */
  toJSON(): { kids: string[] } {
    return { kids: this.kids };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Keyring { kids: [${this.kids.join(', ')}] }`;
  }
}

export class Sealer {
  constructor(private readonly keyring: Keyring) {}

  seal(plaintext: Buffer | string, context: string): Sealed {
    const { kid, key } = this.keyring.current;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(additionalData(kid, context));
    const body = Buffer.concat([cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext), cipher.final(), cipher.getAuthTag()]);
    return `${PREFIX}${kid}:${nonce.toString('base64url')}:${body.toString('base64url')}` as Sealed;
  }

  open(sealed: string, context: string): Buffer {
    const parts = parse(sealed, context);
    const entry = this.keyring.find(parts.kid);
    if (!entry) {
      throw nonRetryable('SealingError', `cannot open sealed ${context}: key id "${parts.kid}" is not in the keyring (known: ${this.keyring.kids.join(', ')})`);
    }
    const decipher = createDecipheriv('aes-256-gcm', entry.key, parts.nonce);
    decipher.setAAD(additionalData(parts.kid, context));
    decipher.setAuthTag(parts.body.subarray(parts.body.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(parts.body.subarray(0, parts.body.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw nonRetryable(
        'SealingError',
        `cannot open sealed ${context} under key "${parts.kid}": authentication failed (tampered, sealed for another purpose, or a different key with the same id)`,
      );
    }
  }

  openText(sealed: string, context: string): string {
    return this.open(sealed, context).toString('utf8');
  }
}

function additionalData(kid: string, context: string): Buffer {
  return Buffer.from(`${PREFIX}${kid}:${context}`, 'utf8');
}

function parse(sealed: string, context: string): { kid: string; nonce: Buffer; body: Buffer } {
  const malformed = () => nonRetryable('SealingError', `cannot open sealed ${context}: not a sealed:v1 value`);
  if (typeof sealed !== 'string' || !sealed.startsWith(PREFIX)) throw malformed();
  const fields = sealed.slice(PREFIX.length).split(':');
  if (fields.length !== 3) throw malformed();
  const [kid, nonceText, bodyText] = fields as [string, string, string];
  const base64url = /^[A-Za-z0-9_-]+$/;
  if (!KID_PATTERN.test(kid) || !base64url.test(nonceText) || !base64url.test(bodyText)) throw malformed();
  const nonce = Buffer.from(nonceText, 'base64url');
  const body = Buffer.from(bodyText, 'base64url');
  if (nonce.length !== NONCE_BYTES || body.length < TAG_BYTES) throw malformed();
  return { kid, nonce, body };
}

/**
 * Keyring entries from a setting: `kid:base64` where base64 (standard or URL-safe) decodes to
 * exactly 32 bytes. A bad entry is reported by position and kid, never by its key material.
 */
export function parseKeyringSpec(entries: string[], settingName: string): KeyringKey[] {
  const keys = entries.map((entry, index) => {
    const position = `${settingName} entry ${index + 1}`;
    const separator = entry.indexOf(':');
    if (separator <= 0) throw new Error(`${position} must look like kid:base64key`);
    const kid = entry.slice(0, separator).trim();
    const encoded = entry.slice(separator + 1).trim();
    if (!KID_PATTERN.test(kid)) throw new Error(`${position}: the key id must be 1-64 characters of A-Z a-z 0-9 . _ -`);
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(encoded)) throw new Error(`${position} (kid "${kid}"): the key is not base64`);
    const key = Buffer.from(encoded.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length !== KEY_BYTES) throw new Error(`${position} (kid "${kid}"): the key must decode to ${KEY_BYTES} bytes, got ${key.length}`);
    return { kid, key };
  });
  const kids = keys.map((k) => k.kid);
  const duplicate = kids.find((kid, i) => kids.indexOf(kid) !== i);
  if (duplicate) throw new Error(`${settingName}: key id "${duplicate}" appears twice`);
  return keys;
}

/**
 * The keyring a setting holds (SEALING_KEYS, CODEC_KEYS). Production code never makes keys of its
 * own: an empty setting is a ConfigError naming it (the development stack fills it in).
 */
export function keyringFromSetting(entries: readonly string[], settingName: string): Keyring {
  if (entries.length === 0) throw new ConfigError([`${settingName}: required (kid:base64 of 32 random bytes, e.g. k1:$(openssl rand -base64 32))`]);
  try {
    return new Keyring(parseKeyringSpec([...entries], settingName));
  } catch (err) {
    throw new ConfigError([(err as Error).message]);
  }
}
