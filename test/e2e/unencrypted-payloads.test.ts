/**
 * The worker trusts only what it encrypted: the real worker (payload codec, interceptors, real
 * activities, embedded CA) on the dev server, against starts it did not write.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { temporal } from '@temporalio/proto';
import { recordedWorkflowId, replayAll, type ReplayOutcome } from '../../src/cli/replay';
import { providerDataConverter } from '../../src/temporal/data-converter';
import { defaultPolicy } from '../../src/domain/policy';
import { provisioningWorkflowId } from '../../src/domain/enrollment';
import { ensureTemporalCli } from '../../src/tools/temporal-cli';
import { WORKFLOW_TYPE, type ProvisionInput } from '../../src/workflows/definitions';
import { enrollmentEvent } from '../helpers/events';
import { startProviderStack, type ProviderStack } from '../helpers/provider-stack';
import { workflowBundle } from '../helpers/temporal';

const { EventType } = temporal.api.enums.v1;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

describe('the worker refuses payloads it did not encrypt (dev server, real worker)', function () {
  this.timeout(120_000);
  let stack: ProviderStack;
  let cli: string;
  before(async () => {
    [stack, cli] = await Promise.all([startProviderStack(), ensureTemporalCli()]);
  });
  after(async () => stack?.stop());

  async function history(workflowId: string, runId?: string): Promise<HistoryEvent[]> {
    const raw = await stack.env.connection.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId, runId } });
    return raw.history?.events ?? [];
  }

  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /**
   * A failure's message: encoded (encrypted) like every failure message, so read as the codec
   * endpoint reads it (without a context: the worker wrote this one without knowing the workflow).
   */
  async function failureMessage(failure: temporal.api.failure.v1.IFailure): Promise<string> {
    if (!failure.encodedAttributes) return failure.message ?? '';
    const converter = stack.client.options.loadedDataConverter;
    const [decoded] = await converter.payloadCodecs[0]!.decode([failure.encodedAttributes]);
    return converter.payloadConverter.fromPayload<{ message: string }>(decoded!).message;
  }

  const activitiesScheduled = (events: HistoryEvent[]) => events.filter((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED).length;

  it('a plain-JSON `temporal workflow start` of provisionSmime ends Failed with UnencryptedPayload, and nothing is issued', async () => {
    const event = enrollmentEvent({ email: 'ceo@bank.example' });
    const workflowId = provisioningWorkflowId(event.enrollmentUserUuid, event.deviceUuid);
    const input: ProvisionInput = { event, policy: defaultPolicy() };
    const issuedBefore = stack.ca.issued().length;
    const started = spawnSync(cli, [
      'workflow', 'start', '--address', stack.env.address, '--namespace', 'default', '--task-queue', stack.taskQueue,
      '--type', WORKFLOW_TYPE, '--workflow-id', workflowId, '--input', JSON.stringify(input),
    ], { encoding: 'utf8' });
    assert.equal(started.status, 0, started.stderr);

    const failed = await waitFor('the run to fail', async () => {
      const events = await history(workflowId);
      return events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED);
    });
    const failure = failed.workflowExecutionFailedEventAttributes!.failure!;
    assert.equal(failure.applicationFailureInfo?.type, 'UnencryptedPayload');
    assert.equal(failure.applicationFailureInfo?.nonRetryable, true);
    const description = await stack.client.workflow.getHandle(workflowId).describe();
    assert.equal(description.status.name, 'FAILED');
    assert.equal(activitiesScheduled(await history(workflowId)), 0, 'no activity ran');
    assert.equal(stack.ca.issued().length, issuedBefore, 'the CA issued nothing');
    // The message is encoded like every failure message; the provider's client reads it.
    const outcome = await stack.client.workflow.getHandle(workflowId).result().then(() => undefined, (err: Error) => (err.cause as Error | undefined)?.message);
    assert.match(outcome ?? '', /^workflow input arrived unencrypted \(encoding json\/plain\)/);
  });

  it("workflow A's encrypted input copied into a start of workflow B does not decode there: B's first workflow task fails and nothing runs", async () => {
    const a = enrollmentEvent();
    const handleA = await stack.start(a);
    const startedA = (await history(handleA.workflowId))[0]!.workflowExecutionStartedEventAttributes!;
    await handleA.terminate('test: only its input is needed');

    const b = enrollmentEvent();
    const workflowIdB = provisioningWorkflowId(b.enrollmentUserUuid, b.deviceUuid);
    await stack.env.connection.workflowService.startWorkflowExecution({
      namespace: 'default',
      workflowId: workflowIdB,
      workflowType: { name: WORKFLOW_TYPE },
      taskQueue: { name: stack.taskQueue },
      input: startedA.input,
      requestId: randomUUID(),
    });
    try {
      const taskFailed = await waitFor('the workflow task to fail', async () => {
        const events = await history(workflowIdB);
        return events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED);
      });
      assert.match(await failureMessage(taskFailed.workflowTaskFailedEventAttributes!.failure!), new RegExp(`bound to workflow "${handleA.workflowId}" does not authenticate for workflow "${workflowIdB}"`));
      const events = await history(workflowIdB);
      assert.equal(activitiesScheduled(events), 0, 'no activity ran');
      assert.equal((await stack.client.workflow.getHandle(workflowIdB).describe()).status.name, 'RUNNING', 'tampering stalls the run (an operator terminates it)');
    } finally {
      await stack.client.workflow.getHandle(workflowIdB).terminate('test: copied payload').catch(() => undefined);
    }
  });

  it('a recorded history replays under the workflow ID it was recorded for (the replay tool finds it), and fails under another', async () => {
    // Any history the worker made will do: run until it has decoded its input and scheduled an activity.
    const handle = await stack.start(enrollmentEvent());
    await waitFor('an activity', async () => (activitiesScheduled(await history(handle.workflowId)) > 0 ? true : undefined));
    await handle.terminate('test: recorded enough');
    const recorded = await handle.fetchHistory();
    const workflowId = recordedWorkflowId(recorded, 'history.json');
    assert.equal(workflowId, handle.workflowId);
    const options = { workflowBundle: await workflowBundle({ providerFailureConverter: true }), dataConverter: providerDataConverter(stack.codecKeyring), replayName: 'binding' };
    const outcomes: ReplayOutcome[] = [];
    const histories = async function* () {
      yield { workflowId, history: recorded };
      yield { workflowId: 'history.json', history: recorded };
    };
    for await (const outcome of replayAll(options, histories())) outcomes.push(outcome);
    assert.equal(outcomes[0]!.ok, true, outcomes[0]!.error);
    assert.equal(outcomes[1]!.ok, false);
    assert.match(outcomes[1]!.error!, /ReplayError: Replay failed due workflow task failure/); // the codec's message is encoded in it
  });

  it('a schedule whose action has arguments: each scheduled run fails at once with ScheduledWorkflowArguments (scheduled workflows take none)', async () => {
    const event = enrollmentEvent();
    const scheduleId = `test-schedule-${randomUUID()}`;
    const schedule = await stack.client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: '1h' }] },
      action: { type: 'startWorkflow', workflowType: WORKFLOW_TYPE, workflowId: `scheduled-${randomUUID()}`, taskQueue: stack.taskQueue, args: [{ event, policy: defaultPolicy() }] },
      state: { triggerImmediately: true },
    });
    try {
      const run = await waitFor('the scheduled run', async () => {
        const recent = (await schedule.describe()).info.recentActions;
        return recent[0]?.action.workflow;
      });
      assert.match(run.workflowId, /-\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
      const failed = await waitFor('the scheduled run to fail', async () => {
        const events = await history(run.workflowId, run.firstExecutionRunId);
        return events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED);
      });
      assert.equal(failed.workflowExecutionFailedEventAttributes!.failure!.applicationFailureInfo?.type, 'ScheduledWorkflowArguments');
      assert.equal(activitiesScheduled(await history(run.workflowId, run.firstExecutionRunId)), 0);
    } finally {
      await schedule.delete();
    }
  });
});
