/**
 * The management API's operations on the fleet: the credential register (/v1/credentials) and the
 * sweeps — backfill, reconciliation, renewal on demand — under /v1/backfills, /v1/reconciliations
 * and /v1/renewals: start (202 + Location), look at, list, cancel.
 */
import { z } from 'zod';
import { isSweepId } from '../../temporal/fleet';
import { SWEEP_ID_PREFIX, type SweepKind } from '../../workflows/fleet-definitions';
import { defineOperation, JSON_BODY_PROBLEMS, TEMPORAL_UNAVAILABLE } from '../openapi/operation';
import { CredentialList, ListCredentialsQuery } from '../schemas/credentials';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PAGE_TOKEN_PATTERN } from '../schemas/enrollments';
import {
  BackfillList,
  BackfillView,
  ReconciliationList,
  ReconciliationView,
  RenewalList,
  RenewalView,
  StartBackfillRequest,
  StartReconciliationRequest,
  StartRenewalRequest,
  SweepCancelAccepted,
  SweepStarted,
} from '../schemas/fleet';

const DATABASE_UNAVAILABLE = 'The provider database (the credential register) is unreachable: nothing was read; repeat later';

export const listCredentials = defineOperation({
  operationId: 'listCredentials',
  method: 'get',
  path: '/v1/credentials',
  tag: 'management',
  summary: 'List credentials in the register (newest first): which device holds which certificate, expiring when',
  description:
    'The credential register outlives Temporal\'s visibility: it keeps every credential requested for a device, its state and its expiry, for as long ' +
    'as the deployment lives. `expiringBefore` with `state=active` answers "what expires when". viewer: `email` is masked (m***@example.test).',
  access: 'viewer',
  query: ListCredentialsQuery,
  responses: { 200: { description: 'One page', schema: CredentialList } },
  problems: { badRequest: 'The page token is not valid for these filters', invalidField: 'A filter is not valid', databaseUnavailable: DATABASE_UNAVAILABLE },
});

const ListSweepsQuery = z.strictObject({
  pageSize: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
  pageToken: z.string().regex(PAGE_TOKEN_PATTERN, 'not a page token').max(8192).optional().meta({ description: 'nextPageToken of the previous page' }),
});

const KIND_WORDS: Record<SweepKind, { noun: string; plural: string; path: string; title: string }> = {
  backfill: { noun: 'backfill', plural: 'backfills', path: '/v1/backfills', title: 'Backfill' },
  reconcile: { noun: 'reconciliation', plural: 'reconciliations', path: '/v1/reconciliations', title: 'Reconciliation' },
  renewal: { noun: 'renewal', plural: 'renewals', path: '/v1/renewals', title: 'Renewal' },
};

/** A sweep id of this kind, or 404 without asking Temporal (the API reaches no other workflow). */
function sweepIdParams(kind: SweepKind) {
  const prefix = SWEEP_ID_PREFIX[kind];
  const scheduled = kind === 'reconcile' ? ', or smime-reconcile-<task queue>-<time> (a run of the reconcile Schedule)' : '';
  return z.strictObject({
    id: z
      .string()
      .max(300)
      .regex(new RegExp(`^${prefix}`), `not a ${KIND_WORDS[kind].noun} id`)
      .refine((id) => isSweepId(kind, id), `not a ${KIND_WORDS[kind].noun} id`)
      .meta({ description: `${prefix}<uuid>${scheduled}` }),
  });
}

