/**
 * Activities refuse what the worker did not encrypt, as workflows do
 * (src/workflows/refuse-unencrypted.ts): an argument the codec refused fails the activity with a
 * non-retryable `UnencryptedPayload` before its code runs. Defence in depth — the provider's
 * workflows always encrypt — against activity tasks scheduled by someone else on the task queue.
 */
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInterceptorsFactory, Next } from '@temporalio/worker';
import { isRefusedPayload, refusalFailure } from './refused-payload';

class RefuseUnencryptedActivityInput implements ActivityInboundCallsInterceptor {
  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const refused = input.args.find(isRefusedPayload);
    if (refused) throw refusalFailure(refused, 'activity input');
    return next(input);
  }
}

export const refuseUnencryptedActivities: ActivityInterceptorsFactory = () => ({ inbound: new RefuseUnencryptedActivityInput() });
