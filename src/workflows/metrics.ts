/**
 * The workflow's own metrics, through the SDK's replay-aware meter (nothing is counted twice when
 * a workflow replays). They appear on the worker's Prometheus endpoint next to the SDK's metrics.
 */
import { metricMeter } from '@temporalio/workflow';
import type { Stage } from '../domain/stages';

const completed = metricMeter.createCounter('smime_workflows_completed', 'workflows', 'Provisioning workflows that reached a final stage, by stage and kind (enrollment or renewal)');
const renewalAttemptsFailed = metricMeter.createCounter('smime_renewal_attempts_failed', 'attempts', 'Failed attempts of renewal runs: a renewal falling behind before the old certificate expires');
const eventToDelivered = metricMeter.createHistogram('smime_event_to_delivered', 'float', 'seconds', 'From the UEM EventTime to the last credential delivered');
const attemptsPerDelivery = metricMeter.createHistogram('smime_attempts_per_delivery', 'int', 'attempts', 'Attempts a delivered enrollment needed');

export type RunKind = 'enrollment' | 'renewal';

export function recordCompletion(stage: Extract<Stage, 'Delivered' | 'Failed' | 'Cancelled'>, attempts: number, eventTime: string, kind: RunKind = 'enrollment'): void {
  completed.add(1, { stage, kind });
  if (stage !== 'Delivered') return;
  attemptsPerDelivery.record(attempts);
  const since = Date.parse(eventTime);
  if (Number.isFinite(since)) eventToDelivered.record(Math.max(0, (Date.now() - since) / 1000));
}

export function recordRenewalAttemptFailed(): void {
  renewalAttemptsFailed.add(1);
}
