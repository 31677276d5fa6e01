/**
 * The normalised enrollment event: what the provider needs from a UEM Event Notification,
 * independent of whether UEM sent JSON or XML, new or legacy field formats.
 */
export interface EnrollmentEvent {
  /** UEM's EnrollmentUserUUID (lower case). With deviceUuid, the identity of one workflow. */
  enrollmentUserUuid: string;
  /** UEM's DeviceUUID (lower case). */
  deviceUuid: string;
  /** UEM's numeric EnrollmentUserId, as a string (v1 user look-up uses it). */
  enrollmentUserId?: string;
  /** UEM's numeric DeviceId, as a string. */
  deviceId?: string;
  /** EnrollmentEmailAddress when UEM sent a non-empty one. */
  email?: string;
  /** EnrollmentUserName. */
  userName?: string;
  /** DeviceFriendlyName, shown in the workflow summary. */
  deviceName?: string;
  /** Platform as UEM names it: Apple, Android, WinRT, ... */
  platform?: string;
  /** OperatingSystem version. */
  os?: string;
  /** When UEM says the enrollment happened, ISO 8601 (UTC). The 12.5-day window counts from here. */
  eventTime: string;
  /** UEM's EventId (an event type code, not unique per event). */
  eventId?: string;
  /** OrganizationGroupName. */
  organizationGroup?: string;
}

/** The two S/MIME credentials a UEM S/MIME profile can ask for. */
export type CredentialKind = 'signing' | 'encryption';
export const CREDENTIAL_KINDS: readonly CredentialKind[] = ['signing', 'encryption'];

/** Workflow ID for an enrollment: stable for (user, device), so a duplicate event joins the open run. */
export function provisioningWorkflowId(enrollmentUserUuid: string, deviceUuid: string): string {
  return `smime-${enrollmentUserUuid}-${deviceUuid}`.toLowerCase();
}

/** A provisioning workflow ID: the API's path parameter and its OpenAPI pattern are this regex. */
export const WORKFLOW_ID_PATTERN =
  /^smime-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** The (user, device) pair a provisioning workflow ID stands for, or undefined if it is not one. */
export function parseProvisioningWorkflowId(
  workflowId: string,
): { enrollmentUserUuid: string; deviceUuid: string } | undefined {
  const match = WORKFLOW_ID_PATTERN.exec(workflowId);
  if (!match) return undefined;
  return { enrollmentUserUuid: match[1]!, deviceUuid: match[2]! };
}

/** A UUID in any case, as UEM writes it: the webhook, the API and its OpenAPI document check this one. */
export const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
