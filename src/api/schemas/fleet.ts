/**
 * The fleet sweeps' shapes (/v1/backfills, /v1/reconciliations, /v1/renewals): what an operator
 * asks for, and how far a sweep has come. The sweep's own progress type lives in
 * `workflows/fleet-definitions.ts` (the workflow bundle carries no zod); the views here are built
 * from it by ../management/sweep-view.ts.
 */
import { z } from 'zod';
import type { SweepPhase } from '../../workflows/fleet-definitions';
import type { SweepState } from '../../temporal/fleet';
import { DateTime, sameShape, UuidInput, Uuid } from './common';
import { InstantInput } from './credentials';

/** UEM ids are 32-bit integers. */
const MAX_UEM_ID = 2_147_483_647;
/** FLEET_RATE's own ceiling; the worker's FLEET_RATE caps whatever is asked. */
const MAX_RATE_PER_SECOND = 1000;

const SWEEP_STATES = ['Running', 'Completed', 'Failed', 'Cancelled'] as const;
const SWEEP_PHASES = ['enroll', 'scan', 'retire', 'renew', 'settle'] as const;
sameShape<(typeof SWEEP_STATES)[number], SweepState>(true);
sameShape<(typeof SWEEP_PHASES)[number], SweepPhase>(true);

const SmartGroupId = z.number().int().min(1).max(MAX_UEM_ID).meta({ description: "UEM's id of the smart group (the one the S/MIME profile is assigned to)", examples: [42] });
const RatePerSecond = z
  .number()
  .positive()
  .max(MAX_RATE_PER_SECOND)
  .meta({ description: "Provisioning runs started per second at most (default and ceiling: the worker's FLEET_RATE, 40 unless changed)", examples: [10] });
/** Free text that ends up in workflow summaries, notices and logs: one line, printable. */
const Reason = z
  .string()
  .trim()
  .min(1, 'a reason is required')
  .max(200)
  .regex(/^[^\p{Cc}]+$/u, 'must be one line without control characters')
  .meta({ description: 'Why (e.g. "CA key compromise"): in every renewal run, the register and the re-install notice', examples: ['CA key compromise'] });

/** Exactly one of `keys` is present: zod checks it (with a message that names them), the document says it as oneOf. */
function exactlyOne(keys: readonly string[]) {
  return (value: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const given = keys.filter((key) => value[key] !== undefined);
    if (given.length === 1) return;
    ctx.addIssue({
      code: 'custom',
      message: given.length === 0 ? `give one of ${keys.join(', ')}` : `give only one of ${keys.join(', ')} (got ${given.join(' and ')})`,
      path: given.length === 0 ? [] : [given[1]!],
    });
  };
}
const oneOf = (keys: readonly string[]) => keys.map((key) => ({ required: [key] }));

// --- requests ----------------------------------------------------------------------------------

const BACKFILL_SCOPES = ['smartGroupId', 'all'] as const;
export const StartBackfillRequest = z
  .strictObject({
    smartGroupId: SmartGroupId.optional(),
    all: z.literal(true).optional().meta({ description: "All of UEM's enrolled devices" }),
    ratePerSecond: RatePerSecond.optional(),
  })
  .superRefine(exactlyOne(BACKFILL_SCOPES))
  .meta({ id: 'StartBackfillRequest', description: 'Exactly one of smartGroupId and all', oneOf: oneOf(BACKFILL_SCOPES) });

export const StartReconciliationRequest = z
  .strictObject({ smartGroupId: SmartGroupId.optional() })
  .meta({ id: 'StartReconciliationRequest', description: "Optional; without a smart group the worker's RECONCILE_SMART_GROUP_ID (or all devices) applies" });

const RENEWAL_SELECTORS = ['deviceUuid', 'userUuid', 'expiringBefore', 'all'] as const;
export const StartRenewalRequest = z
  .strictObject({
    deviceUuid: UuidInput.optional().meta({ description: "One device's credentials" }),
    userUuid: UuidInput.optional().meta({ description: "Every device of one enrollment user (the user's shared encryption credential is re-issued too)" }),
    expiringBefore: InstantInput.optional().meta({ description: 'Devices holding an active credential whose notAfter is before this instant' }),
    all: z.literal(true).optional().meta({ description: 'Every device holding an active credential' }),
    reason: Reason,
    ratePerSecond: RatePerSecond.optional(),
  })
  .superRefine(exactlyOne(RENEWAL_SELECTORS))
  .meta({ id: 'StartRenewalRequest', description: 'Exactly one of deviceUuid, userUuid, expiringBefore and all, and a reason', oneOf: oneOf(RENEWAL_SELECTORS) });

// --- answers -----------------------------------------------------------------------------------

