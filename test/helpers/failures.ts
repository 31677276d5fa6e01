import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';

/** The typed failure a call must end in (fails the test if it succeeds or throws something else). */
export async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => assert.fail('expected the call to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
  return err;
}

/** As failureOf, and the failure has this type and retryability. */
export async function failsWith(promise: Promise<unknown>, type: string, nonRetryable: boolean): Promise<ApplicationFailure> {
  const err = await failureOf(promise);
  assert.equal(err.type, type, err.message);
  assert.equal(err.nonRetryable, nonRetryable, `nonRetryable of ${err.type}: ${err.message}`);
  return err;
}
