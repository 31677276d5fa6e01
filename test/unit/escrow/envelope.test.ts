import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { Keyring, Sealer } from '../../../src/activities/crypto/sealing';
import { decryptPrivateKey, encryptPrivateKey, rewrapDataKey, type KeyOwnerIdentity } from '../../../src/activities/escrow/envelope';

const identity: KeyOwnerIdentity = { id: 'cred-1', enrollmentUserUuid: 'user-1', kind: 'encryption', scope: 'user' };
const key = (kid: string) => ({ kid, key: randomBytes(32) });

function sealingError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, 'SealingError');
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('escrow envelope encryption', () => {
  const secret = randomBytes(1200);
  const k1 = key('k1');
  const sealer = new Sealer(new Keyring([k1]));

  it('round-trips, and the ciphertext does not contain the key', () => {
    const encrypted = encryptPrivateKey(sealer, identity, secret);
    assert.equal(encrypted.dataKeyKid, 'k1');
    assert.equal(encrypted.keyCiphertext.indexOf(secret.subarray(0, 32)), -1);
    assert.ok(decryptPrivateKey(sealer, identity, encrypted).equals(secret));
  });

  it('uses a new data key for every credential', () => {
    const a = encryptPrivateKey(sealer, identity, secret);
    const b = encryptPrivateKey(sealer, identity, secret);
    assert.notEqual(a.wrappedDataKey, b.wrappedDataKey);
    assert.ok(!a.keyCiphertext.equals(b.keyCiphertext));
  });

  for (const [field, value] of [['id', 'cred-2'], ['enrollmentUserUuid', 'user-2'], ['kind', 'signing'], ['scope', 'device-1']] as const) {
    it(`binds the key to its ${field}`, () => {
      const encrypted = encryptPrivateKey(sealer, identity, secret);
      sealingError(() => decryptPrivateKey(sealer, { ...identity, [field]: value }, encrypted), /cred-|escrow-data-key/);
    });
  }

  it('names the key id when the keyring lacks it', () => {
    const encrypted = encryptPrivateKey(sealer, identity, secret);
    sealingError(() => decryptPrivateKey(new Sealer(new Keyring([key('k2')])), identity, encrypted), /"k1" is not in the keyring/);
  });

  it('rejects a tampered ciphertext', () => {
    const encrypted = encryptPrivateKey(sealer, identity, secret);
    const tampered = Buffer.from(encrypted.keyCiphertext);
    tampered[20]! ^= 1;
    sealingError(() => decryptPrivateKey(sealer, identity, { ...encrypted, keyCiphertext: tampered }), /does not authenticate/);
    sealingError(() => decryptPrivateKey(sealer, identity, { ...encrypted, keyCiphertext: Buffer.concat([Buffer.of(2), tampered.subarray(1)]) }), /not in a known format/);
  });

  it('rewraps the data key under the current key, leaving the ciphertext as it is', () => {
    const encrypted = encryptPrivateKey(sealer, identity, secret);
    const k2 = key('k2');
    const rewrapped = rewrapDataKey(new Sealer(new Keyring([k2, k1])), identity.id, encrypted.wrappedDataKey);
    assert.equal(rewrapped.dataKeyKid, 'k2');
    const onlyNew = new Sealer(new Keyring([k2]));
    assert.ok(decryptPrivateKey(onlyNew, identity, { keyCiphertext: encrypted.keyCiphertext, wrappedDataKey: rewrapped.wrappedDataKey }).equals(secret));
  });
});
