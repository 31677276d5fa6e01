/**
 * Workflow interceptors: the worker trusts only what it encrypted. A payload the codec refused
 * (not encrypted under CODEC_KEYS, e.g. `temporal workflow start --input '{…}'` by someone who can
 * write to the namespace; see src/temporal/refused-payload.ts) arrives here as a sentinel, and:
 *
 * - workflow input: the run fails at once, non-retryable `UnencryptedPayload`, before anything
 *   is issued (no activity has been scheduled yet);
 * - a signal: dropped with a warning (the run carries on as if it had not been sent);
 * - a query or an update: refused;
 * - an activity result (an activity completed by someone else's hands): the call fails with the
 *   same non-retryable failure, so the workflow never acts on it.
 *
 * Registered by worker.ts (`interceptors.workflowModules`), by the replay tool and by the test
 * bundle, so replays see the same code.
 */
import {
  log,
  type ActivityInput,
  type LocalActivityInput,
  type Next,
  type QueryInput,
  type SignalInput,
  type UpdateInput,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptorsFactory,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import { isRefusedPayload, refusalFailure } from '../temporal/refused-payload';

class RefuseUnencryptedInbound implements WorkflowInboundCallsInterceptor {
  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const refused = input.args.find(isRefusedPayload);
    if (refused) throw refusalFailure(refused, 'workflow input');
    return next(input);
  }

  async handleSignal(input: SignalInput, next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>): Promise<void> {
    const refused = input.args.find(isRefusedPayload);
    if (refused) {
      log.warn('signal dropped: its payload was not encrypted under CODEC_KEYS', { signalName: input.signalName, encoding: refused.encoding });
      return;
    }
    return next(input);
  }

  async handleQuery(input: QueryInput, next: Next<WorkflowInboundCallsInterceptor, 'handleQuery'>): Promise<unknown> {
    const refused = input.args.find(isRefusedPayload);
    if (refused) throw refusalFailure(refused, `query "${input.queryName}" argument`);
    return next(input);
  }

  validateUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'validateUpdate'>): void {
    const refused = input.args.find(isRefusedPayload);
    if (refused) throw refusalFailure(refused, `update "${input.name}" argument`);
    next(input);
  }

  async handleUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>): Promise<unknown> {
    const refused = input.args.find(isRefusedPayload);
    if (refused) throw refusalFailure(refused, `update "${input.name}" argument`);
    return next(input);
  }
}

class RefuseUnencryptedResults implements WorkflowOutboundCallsInterceptor {
  async scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>): Promise<unknown> {
    return refuseResult(await next(input), `result of activity ${input.activityType}`);
  }

  async scheduleLocalActivity(input: LocalActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>): Promise<unknown> {
    return refuseResult(await next(input), `result of local activity ${input.activityType}`);
  }
}

function refuseResult(result: unknown, what: string): unknown {
  if (isRefusedPayload(result)) throw refusalFailure(result, what);
  return result;
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [new RefuseUnencryptedInbound()],
  outbound: [new RefuseUnencryptedResults()],
});
