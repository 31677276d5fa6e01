import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { checkKey, checkLease, escrowScopeFor, DEFAULT_LEASE_MS, ESCROW_ERRORS, escrowFailure, renewBeforeMs, USER_SCOPE } from '../../../src/activities/escrow/escrow-store';

function invalid(fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => err instanceof ApplicationFailure && err.type === ESCROW_ERRORS.InvalidInput && err.nonRetryable);
}

describe('escrow keys and options', () => {
  it('escrows under the user, or the device when the workflow says so', () => {
    assert.equal(escrowScopeFor('user', 'd-1'), USER_SCOPE);
    assert.equal(escrowScopeFor('device', 'd-1'), 'd-1');
    assert.equal(escrowScopeFor(undefined, 'd-1'), USER_SCOPE, 'inputs recorded before the scope travelled were shared by the user');
  });

  it('accepts a well-formed key and refuses empty, oversized or control-character fields', () => {
    assert.deepEqual(checkKey({ enrollmentUserUuid: 'u', kind: 'signing', scope: 'd' }), { enrollmentUserUuid: 'u', kind: 'signing', scope: 'd' });
    invalid(() => checkKey({ enrollmentUserUuid: '', kind: 'signing', scope: 'd' }));
    invalid(() => checkKey({ enrollmentUserUuid: 'u'.repeat(201), kind: 'signing', scope: 'd' }));
    invalid(() => checkKey({ enrollmentUserUuid: 'u', kind: 'signing', scope: 'd\n' }));
  });

  it('defaults the lease to 15 minutes and refuses nonsense', () => {
    assert.equal(checkLease(undefined), DEFAULT_LEASE_MS);
    assert.equal(DEFAULT_LEASE_MS, 900_000);
    invalid(() => checkLease(0));
    invalid(() => checkLease(1.5));
  });

  it('reads renewBefore from a Date or an ISO string', () => {
    assert.equal(renewBeforeMs('2030-01-01T00:00:00.000Z'), Date.UTC(2030, 0, 1));
    assert.equal(renewBeforeMs(new Date(5)), 5);
    invalid(() => renewBeforeMs('soon'));
  });

  it('makes only EscrowUnavailable retryable', () => {
    assert.equal(escrowFailure(ESCROW_ERRORS.Unavailable, 'x').nonRetryable, false);
    assert.equal(escrowFailure(ESCROW_ERRORS.ClaimLost, 'x').nonRetryable, true);
    assert.equal(escrowFailure(ESCROW_ERRORS.InvalidInput, 'x').nonRetryable, true);
  });
});
