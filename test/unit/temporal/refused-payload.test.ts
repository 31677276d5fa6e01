import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityExecuteInput } from '@temporalio/worker';
import { refuseUnencryptedActivities } from '../../../src/temporal/activity-interceptors';
import { isRefusedPayload, refusalFailure, refusedPayload, sentinelFor } from '../../../src/temporal/refused-payload';

describe('refused payloads', () => {
  it('a marker carries the reason and the original encoding, never the content', () => {
    const sentinel = sentinelFor(refusedPayload('unencrypted', 'json/plain'));
    assert.deepEqual(sentinel, { smimeRefusedPayload: true, reason: 'unencrypted', encoding: 'json/plain' });
    assert.ok(isRefusedPayload(sentinel));
    assert.equal(sentinelFor({ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('{}') }), undefined);
  });

  it('fails with a non-retryable UnencryptedPayload, or ScheduledWorkflowArguments for a schedule action', () => {
    const unencrypted = refusalFailure({ smimeRefusedPayload: true, reason: 'unencrypted', encoding: 'json/plain' }, 'workflow input');
    assert.equal(unencrypted.type, 'UnencryptedPayload');
    assert.equal(unencrypted.nonRetryable, true);
    assert.match(unencrypted.message, /workflow input arrived unencrypted \(encoding json\/plain\)/);
    const scheduled = refusalFailure({ smimeRefusedPayload: true, reason: 'schedule-arguments', encoding: 'binary/encrypted' }, 'workflow input');
    assert.equal(scheduled.type, 'ScheduledWorkflowArguments');
    assert.equal(scheduled.nonRetryable, true);
  });

  describe('activity interceptor', () => {
    const inbound = refuseUnencryptedActivities({} as never).inbound!;
    const input = (args: unknown[]) => ({ args, headers: {} }) as unknown as ActivityExecuteInput;

    it('fails an activity whose argument was refused, before its code runs', async () => {
      let ran = false;
      await assert.rejects(
        inbound.execute!(input([{ smimeRefusedPayload: true, reason: 'unencrypted', encoding: 'json/plain' }]), async () => {
          ran = true;
        }),
        (err: unknown) => err instanceof ApplicationFailure && err.type === 'UnencryptedPayload' && err.nonRetryable,
      );
      assert.equal(ran, false);
    });

    it('runs every other activity', async () => {
      assert.equal(await inbound.execute!(input([{ kind: 'signing' }]), async () => 'ran'), 'ran');
    });
  });
});
