import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, type JWK } from 'jose';
import { ProvisionerKey } from '../../../src/activities/ca/step-ca/provisioner-key';

const TEMPLATE_CLAIMS = { policies: ['2.23.140.1.5.1.3'], publication: { crl: 'http://pki.example.com/smime.crl', caIssuers: 'http://pki.example.com/smime.cer' } };

describe('step-ca provisioner key: one-time tokens and reconciliation ids', () => {
  let privateJwk: JWK;
  let publicJwk: JWK;
  let key: ProvisionerKey;
  const csrSha256 = createHash('sha256').update('a CSR').digest();

  before(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    privateJwk = await exportJWK(pair.privateKey);
    publicJwk = await exportJWK(pair.publicKey);
    key = await ProvisionerKey.fromJwk('smime', privateJwk);
  });

  it('signs a sign token step-ca can verify with the provisioner public key: issuer, audience, subject, five minutes', async () => {
    const token = await key.signToken({ caUrl: 'https://ca.test:9000', subject: 'Ann Example', email: 'ann@example.com', kind: 'signing', csrSha256, jti: 'jti-1', serialHex: '4abc', ...TEMPLATE_CLAIMS });
    const { payload } = await jwtVerify(token, publicJwk, { issuer: 'smime', audience: 'https://ca.test:9000/1.0/sign' });
    assert.equal(payload.sub, 'Ann Example');
    assert.equal(payload.jti, 'jti-1');
    assert.equal(payload.exp! - payload.iat!, 300);
    assert.equal(payload.nbf, payload.iat);
    assert.deepEqual(payload.sans, ['ann@example.com']);
  });

  it('binds the sign token to the CSR (cnf x5rt#S256) and carries kind, serial, policies and URLs for the template', async () => {
    const token = await key.signToken({ caUrl: 'https://ca.test', subject: 'x', email: 'ann@example.com', kind: 'encryption', csrSha256, jti: 'j', serialHex: '4abc', ...TEMPLATE_CLAIMS });
    const { payload } = await jwtVerify(token, publicJwk);
    assert.deepEqual(payload.cnf, { 'x5rt#S256': csrSha256.toString('base64url') });
    assert.deepEqual(payload.smime, {
      kind: 'encryption',
      serial: '0x4abc',
      policies: ['2.23.140.1.5.1.3'],
      crl: 'http://pki.example.com/smime.crl',
      caIssuers: 'http://pki.example.com/smime.cer',
    });
  });

  it('names the key in the header by its RFC 7638 thumbprint when the JWK has no kid', async () => {
    const token = await key.signToken({ caUrl: 'https://ca.test', subject: 'x', email: 'a@b.c', kind: 'signing', csrSha256, jti: 'j', serialHex: '41', ...TEMPLATE_CLAIMS });
    const header = decodeProtectedHeader(token);
    assert.equal(header.kid, await calculateJwkThumbprint(publicJwk));
    assert.equal(header.alg, 'ES256');
  });

  it('keeps the kid the JWK states', async () => {
    const named = await ProvisionerKey.fromJwk('smime', { ...privateJwk, kid: 'my-kid' });
    assert.equal(named.keyId, 'my-kid');
  });

  it('makes revoke tokens with the serial in decimal as subject and a fresh jti each time', async () => {
    const first = await key.revokeToken({ caUrl: 'https://ca.test', serialHex: 'ff' });
    const second = await key.revokeToken({ caUrl: 'https://ca.test', serialHex: 'ff' });
    const a = (await jwtVerify(first, publicJwk, { audience: 'https://ca.test/1.0/revoke' })).payload;
    const b = (await jwtVerify(second, publicJwk)).payload;
    assert.equal(a.sub, '255');
    assert.notEqual(a.jti, b.jti);
  });

  it('derives the same jti and serial for the same request on any instance of the key', async () => {
    const again = await ProvisionerKey.fromJwk('smime', privateJwk);
    assert.deepEqual(again.reconciliationIds('wf/signing', 'abcd', 0), key.reconciliationIds('wf/signing', 'abcd', 0));
  });

  it('derives different ids per attempt, per idempotency key, per CSR and per provisioner key', async () => {
    const base = key.reconciliationIds('wf/signing', 'abcd', 0);
    const variants = [
      key.reconciliationIds('wf/signing', 'abcd', 1),
      key.reconciliationIds('wf/encryption', 'abcd', 0),
      key.reconciliationIds('wf/signing', 'abce', 0),
      (await ProvisionerKey.fromJwk('smime', await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey))).reconciliationIds('wf/signing', 'abcd', 0),
    ];
    for (const v of variants) {
      assert.notEqual(v.jti, base.jti);
      assert.notEqual(v.serialHex, base.serialHex);
    }
  });

  it('makes serials that are positive 16-byte integers in canonical lower-case hex', () => {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const { serialHex } = key.reconciliationIds('wf', 'csr', attempt);
      assert.match(serialHex, /^[4-7][0-9a-f]{31}$/);
    }
  });

  it('refuses a JWK without its private part', async () => {
    await assert.rejects(ProvisionerKey.fromJwk('smime', publicJwk), /no private part/);
  });
});
