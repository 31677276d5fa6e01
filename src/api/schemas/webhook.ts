/**
 * The UEM webhook's shapes. The event body is read by the tolerant parser in
 * `webhook/parse-uem-event.ts` (JSON or XML, field names in any case, braced GUIDs, legacy dates),
 * which checks only what the provider needs with the same UUID regex; `UemEvent` documents the
 * wire form for UEM administrators and fuzzers.
 */
import { z } from 'zod';
import type { CancelOutcome, CancelProvisioningResult, StartOutcome } from '../../temporal/start';
import { RunId, sameShape, Uuid, WorkflowId } from './common';

export const START_OUTCOMES = ['started', 'joined', 'duplicate'] as const;
export const CANCEL_OUTCOMES = ['cancel-requested', 'retire-started', 'already-retired', 'not-running', 'not-found', 'stale'] as const;
sameShape<(typeof START_OUTCOMES)[number], StartOutcome>(true);
sameShape<(typeof CANCEL_OUTCOMES)[number], CancelOutcome>(true);

export const WEBHOOK_OUTCOMES = [...START_OUTCOMES, ...CANCEL_OUTCOMES, 'ignored'] as const;
export type WebhookOutcome = (typeof WEBHOOK_OUTCOMES)[number];

/** UEM sends its numeric ids as numbers or as strings, depending on the tenant. */
const UemNumber = z.union([z.number().int(), z.string()]);

export const UemEvent = z
  .looseObject({
    EventId: UemNumber.optional(),
    EventType: z.string().meta({
      examples: ['MDM Enrollment Complete', 'Enrollment Complete', 'Break MDM Confirmed', 'BreakMDMConfirmed', 'Enterprise Wipe', 'Device Wipe', 'Device Delete'],
    }),
    DeviceUUID: Uuid.optional(),
    EnrollmentUserUUID: Uuid.optional(),
    EventTime: z.union([z.string(), z.number().int()]).optional().meta({
      description: 'ISO 8601 with any number of fractional digits, or the legacy /Date(ms)/',
      examples: ['2026-11-20T09:14:03.5531290Z', '/Date(1763630400000)/'],
    }),
    EnrollmentEmailAddress: z.string().optional().meta({ description: 'May be empty: the user is then looked up in UEM' }),
    EnrollmentUserName: z.string().optional(),
    EnrollmentUserId: UemNumber.optional(),
    DeviceId: UemNumber.optional(),
    DeviceFriendlyName: z.string().optional(),
    Platform: z.string().optional(),
    OperatingSystem: z.string().optional(),
    OrganizationGroupName: z.string().optional(),
  })
  .meta({
    id: 'UemEvent',
    description:
      'A Workspace ONE UEM Event Notification. As JSON, or as XML with root element Eventlog and the same field names. ' +
      'Only EventType, DeviceUUID, EnrollmentUserUUID and EventTime are checked; unknown fields are ignored.',
    xml: { name: 'Eventlog' },
  });

export const WebhookReady = z.strictObject({ status: z.literal('ok'), message: z.string() }).meta({ id: 'WebhookReady' });
export type WebhookReady = z.output<typeof WebhookReady>;

export const CancelResult = z
  .strictObject({ workflowId: WorkflowId, runId: RunId.optional(), outcome: z.enum(CANCEL_OUTCOMES) })
  .meta({ id: 'CancelResult' });
sameShape<z.output<typeof CancelResult>, CancelProvisioningResult>(true);

export const WebhookResult = z
  .strictObject({
    outcome: z.enum(WEBHOOK_OUTCOMES).meta({
      description:
        'started: a new run (202); joined: the open run for this user and device (200); duplicate: this event was handled before (200); ' +
        "cancel-requested (open run cancelled) / retire-started, already-retired (a closed run's credentials removed and its signing certificate revoked) / " +
        'not-running / not-found / stale: an unenrollment (202); ignored: an event type the provider does not act on (202)',
    }),
    eventType: z.string(),
    workflowId: WorkflowId.optional(),
    runId: RunId.optional(),
    workflows: z.array(CancelResult).optional().meta({ description: 'For unenrollments: what happened to each run of the device' }),
    warnings: z.array(z.string()).optional(),
  })
  .meta({ id: 'WebhookResult' });
export type WebhookResult = z.output<typeof WebhookResult>;
