/**
 * UEM Event Notification payload → the provider's normalised event. Pure: no I/O, no clock.
 *
 * Real tenants send many variants: JSON or XML (root `Eventlog`), event types with or without
 * spaces, EventTime with 5 or 7 fractional digits or as `/Date(ms)/`, ids as numbers or strings,
 * empty emails, fields this code has never heard of.
 * So the parser is tolerant about everything the provider does not need and strict only about
 * what it does: the event type, the two UUIDs that identify the workflow, and EventTime.
 */
import { TextDecoder } from 'node:util';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { UUID_PATTERN, type EnrollmentEvent } from '../../domain/enrollment';
import { parseEventTime } from './event-time';

export type PayloadFormat = 'json' | 'xml';

/** What an event asks the provider to do. */
export type UemEventKind = 'enrollment' | 'unenrollment' | 'other';

export type NormalisedUemEvent =
  | { kind: 'enrollment'; eventType: string; event: EnrollmentEvent; warnings: string[] }
  | {
      kind: 'unenrollment';
      eventType: string;
      deviceUuid: string;
      /** Absent when UEM did not say; the caller then looks the device's runs up instead. */
      enrollmentUserUuid?: string;
      eventTime?: string;
      warnings: string[];
    }
  | { kind: 'other'; eventType: string; deviceUuid?: string; warnings: string[] };

/** A payload the webhook refuses; `status` is the HTTP answer (never a 5xx: this is bad input). */
export class UemEventError extends Error {
  override readonly name = 'UemEventError';
  constructor(
    readonly status: 400 | 415 | 422,
    message: string,
    /** The offending UEM field, for 422. */
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Event types compared without case, spaces, dashes or underscores (older tenants: `BreakMDMConfirmed`). */
const ENROLLMENT_TYPES = new Set(['mdmenrollmentcomplete', 'enrollmentcomplete']);
const UNENROLLMENT_TYPES = new Set([
  'breakmdmconfirmed',
  'enterprisewipe',
  'enterprisewiperequested',
  'deviceenterprisewipe',
  'deviceenterprisewiperequested',
  'devicewipe',
  'devicewiperequested',
  'devicedelete',
  'devicedeleted',
  'devicedeleterequested',
  'deletedevice',
]);

export function eventTypeKey(eventType: string): string {
  return eventType.replace(/[\s_-]+/g, '').toLowerCase();
}

export function classifyEventType(eventType: string): UemEventKind {
  const key = eventTypeKey(eventType);
  if (ENROLLMENT_TYPES.has(key)) return 'enrollment';
  if (UNENROLLMENT_TYPES.has(key)) return 'unenrollment';
  return 'other';
}

/** The payload format a Content-Type announces, or undefined for one the webhook does not take. */
export function payloadFormat(contentType: string | undefined): PayloadFormat | undefined {
  const mediaType = parseContentType(contentType)?.mediaType;
  if (!mediaType) return undefined;
  if (mediaType === 'application/json' || mediaType === 'text/json' || /^application\/[\w.+-]+\+json$/.test(mediaType)) return 'json';
  if (mediaType === 'application/xml' || mediaType === 'text/xml' || /^application\/[\w.+-]+\+xml$/.test(mediaType)) return 'xml';
  return undefined;
}

export function parseUemEvent(contentType: string | undefined, body: Buffer | string): NormalisedUemEvent {
  const format = payloadFormat(contentType);
  if (!format) throw new UemEventError(415, `Content-Type ${contentType ? `"${contentType}"` : '(none)'} is not accepted: send application/json or application/xml`);
  const text = typeof body === 'string' ? body : decodeBody(body, parseContentType(contentType)?.charset);
  if (text.trim() === '') throw new UemEventError(400, 'the request body is empty');
  const fields = format === 'json' ? fieldsFromJson(text) : fieldsFromXml(text);
  return normalise(fields);
}

// --- body decoding --------------------------------------------------------------------------

function parseContentType(contentType: string | undefined): { mediaType: string; charset?: string } | undefined {
  if (!contentType) return undefined;
  const [type, ...params] = contentType.split(';');
  const mediaType = type!.trim().toLowerCase();
  if (!mediaType) return undefined;
  let charset: string | undefined;
  for (const param of params) {
    const match = /^\s*charset\s*=\s*"?([^";\s]+)"?\s*$/i.exec(param);
    if (match) charset = match[1]!.toLowerCase();
  }
  return { mediaType, charset };
}