function sweepOperations<const K extends SweepKind, const Start extends z.ZodType, const View extends z.ZodType, const List extends z.ZodType>(
  kind: K,
  shapes: { start: Start; startRequired: boolean; startSummary: string; startDescription: string; view: View; list: List; cancelSummary: string },
) {
  const { noun, plural, path, title } = KIND_WORDS[kind];
  const idParams = sweepIdParams(kind);
  const notFound = `No such ${noun}`;
  return {
    start: defineOperation({
      operationId: `start${title}`,
      method: 'post',
      path: path as `/${string}`,
      tag: 'management',
      summary: shapes.startSummary,
      description: shapes.startDescription,
      access: 'operator',
      body: { schema: shapes.start, required: shapes.startRequired },
      responses: { 202: { description: 'Started; follow it at Location', schema: SweepStarted, headers: { Location: { description: `The new ${noun}`, schema: z.string() } } } },
      problems: { ...JSON_BODY_PROBLEMS, unavailable: TEMPORAL_UNAVAILABLE },
    }),
    list: defineOperation({
      operationId: `list${title}s`,
      method: 'get',
      path: path as `/${string}`,
      tag: 'management',
      summary: `List ${plural}, newest first (Temporal visibility: as long as the namespace retention keeps closed ones)`,
      access: 'viewer',
      query: ListSweepsQuery,
      responses: { 200: { description: 'One page', schema: shapes.list } },
      problems: { badRequest: 'The page token is not valid', invalidField: 'A parameter is not valid', unavailable: TEMPORAL_UNAVAILABLE },
    }),
    get: defineOperation({
      operationId: `get${title}`,
      method: 'get',
      path: `${path}/{id}` as `/${string}`,
      tag: 'management',
      summary: `One ${noun}: state and counts (from its last page; readable without a worker)`,
      description: 'viewer: free text (a renewal\'s reason, a failure\'s message) reads "(shown to operators only)".',
      access: 'viewer',
      params: idParams,
      responses: { 200: { description: `The ${noun}`, schema: shapes.view } },
      problems: { notFound, unavailable: TEMPORAL_UNAVAILABLE },
    }),
    cancel: defineOperation({
      operationId: `cancel${title}`,
      method: 'post',
      path: `${path}/{id}/cancel` as `/${string}`,
      tag: 'management',
      summary: shapes.cancelSummary,
      access: 'operator',
      params: idParams,
      responses: { 202: { description: 'Cancellation requested; the state turns Cancelled', schema: SweepCancelAccepted } },
      problems: { notFound, conflict: `The ${noun} has already ended`, unavailable: TEMPORAL_UNAVAILABLE },
    }),
  };
}

export const backfill = sweepOperations('backfill', {
  start: StartBackfillRequest,
  startRequired: true,
  startSummary: 'Start a backfill: S/MIME for devices enrolled before it was turned on',
  startDescription:
    "Pages through UEM's inventory (a smart group's devices, or all) and starts provisioning for each enrolled device that holds no active credential " +
    'and has no open run, at no more than ratePerSecond. Running it again starts nothing for devices already done.',
  view: BackfillView,
  list: BackfillList,
  cancelSummary: 'Stop a backfill after its current page; the provisioning runs it started go on',
});

export const reconciliation = sweepOperations('reconcile', {
  start: StartReconciliationRequest,
  startRequired: false,
  startSummary: 'Run a reconciliation now (the reconcile Schedule runs one every RECONCILE_EVERY)',
  startDescription:
    'Starts S/MIME for devices UEM has and the register says hold nothing (events UEM never sent), retires the credentials of devices UEM no longer ' +
    'lists (unless more than RECONCILE_RETIRE_LIMIT percent would go: see notes) and renews what expires within RENEW_BEFORE.',
  view: ReconciliationView,
  list: ReconciliationList,
  cancelSummary: 'Stop a reconciliation after its current page; runs it started go on',
});

export const renewal = sweepOperations('renewal', {
  start: StartRenewalRequest,
  startRequired: true,
  startSummary: 'Renew credentials on demand (CA key compromise, profile change, domain rename)',
  startDescription:
    'Starts a renewal run for every device holding an active credential that the selector chooses, at no more than ratePerSecond: a new signing key ' +
    'and certificate, the encryption credential per the escrow rule (re-issued for whole users), delivered to the gateway, the profile re-installed ' +
    "through UEM (UEM_SMIME_PROFILE_ID) or one notice naming the devices to re-push, the superseded signing certificate revoked after delivery.",
  view: RenewalView,
  list: RenewalList,
  cancelSummary: 'Stop a renewal after its current page; renewal runs it started go on',
});

export const fleetOperations = [
  listCredentials,
  backfill.start,
  backfill.list,
  backfill.get,
  backfill.cancel,
  reconciliation.start,
  reconciliation.list,
  reconciliation.get,
  reconciliation.cancel,
  renewal.start,
  renewal.list,
  renewal.get,
  renewal.cancel,
];
