/**
 * The Temporal floor: a workflow with provisionSmime's shape on a first delivery and none of its
 * work, no timers — so what it costs is what Temporal itself costs for one enrollment on this
 * server and worker. The shape (11 activities):
 *
 *   resolveUser ─▶ ┬ encryption: claimSharedCredential ─▶ generateKeyPair ─▶ requestCertificate ┬▶ escrowCredential ─▶ encryptCredential ×2 ─▶ uploadCredential ×2
 *                  └ signing:                             generateKeyPair ─▶ requestCertificate ┘     (parallel pairs)
 *
 * The bench counts the activities in a delivered provisionSmime history and warns when they differ.
 *
 * With `stageUpserts` it also writes the same search-attribute upserts provisionSmime writes on
 * its way to Delivered (one per stage, four attributes each), which prices that design choice.
 */
import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import { searchAttributes } from '../../src/workflows/definitions';
import type { FloorActivities } from './activities';

export interface FloorInput {
  stageUpserts: boolean;
}

const activities = proxyActivities<FloorActivities>({
  startToCloseTimeout: '2m',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 4 },
});

const KINDS = ['signing', 'encryption'] as const;

export async function floorWorkflow(input: FloorInput): Promise<string> {
  const enter = (name: string, n: number) => {
    if (!input.stageUpserts) return;
    upsertSearchAttributes([
      { key: searchAttributes.stage, value: name },
      { key: searchAttributes.attempt, value: n },
      { key: searchAttributes.deviceUuid, value: 'floor-device' },
      { key: searchAttributes.enrollmentUserUuid, value: 'floor-user' },
    ]);
  };
  enter('Received', 0);
  enter('ResolvingUser', 1);
  const user = await activities.resolveUser();
  enter('RequestingCertificate', 1);
  await Promise.all(
    KINDS.map(async (kind) => {
      if (kind === 'encryption') await activities.claimSharedCredential(kind);
      await activities.generateKeyPair(kind);
      await activities.requestCertificate(kind);
    }),
  );
  enter('Encrypting', 1);
  await activities.escrowCredential('encryption');
  await Promise.all(KINDS.map((kind) => activities.encryptCredential(kind)));
  enter('Uploading', 1);
  await Promise.all(KINDS.map((kind) => activities.uploadCredential(kind)));
  enter('Delivered', 1);
  return user;
}
