import assert from 'node:assert/strict';
import { decideClaim, decideStore, type ActiveFacts, type ClaimFacts } from '../../../src/activities/escrow/decisions';
import type { EscrowKey } from '../../../src/activities/escrow/escrow-store';

const key: EscrowKey = { enrollmentUserUuid: 'u-1', kind: 'encryption', scope: 'user' };
const now = 1_000_000;
const lease = 60_000;
const active: ActiveFacts = { id: 'cred-1', thumbprint: 'aa', notAfterMs: now + 100 * 86_400_000 };
const open = (over: Partial<ClaimFacts> = {}): ClaimFacts => ({ claimId: 'c-1', key, owner: 'wf-a', expiresAtMs: now + 10_000, ended: false, ...over });
const ask = (owner: string, over: { renewBeforeMs?: number; waitPollMs?: number } = {}) => ({ owner, nowMs: now, leaseMs: lease, ...over });

describe('escrow decisions: claim', () => {
  it('returns the active credential when there is one', () => {
    assert.deepEqual(decideClaim({ active }, ask('wf-b')), { action: 'exists', credentialId: 'cred-1' });
  });

  it('returns the active credential even while another owner holds a (renewal) claim', () => {
    assert.equal(decideClaim({ active, openClaim: open() }, ask('wf-b')).action, 'exists');
  });

  it('grants a claim with a lease when nothing is there', () => {
    assert.deepEqual(decideClaim({}, ask('wf-a')), { action: 'grant', expiresAtMs: now + lease, replacingId: undefined, takeOverClaimId: undefined });
  });

  it('renews the holder\'s own claim, live or expired', () => {
    assert.deepEqual(decideClaim({ openClaim: open() }, ask('wf-a')), { action: 'renew', claimId: 'c-1', expiresAtMs: now + lease, replacingId: undefined });
    assert.equal(decideClaim({ openClaim: open({ expiresAtMs: now - 1 }) }, ask('wf-a')).action, 'renew');
  });

  it('tells another owner to wait while the lease runs, capped by the poll interval', () => {
    assert.deepEqual(decideClaim({ openClaim: open() }, ask('wf-b', { waitPollMs: 2_000 })), { action: 'wait', heldBy: 'wf-a', expiresAtMs: now + 10_000, retryAfterMs: 2_000 });
    const nearlyOver = decideClaim({ openClaim: open({ expiresAtMs: now + 5 }) }, ask('wf-b'));
    assert.equal(nearlyOver.action === 'wait' && nearlyOver.retryAfterMs, 100);
  });

  it('takes over an expired claim of another owner', () => {
    const decision = decideClaim({ openClaim: open({ expiresAtMs: now }) }, ask('wf-b'));
    assert.deepEqual(decision, { action: 'grant', expiresAtMs: now + lease, replacingId: undefined, takeOverClaimId: 'c-1' });
  });

  it('grants a renewal claim when the active credential expires before renewBefore', () => {
    const expiring = { ...active, notAfterMs: now + 1_000 };
    assert.deepEqual(decideClaim({ active: expiring }, ask('wf-a', { renewBeforeMs: now + 2_000 })), {
      action: 'grant',
      expiresAtMs: now + lease,
      replacingId: 'cred-1',
      takeOverClaimId: undefined,
    });
    assert.equal(decideClaim({ active: expiring }, ask('wf-a', { renewBeforeMs: now + 500 })).action, 'exists');
  });
});

describe('escrow decisions: store', () => {
  const request = (over: Partial<{ claimId: string; owner: string; key: EscrowKey; thumbprint: string }> = {}) => ({ claimId: 'c-1', owner: 'wf-a', key, thumbprint: 'bb', ...over });

  it('stores under an open claim of the caller, superseding the active one', () => {
    assert.deepEqual(decideStore({ claim: open(), active }, request()), { action: 'store', supersedeId: 'cred-1' });
    assert.deepEqual(decideStore({ claim: open({ expiresAtMs: now - 1 }) }, request()), { action: 'store', supersedeId: undefined });
  });

  it('answers a repeated store with what the claim stored', () => {
    const done = open({ ended: true, outcome: 'stored', storedCredentialId: 'cred-2', storedThumbprint: 'bb' });
    assert.deepEqual(decideStore({ claim: done, active: { ...active, id: 'cred-2', thumbprint: 'bb' } }, request()), { action: 'already-stored', credentialId: 'cred-2' });
  });

  it('hands over the credential another owner stored after taking the claim over', () => {
    const takenOver = open({ ended: true, outcome: 'expired' });
    assert.deepEqual(decideStore({ claim: takenOver, active }, request()), { action: 'theirs', credentialId: 'cred-1' });
  });

  it('does not hand over the credential a lost renewal claim was meant to replace', () => {
    const takenOver = open({ ended: true, outcome: 'expired', replacingId: 'cred-1' });
    const decision = decideStore({ claim: takenOver, active }, request());
    assert.equal(decision.action, 'lost');
    assert.match(decision.action === 'lost' ? decision.reason : '', /has ended \(expired\)/);
  });

  it('reports a lost claim when nothing was stored meanwhile', () => {
    assert.match(JSON.stringify(decideStore({ claim: open({ ended: true, outcome: 'released' }) }, request())), /has ended \(released\)/);
    assert.match(JSON.stringify(decideStore({}, request())), /is unknown/);
    assert.match(JSON.stringify(decideStore({ claim: open({ owner: 'wf-b' }) }, request())), /belongs to another owner/);
  });

  it('refuses a claim made for another user, kind or scope', () => {
    const decision = decideStore({ claim: open() }, request({ key: { ...key, scope: 'device-1' } }));
    assert.equal(decision.action, 'lost');
  });
});
