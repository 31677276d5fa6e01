/**
 * GET /v1/credentials: the credential register (one row per credential the provider requested for
 * a device, kept for as long as the deployment lives), filtered and paged. Public facts only: the
 * register's private keys and CSRs never leave it.
 */
import { z } from 'zod';
import { REGISTER_STATES } from '../../activities/register/credential-register';
import type { CredentialKind } from '../../domain/enrollment';
import { DateTime, RunId, sameShape, Uuid, UuidInput, WorkflowId } from './common';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './enrollments';

const CREDENTIAL_KINDS = ['signing', 'encryption'] as const;
sameShape<(typeof CREDENTIAL_KINDS)[number], CredentialKind>(true);

/** `<position>.<check>`: where the next page starts, and a check value over it and the filters. */
export const CREDENTIAL_PAGE_TOKEN_PATTERN = /^[0-9]{1,15}\.[A-Za-z0-9_-]{16}$/;

/**
 * An instant with its offset (2027-03-01T00:00:00Z, …+01:00), as the register compares it: UTC,
 * milliseconds, years 0001-9999 (the register compares text, and toISOString writes other years
 * with a sign).
 */
export const InstantInput = DateTime.refine((value) => {
  const year = new Date(value).getUTCFullYear();
  return year >= 1 && year <= 9999;
}, 'must fall in the years 0001-9999 (UTC)').transform((value) => new Date(value).toISOString());

export const ListCredentialsQuery = z.strictObject({
  deviceUuid: UuidInput.optional(),
  userUuid: UuidInput.optional().meta({ description: 'EnrollmentUserUUID' }),
  state: z.enum(REGISTER_STATES).optional().meta({
    description:
      'active: the device holds it; superseded: a newer one of the same kind replaced it; revoked; removed: the device left; ' +
      'requested, pending, issued: on its way; abandoned: the run ended without delivering it',
  }),
  expiringBefore: InstantInput.optional().meta({ description: 'notAfter strictly before this instant (ISO 8601 with Z or an offset)' }),
  pageSize: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
  pageToken: z.string().regex(CREDENTIAL_PAGE_TOKEN_PATTERN, 'not a page token').optional().meta({ description: 'nextPageToken of the previous page (with the same filters)' }),
});
export type ListCredentialsQuery = z.output<typeof ListCredentialsQuery>;

export const CredentialItem = z
  .strictObject({
    id: Uuid.meta({ description: "The register's id of the row" }),
    kind: z.enum(CREDENTIAL_KINDS),
    state: z.enum(REGISTER_STATES),
    stateReason: z.string().optional().meta({ description: 'Why the state last changed (e.g. replaced by a renewal, device unenrolled)' }),
    serialNumber: z.string().optional().meta({ description: 'Lower-case hex; absent until the certificate is issued' }),
    thumbprintSha256: z.string().optional().meta({ description: 'SHA-256 of the DER certificate, lower-case hex' }),
    notAfter: DateTime.optional(),
    enrollmentUserUuid: Uuid,
    deviceUuid: Uuid,
    deviceId: z.string().optional().meta({ description: "UEM's numeric device id, when the enrollment named it" }),
    platform: z.string().optional(),
    email: z.string().meta({ description: 'The address the certificate is for; masked (m***@example.test) for viewers' }),
    escrowId: z.string().optional().meta({ description: "Shared (encryption) credentials: the user's escrowed credential this row delivered" }),
    gateway: z.string().optional().meta({ description: 'The credential gateway it was delivered to (ceg, uem-direct, …)' }),
    deliveredAt: DateTime.optional(),
    workflowId: WorkflowId,
    runId: RunId,
    createdAt: DateTime,
    updatedAt: DateTime,
  })
  .meta({ id: 'Credential', description: 'One credential in the register: public facts only (never a private key or CSR)' });
export type CredentialItem = z.output<typeof CredentialItem>;

export const CredentialList = z
  .strictObject({
    items: z.array(CredentialItem).meta({ description: 'Newest first' }),
    nextPageToken: z.string().nullable().meta({ description: 'Pass as pageToken for the next page; null on the last page' }),
  })
  .meta({ id: 'CredentialList' });
export type CredentialList = z.output<typeof CredentialList>;
