/**
 * The Temporal floor: a workflow with provisionSmime's shape on a first delivery (the lean
 * lifecycle, one step per stage, each for both credential kinds) and none of its work — so what
 * it costs is what Temporal itself costs for one enrollment on this server and worker:
 *
 *   patch marker ─▶ identifyUser ─▶ requestCertificates ─▶ deliverCredentials ─▶ upsert Stage=Delivered
 *
 * The run is started with the same four search attributes the webhook sets (`Received`). The bench
 * counts the activities in a delivered provisionSmime history and warns when they differ.
 */
import { patched, proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import { searchAttributes } from '../../src/workflows/definitions';
import type { FloorActivities } from './activities';

/** provisionSmime's patch id (src/workflows/provision-smime.ts, LEAN_LIFECYCLE): the same marker and the same search attribute. */
const LEAN_LIFECYCLE = 'lean-lifecycle';
const KINDS = ['signing', 'encryption'];

const activities = proxyActivities<FloorActivities>({
  startToCloseTimeout: '3m',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});

export async function floorWorkflow(): Promise<string> {
  patched(LEAN_LIFECYCLE);
  const user = await activities.identifyUser();
  await activities.requestCertificates(KINDS);
  await activities.deliverCredentials(KINDS);
  upsertSearchAttributes([
    { key: searchAttributes.stage, value: 'Delivered' },
    { key: searchAttributes.attempt, value: 1 },
  ]);
  return user;
}
