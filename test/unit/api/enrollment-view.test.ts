import assert from 'node:assert/strict';
import { HIDDEN_FOR_VIEWERS, maskEmail, viewerView } from '../../../src/api/management/enrollment-view';
import type { EnrollmentView } from '../../../src/api/schemas/enrollments';

const USER = 'b7e8f9a0-1c2d-4e3f-8a9b-0c1d2e3f4a5b';
const DEVICE = '3f6c2d1e-8a4b-4c7d-9e0f-1a2b3c4d5e6f';
const at = '2026-11-30T09:00:00.000Z';
const lastError = { type: 'GatewayUnavailable', message: 'CEG answered 503 for mira.kovac@example.test (mkovac)', at, attempt: 2 };

const full: EnrollmentView = {
  workflowId: `smime-${USER}-${DEVICE}`,
  runId: 'run-1',
  executionStatus: 'FAILED',
  stage: 'Failed',
  attempt: 2,
  enrollmentUserUuid: USER,
  deviceUuid: DEVICE,
  eventTime: at,
  startTime: at,
  summary: 'S/MIME for mkovac (mira.kovac@example.test) on Mira iPhone',
  status: {
    stage: 'WaitingToRetry',
    attempt: 2,
    maxAttempts: 75,
    deadline: at,
    lastError,
    email: 'mira.kovac@example.test',
    enrollmentUserUuid: USER,
    deviceUuid: DEVICE,
    credentials: [{ kind: 'signing', state: 'issued', serial: '0a1b2c', thumbprint: 'ab:cd' }],
  },
  result: { stage: 'Delivered', enrollmentUserUuid: USER, deviceUuid: DEVICE, email: 'mira.kovac@example.test', attempts: 1, deliveredAt: at, credentials: [] },
  failure: { type: 'DeliveryFailed', message: 'gave up on mira.kovac@example.test', reason: 'AttemptsExhausted', attempts: 75, lastError },
};

describe('what a viewer sees of an enrollment', () => {
  it('identifiers, stage, attempts, serials and types stay; addresses are masked, names and messages withheld', () => {
    const seen = viewerView(full);
    const text = JSON.stringify(seen);
    assert.ok(!text.includes('mira.kovac') && !text.includes('mkovac') && !text.includes('Mira iPhone'), text);
    assert.equal(seen.summary, undefined);
    assert.equal(seen.status?.email, 'm***@example.test');
    assert.equal(seen.result?.email, 'm***@example.test');
    assert.equal(seen.status?.lastError?.message, HIDDEN_FOR_VIEWERS);
    assert.equal(seen.status?.lastError?.type, 'GatewayUnavailable');
    assert.equal(seen.failure?.message, HIDDEN_FOR_VIEWERS);
    assert.equal(seen.failure?.lastError?.message, HIDDEN_FOR_VIEWERS);
    assert.equal(seen.failure?.reason, 'AttemptsExhausted');
    assert.deepEqual(seen.status?.credentials, full.status!.credentials);
    assert.equal(seen.enrollmentUserUuid, USER);
    assert.equal(seen.workflowId, full.workflowId);
    assert.equal(full.status!.email, 'mira.kovac@example.test', 'the operator\'s view is not changed');
  });

  it('masks an address to its first character and its domain', () => {
    assert.equal(maskEmail('mira.kovac@example.test'), 'm***@example.test');
    assert.equal(maskEmail('not-an-address'), '***');
  });
});
