/**
 * UEM Event Notification payloads as a tenant sends them, JSON or XML (root Eventlog): used by
 * `npm run simulate` and the tests to play UEM's part.
 */
import type { EnrollmentEvent } from '../../domain/enrollment';

export type EventFormat = 'json' | 'xml';

export interface UemPayload {
  contentType: string;
  body: string;
}

/** UEM's field names for an event, in the order UEM writes them. */
export function uemFields(eventType: string, event: EnrollmentEvent, options: { blankEmail?: boolean } = {}): Record<string, string | number> {
  const fields: Record<string, string | number> = { EventId: Number(event.eventId ?? 148), EventType: eventType };
  if (event.deviceId) fields.DeviceId = Number(event.deviceId);
  if (event.deviceName) fields.DeviceFriendlyName = event.deviceName;
  fields.EnrollmentEmailAddress = options.blankEmail ? '' : (event.email ?? '');
  if (event.userName) fields.EnrollmentUserName = event.userName;
  fields.EventTime = dotNetTime(event.eventTime);
  fields.EnrollmentStatus = 'Enrolled';
  if (event.enrollmentUserId) fields.EnrollmentUserId = Number(event.enrollmentUserId);
  if (event.platform) fields.Platform = event.platform;
  if (event.os) fields.OperatingSystem = event.os;
  if (event.organizationGroup) fields.OrganizationGroupName = event.organizationGroup;
  fields.DeviceUUID = event.deviceUuid;
  fields.EnrollmentUserUUID = event.enrollmentUserUuid;
  return fields;
}

export function uemPayload(fields: Record<string, string | number>, format: EventFormat): UemPayload {
  if (format === 'json') return { contentType: 'application/json; charset=utf-8', body: JSON.stringify(fields) };
  const elements = Object.entries(fields).map(([name, value]) => `  <${name}>${escapeXml(String(value))}</${name}>`);
  return { contentType: 'application/xml; charset=utf-8', body: `<?xml version="1.0" encoding="utf-8"?>\n<Eventlog>\n${elements.join('\n')}\n</Eventlog>\n` };
}

export function enrollmentPayload(event: EnrollmentEvent, format: EventFormat, options: { blankEmail?: boolean } = {}): UemPayload {
  return uemPayload(uemFields('MDM Enrollment Complete', event, options), format);
}

/** .NET writes 7 fractional digits: 2026-11-20T09:14:03.5530000Z. */
function dotNetTime(iso: string): string {
  return iso.replace(/\.(\d{3})Z$/, '.$10000Z');
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}
