/**
 * Lifecycle stages, in the order a delivery passes through them. The workflow keeps the `Stage`
 * search attribute and the `status` query on one of these, so operators can list by stage.
 */
export const STAGES = [
  'Received',
  'ResolvingUser',
  'RequestingCertificate',
  'AwaitingIssuance',
  'Encrypting',
  'Uploading',
  /** A renewal is at the gateway: the profile is re-installed and what it replaced revoked. */
  'FinishingRenewal',
  'WaitingToRetry',
  'Delivered',
  'Failed',
  'Cancelled',
] as const;

export type Stage = (typeof STAGES)[number];

export const FINAL_STAGES: readonly Stage[] = ['Delivered', 'Failed', 'Cancelled'];

export function isStage(value: string): value is Stage {
  return (STAGES as readonly string[]).includes(value);
}
