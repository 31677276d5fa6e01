import assert from 'node:assert/strict';
import forge from 'node-forge';
import { PKCS12_KDF_PURPOSE, pkcs12Kdf, pkcs12Mac, pkcs12PasswordBytes } from '../../../src/activities/crypto/pkcs12-kdf';

/** node-forge's RFC 7292 B.2 implementation, the reference the native one must match byte for byte. */
const forgeKdf = (password: string, salt: Buffer, id: number, iterations: number, length: number) =>
  Buffer.from(
    (forge.pki as unknown as { pbe: { generatePkcs12Key(p: string, s: forge.util.ByteStringBuffer, id: number, it: number, n: number): forge.util.ByteStringBuffer } }).pbe
      .generatePkcs12Key(password, forge.util.createBuffer(salt.toString('binary')), id, iterations, length)
      .getBytes(),
    'binary',
  );

describe('PKCS#12 key derivation (RFC 7292 B.2)', () => {
  it('matches node-forge for the 3DES key, the IV and the MAC key, across salts, passwords and counts', () => {
    const cases: [string, string, number][] = [
      ['aB3$kLm9-xYz12QwErTyU1', '0102030405060708', 2048],
      ['x', 'ff', 1],
      ['a password longer than one sixty-four byte block of BMPString, so I spans several blocks', '00112233445566778899aabbccddeeff', 3],
      ['', '0a0b0c0d0e0f1011', 5],
    ];
    for (const [password, saltHex, iterations] of cases) {
      const salt = Buffer.from(saltHex, 'hex');
      for (const [purpose, length] of [[PKCS12_KDF_PURPOSE.key, 24], [PKCS12_KDF_PURPOSE.iv, 8], [PKCS12_KDF_PURPOSE.mac, 20], [PKCS12_KDF_PURPOSE.key, 61]] as const) {
        assert.deepEqual(pkcs12Kdf('SHA-1', password, salt, purpose, iterations, length), forgeKdf(password, salt, purpose, iterations, length), `${password.slice(0, 10)}/${saltHex}/${iterations}/${purpose}/${length}`);
      }
    }
  });

  it('encodes the password as a terminated big-endian BMPString', () => {
    assert.deepEqual(pkcs12PasswordBytes('Ab'), Buffer.from([0x00, 0x41, 0x00, 0x62, 0x00, 0x00]));
    assert.deepEqual(pkcs12PasswordBytes(''), Buffer.from([0x00, 0x00]));
  });

  it('gives a different MAC for a different password, salt or content', () => {
    const salt = Buffer.from('0102030405060708', 'hex');
    const mac = pkcs12Mac('SHA-256', 'secret', salt, 2048, Buffer.from('content'));
    assert.equal(mac.length, 32);
    assert.notDeepEqual(pkcs12Mac('SHA-256', 'Secret', salt, 2048, Buffer.from('content')), mac);
    assert.notDeepEqual(pkcs12Mac('SHA-256', 'secret', Buffer.from('0102030405060709', 'hex'), 2048, Buffer.from('content')), mac);
    assert.notDeepEqual(pkcs12Mac('SHA-256', 'secret', salt, 2048, Buffer.from('Content')), mac);
  });

  it('refuses an iteration count below one', () => {
    assert.throws(() => pkcs12Kdf('SHA-1', 'p', Buffer.alloc(8), 1, 0, 24), /at least 1/);
  });
});