function decodeBody(body: Buffer, charset = 'utf-8'): string {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset, { fatal: true });
  } catch {
    throw new UemEventError(415, `charset "${charset}" is not supported`);
  }
  try {
    // TextDecoder drops a leading byte-order mark itself.
    return decoder.decode(body);
  } catch {
    throw new UemEventError(400, `the body is not valid ${charset}`);
  }
}

// --- JSON and XML → a flat, case-insensitive field map ----------------------------------------

type Fields = Map<string, unknown>;

function fieldMap(record: Record<string, unknown>): Fields {
  const fields: Fields = new Map();
  for (const [key, value] of Object.entries(record)) {
    const name = key.toLowerCase();
    if (!fields.has(name)) fields.set(name, value);
  }
  return fields;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fieldsFromJson(text: string): Fields {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new UemEventError(400, `the body is not valid JSON: ${(e as Error).message}`);
  }
  if (!isRecord(parsed)) throw new UemEventError(400, 'the JSON body must be an object');
  // Some integrations wrap the event the way the XML form does: {"Eventlog": {...}}.
  const keys = Object.keys(parsed);
  if (keys.length === 1 && keys[0]!.toLowerCase() === 'eventlog' && isRecord(parsed[keys[0]!])) {
    return fieldMap(parsed[keys[0]!] as Record<string, unknown>);
  }
  return fieldMap(parsed);
}

