import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import type { EnrollmentEvent } from '../../src/domain/enrollment';
import { provisioningWorkflowId } from '../../src/domain/enrollment';
import { defaultPolicy, type ProvisioningPolicy } from '../../src/domain/policy';
import type { provisionSmime } from '../../src/workflows/provision-smime';
import type { RenewalRequest } from '../../src/workflows/definitions';
import type { FakeActivities } from './fake-activities';
import { workflowBundle } from './temporal';

export interface Run {
  handle: WorkflowHandle<typeof provisionSmime>;
  startedAt: number;
}

/**
 * Run one provisioning workflow on a fresh task queue with the given activities until `body`
 * finishes; the worker stops afterwards, so tests do not leak workers into each other.
 */
export async function withProvisioning<T>(
  env: TestWorkflowEnvironment,
  activities: FakeActivities,
  event: EnrollmentEvent,
  body: (run: Run) => Promise<T>,
  policy: ProvisioningPolicy = defaultPolicy(),
  renewal?: RenewalRequest,
): Promise<T> {
  const taskQueue = `test-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities,
  });
  return worker.runUntil(async () => {
    const startedAt = await env.currentTimeMs();
    const handle = await env.client.workflow.start<typeof provisionSmime>('provisionSmime', {
      taskQueue,
      workflowId: provisioningWorkflowId(event.enrollmentUserUuid, event.deviceUuid),
      args: [{ event, policy, ...(renewal ? { renewal } : {}) }],
    });
    try {
      return await body({ handle, startedAt });
    } finally {
      await handle.terminate('test finished').catch(() => undefined);
    }
  });
}
