import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { generateKeyPair, spkiSha256 } from '../../../src/activities/crypto/keys';
import { assertFailure } from './support';

describe('generateKeyPair', () => {
  it('makes an RSA-2048 key: PKCS#8 private, SPKI public, labelled RSA-2048', async () => {
    const key = await generateKeyPair({ algorithm: 'rsa', rsaBits: 2048, ecCurve: 'P-256' });
    const privateKey = createPrivateKey({ key: key.privateKeyPkcs8, format: 'der', type: 'pkcs8' });
    assert.equal(privateKey.asymmetricKeyType, 'rsa');
    assert.equal(privateKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(privateKey.asymmetricKeyDetails?.publicExponent, 65537n);
    assert.equal(key.algorithm, 'RSA-2048');
    assert.deepEqual(createPublicKey(privateKey).export({ type: 'spki', format: 'der' }), key.publicKeySpki);
  });

  it('hashes the SPKI DER as the public key fingerprint', async () => {
    const key = await generateKeyPair({ algorithm: 'rsa', rsaBits: 2048, ecCurve: 'P-256' });
    assert.equal(key.publicKeySha256, createHash('sha256').update(key.publicKeySpki).digest('hex'));
    assert.equal(spkiSha256(key.publicKeySpki), key.publicKeySha256);
    assert.match(key.publicKeySha256, /^[0-9a-f]{64}$/);
  });

  it('makes EC keys on P-256 and P-384', async () => {
    for (const [curve, openSslName] of [['P-256', 'prime256v1'], ['P-384', 'secp384r1']] as const) {
      const key = await generateKeyPair({ algorithm: 'ec', rsaBits: 2048, ecCurve: curve });
      const privateKey = createPrivateKey({ key: key.privateKeyPkcs8, format: 'der', type: 'pkcs8' });
      assert.equal(privateKey.asymmetricKeyDetails?.namedCurve, openSslName);
      assert.equal(key.algorithm, `EC-${curve}`);
    }
  });

  it('makes a different key every time', async () => {
    const options = { algorithm: 'ec', rsaBits: 2048, ecCurve: 'P-256' } as const;
    const [a, b] = await Promise.all([generateKeyPair(options), generateKeyPair(options)]);
    assert.notEqual(a.publicKeySha256, b.publicKeySha256);
  });

  it('keeps the event loop free while an RSA key is generated', async () => {
    let turns = 0;
    let spinning = true;
    const spin = () => {
      turns += 1;
      if (spinning) setImmediate(spin);
    };
    setImmediate(spin);
    await generateKeyPair({ algorithm: 'rsa', rsaBits: 3072, ecCurve: 'P-256' });
    spinning = false;
    // Generated on the event loop, no immediate could run until it finished.
    assert.ok(turns > 5, `only ${turns} event-loop turns during generation`);
  });

  it('refuses RSA keys below 2048 bits as a configuration error', async () => {
    await assertFailure(generateKeyPair({ algorithm: 'rsa', rsaBits: 1024, ecCurve: 'P-256' }), 'ConfigurationError', /1024.*KEY_RSA_BITS/);
  });

  it('refuses unknown curves and algorithms as configuration errors', async () => {
    await assertFailure(generateKeyPair({ algorithm: 'ec', rsaBits: 2048, ecCurve: 'P-521' as 'P-256' }), 'ConfigurationError', /KEY_EC_CURVE/);
    await assertFailure(generateKeyPair({ algorithm: 'dsa' as 'rsa', rsaBits: 2048, ecCurve: 'P-256' }), 'ConfigurationError', /KEY_ALGORITHM/);
  });
});