const xmlParser = new XMLParser({
  // No entity expansion and no DTD processing at all: a DOCTYPE is refused before parsing, and the
  // five predefined entities and character references are decoded by hand, in one pass.
  processEntities: false,
  htmlEntities: false,
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

function fieldsFromXml(text: string): Fields {
  if (/<!DOCTYPE/i.test(text) || /<!ENTITY/i.test(text)) {
    throw new UemEventError(400, 'XML with a DOCTYPE or entity declarations is not accepted');
  }
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new UemEventError(400, `the body is not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`);
  let parsed: unknown;
  try {
    parsed = xmlParser.parse(text);
  } catch (e) {
    throw new UemEventError(400, `the body is not well-formed XML: ${(e as Error).message}`);
  }
  if (!isRecord(parsed)) throw new UemEventError(400, 'the XML body has no root element');
  const roots = Object.keys(parsed);
  if (roots.length !== 1 || roots[0]!.toLowerCase() !== 'eventlog') {
    throw new UemEventError(400, `the XML root element must be Eventlog (got ${roots.join(', ') || 'none'})`);
  }
  const root = parsed[roots[0]!];
  if (!isRecord(root)) return new Map(); // <Eventlog/>: no fields; normalise names what is missing
  const fields: Fields = new Map();
  for (const [key, value] of Object.entries(root)) {
    const name = key.toLowerCase();
    if (fields.has(name)) continue;
    // A repeated element becomes an array: the first one counts. Nested elements are not ours.
    const first = Array.isArray(value) ? value[0] : value;
    fields.set(name, typeof first === 'string' ? decodeXmlText(first) : first);
  }
  return fields;
}

const PREDEFINED_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** The five XML entities and numeric character references, replaced once (never recursively). */
function decodeXmlText(text: string): string {
  return text.replace(/&(lt|gt|amp|quot|apos|#\d{1,7}|#x[0-9a-fA-F]{1,6});/g, (whole, name: string) => {
    if (name[0] !== '#') return PREDEFINED_ENTITIES[name]!;
    const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
    return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : whole;
  });
}

// --- fields → event -----------------------------------------------------------------------------

function normalise(fields: Fields): NormalisedUemEvent {
  const warnings: string[] = [];
  const eventType = text(fields, 'EventType');
  if (!eventType) throw new UemEventError(422, 'EventType is missing', 'EventType');
  const kind = classifyEventType(eventType);

  if (kind === 'other') {
    const deviceUuid = optionalUuid(fields, 'DeviceUUID', () => undefined);
    return { kind, eventType, deviceUuid, warnings };
  }

  if (kind === 'unenrollment') {
    const deviceUuid = requiredUuid(fields, 'DeviceUUID');
    const enrollmentUserUuid = optionalUuid(fields, 'EnrollmentUserUUID', (message) => {
      throw new UemEventError(422, message, 'EnrollmentUserUUID');
    });
    const eventTime = optionalEventTime(fields);
    return { kind, eventType, deviceUuid, enrollmentUserUuid, eventTime, warnings };
  }

  const enrollmentUserUuid = requiredUuid(fields, 'EnrollmentUserUUID');
  const deviceUuid = requiredUuid(fields, 'DeviceUUID');
  const eventTime = optionalEventTime(fields);
  if (!eventTime) throw new UemEventError(422, 'EventTime is missing', 'EventTime');

  const rawEmail = text(fields, 'EnrollmentEmailAddress');
  let email: string | undefined;
  if (rawEmail) {
    if (looksLikeEmail(rawEmail)) email = rawEmail;
    else warnings.push('EnrollmentEmailAddress is not an email address; the user will be looked up');
  }

  const event: EnrollmentEvent = {
    enrollmentUserUuid,
    deviceUuid,
    eventTime,
    ...defined({
      enrollmentUserId: id(fields, 'EnrollmentUserId'),
      deviceId: id(fields, 'DeviceId'),
      email,
      userName: text(fields, 'EnrollmentUserName'),
      deviceName: text(fields, 'DeviceFriendlyName'),
      platform: text(fields, 'Platform'),
      os: text(fields, 'OperatingSystem'),
      eventId: id(fields, 'EventId'),
      organizationGroup: text(fields, 'OrganizationGroupName'),
    }),
  };
  return { kind, eventType, event, warnings };
}

/**
 * Free text: trimmed, NFC, without control characters and without bidi overrides (a device name
 * must not be able to reorder what an operator reads in a summary); empty → undefined.
 */
function text(fields: Fields, name: string): string | undefined {
  const value = fields.get(name.toLowerCase());
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'string') return undefined;
  const cleaned = value
    .normalize('NFC')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ')
    .replace(/[\u202a-\u202e\u2066-\u2069]/g, '')
    .trim();
  return cleaned === '' ? undefined : cleaned;
}

/** Numeric ids arrive as numbers or strings; either way they travel as decimal strings. */
function id(fields: Fields, name: string): string | undefined {
  const value = fields.get(name.toLowerCase());
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value === 'string' && /^\s*\d{1,19}\s*$/.test(value)) return value.trim();
  return undefined;
}

const NIL_UUID = '00000000-0000-0000-0000-000000000000';

function uuidValue(raw: string): string | undefined {
  // .NET sometimes writes a Guid in braces; case varies by tenant.
  const candidate = raw.replace(/^\{(.*)\}$/, '$1');
  if (!UUID_PATTERN.test(candidate)) return undefined;
  const lower = candidate.toLowerCase();
  return lower === NIL_UUID ? undefined : lower;
}

function requiredUuid(fields: Fields, name: string): string {
  const raw = text(fields, name);
  if (!raw) throw new UemEventError(422, `${name} is missing`, name);
  const uuid = uuidValue(raw);
  if (!uuid) throw new UemEventError(422, `${name} is not a UUID`, name);
  return uuid;
}

function optionalUuid(fields: Fields, name: string, onInvalid: (message: string) => undefined): string | undefined {
  const raw = text(fields, name);
  if (!raw) return undefined;
  return uuidValue(raw) ?? onInvalid(`${name} is not a UUID`);
}

function optionalEventTime(fields: Fields): string | undefined {
  const raw = fields.get('eventtime');
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) return undefined;
  const parsed = parseEventTime(raw);
  if (!parsed) throw new UemEventError(422, 'EventTime is not a date and time', 'EventTime');
  return parsed;
}

function looksLikeEmail(value: string): boolean {
  return /^[^\s@]+@[^\s@]+$/.test(value) && value.length <= 320;
}

function defined<T extends Record<string, unknown>>(record: T): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as Partial<T>;
}