const SweepId = z.string().meta({ description: 'The sweep\'s workflow id: smime-<kind>-<uuid>, or smime-reconcile-<task queue>-<time> for a scheduled reconcile' });

export const SweepStarted = z.strictObject({ id: SweepId }).meta({ id: 'SweepStarted' });
export type SweepStarted = z.output<typeof SweepStarted>;

export const SweepCancelAccepted = z.strictObject({ id: SweepId, action: z.literal('cancel') }).meta({ id: 'SweepCancelAccepted' });

const Scope = z
  .strictObject({ smartGroupId: SmartGroupId.optional() })
  .meta({ id: 'DeviceScope', description: "Which of UEM's devices: one smart group's, or all (no smartGroupId)" });

const SweepFailure = z
  .strictObject({ type: z.string(), message: z.string() })
  .meta({ id: 'SweepFailure', description: 'Why a Failed sweep failed (innermost error); the message is shown to operators only' });

const count = (description: string) => z.number().int().min(0).meta({ description });

const common = {
  id: SweepId,
  state: z.enum(SWEEP_STATES).meta({ description: 'Running until every page is done; Cancelled after POST …/cancel; Failed when a page could not be done (see failure)' }),
  phase: z.enum(SWEEP_PHASES).optional().meta({ description: 'Where the sweep is (absent until its first page is done)' }),
  startedAt: DateTime,
  updatedAt: DateTime.optional().meta({ description: 'When its last page was done' }),
  closedAt: DateTime.optional(),
  ratePerSecond: z.number().positive().optional().meta({ description: 'The rate it runs at (what was asked, capped by FLEET_RATE)' }),
  runs: z.number().int().min(1).optional().meta({ description: 'Runs of the workflow so far (it continues as new to keep its history small)' }),
  failure: SweepFailure.optional(),
  devicesSeen: count('Devices looked at'),
  started: count('Provisioning runs started'),
  alreadyRunning: count('Devices with an open run, which was joined'),
  failed: count('Devices whose start (or retirement) failed; the next sweep tries them again'),
};

export const BackfillView = z
  .strictObject({
    ...common,
    scope: Scope.optional(),
    alreadyDelivered: count('Devices already holding an active credential'),
    skipped: count('Devices UEM lists but not enrolled, or without an enrollment user'),
  })
  .meta({ id: 'Backfill' });
export type BackfillView = z.output<typeof BackfillView>;

export const ReconciliationView = z
  .strictObject({
    ...common,
    scope: Scope.optional(),
    scheduled: z.boolean().meta({ description: 'Started by the reconcile Schedule (not through the API)' }),
    alreadyDelivered: count('Devices already holding an active credential'),
    skipped: count('Devices UEM lists but not enrolled, or without an enrollment user'),
    retired: count('Devices gone from UEM whose credentials were retired (gateway removal, signing revoked)'),
    renewalsSelected: count('Devices whose credential expires within RENEW_BEFORE, for which a renewal was started or joined'),
    notes: z.array(z.string()).meta({ description: 'What the reconcile chose not to do, and why (e.g. a retirement refused by RECONCILE_RETIRE_LIMIT)' }),
  })
  .meta({ id: 'Reconciliation' });
export type ReconciliationView = z.output<typeof ReconciliationView>;

const RenewalSelectorView = z
  .strictObject({ deviceUuid: Uuid.optional(), userUuid: Uuid.optional(), expiringBefore: DateTime.optional(), all: z.literal(true).optional() })
  .meta({ id: 'RenewalSelector', description: 'Which credentials it re-issues (one of the four)' });

export const RenewalView = z
  .strictObject({
    ...common,
    selector: RenewalSelectorView.optional(),
    reason: z.string().optional().meta({ description: 'As given; "(shown to operators only)" for viewers' }),
    selected: count('Devices whose credentials the selector chose'),
    completed: count('Renewal runs that delivered'),
    running: count('Renewal runs still going (counted once the sweep is settling)'),
    cancelled: count('Renewal runs cancelled (e.g. by an unenrollment)'),
  })
  .meta({
    id: 'Renewal',
    description: 'failed counts devices whose renewal could not be started plus renewal runs that failed; completed, running and cancelled are counted from the runs once every start is done',
  });
export type RenewalView = z.output<typeof RenewalView>;

// --- lists -------------------------------------------------------------------------------------

export const BackfillList = z.strictObject({ items: z.array(BackfillView), nextPageToken: z.string().nullable() }).meta({ id: 'BackfillList' });
export const ReconciliationList = z.strictObject({ items: z.array(ReconciliationView), nextPageToken: z.string().nullable() }).meta({ id: 'ReconciliationList' });
export const RenewalList = z.strictObject({ items: z.array(RenewalView), nextPageToken: z.string().nullable() }).meta({ id: 'RenewalList' });
