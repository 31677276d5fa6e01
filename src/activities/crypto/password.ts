/**
 * PKCS#12 passwords: random, never chosen or seen by a person, and optionally encrypted to the
 * gateway so it can install the bundle without the password travelling in the clear.
 */
import { constants, publicEncrypt, randomInt, X509Certificate } from 'node:crypto';
import { nonRetryable } from '../../domain/errors';

/**
 * Printable ASCII without characters that are easy to misread (0 O o 1 l I |), quotes and the
 * backslash (which break naive quoting in configs, shells and JSON/XML hand-editing), `& < >`
 * (XML escaping) and `,` (list separators), and no space. 79 symbols ≈ 6.30 bits each.
 */
export const PASSWORD_ALPHABET =
  'ABCDEFGHJKLMNPQRSTUVWXYZ' + 'abcdefghijkmnpqrstuvwxyz' + '23456789' + '!#$%()*+-./:;=?@[]^_{}~';

/** 22 symbols × log2(79) ≈ 138.7 bits of entropy: comfortably above the 128 required. */
export const PASSWORD_LENGTH = 22;

export function randomPassword(): string {
  let password = '';
  // randomInt draws from the CSPRNG without modulo bias.
  for (let i = 0; i < PASSWORD_LENGTH; i++) password += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
  return password;
}

/** Bits of entropy of a `randomPassword()`, for documentation and tests. */
export function passwordEntropyBits(): number {
  return PASSWORD_LENGTH * Math.log2(PASSWORD_ALPHABET.length);
}

/**
 * Base64 of RSAES-OAEP (SHA-256, MGF1 with SHA-256, empty label) of the UTF-8 password under the
 * recipient certificate's RSA key. OpenSSL uses the OAEP digest for MGF1 unless told otherwise,
 * which is what RFC 8017's SHA-256 parameter set means.
 */
export function encryptForRecipient(password: string, recipientCertificatePem: string): string {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(recipientCertificatePem);
  } catch {
    throw nonRetryable('ConfigurationError', 'the gateway recipient certificate (CEG_RECIPIENT_CERT) is not a PEM X.509 certificate');
  }
  const keyType = certificate.publicKey.asymmetricKeyType;
  if (keyType !== 'rsa') {
    throw nonRetryable(
      'ConfigurationError',
      `the gateway recipient certificate (CEG_RECIPIENT_CERT, subject ${certificate.subject.replace(/\n/g, ', ')}) has a ${keyType ?? 'unknown'} key; RSA-OAEP needs an RSA key`,
    );
  }
  return publicEncrypt(
    { key: certificate.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    Buffer.from(password, 'utf8'),
  ).toString('base64');
}
