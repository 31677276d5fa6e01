/**
 * Every request and answer of the Workspace ONE UEM REST API the provider uses, in one place:
 * paths, the API version (chosen by Accept), query parameters, bodies, and the answers as zod
 * schemas. The provider's UEM clients (src/activities/uem/, the direct-upload gateway) and the
 * UEM simulator (src/peers/uem-sim/) both import it. Where each shape comes from, and which
 * points are documented and which inferred: docs/uem-rest-contract.md.
 *
 * Answers are read tolerantly, because UEM versions differ in field case (v1 PascalCase, the v2
 * System API camelCase, v3 snake_case): a field is found whatever its case and underscores
 * (`emailAddress`, `email_address`, `EmailAddress`), an unexpected type in a field we do not need
 * is ignored, and a blank string or UEM's all-zero GUID counts as absent.
 */
import { z } from 'zod';
import { UUID_PATTERN } from '../../domain/enrollment';

// ------------------------------------------------------------------------------ paths, versions

/** UEM picks the API version from Accept only; the path stays the same across versions. */
export const acceptVersion = (version: 1 | 2): string => `application/json;version=${version}`;

const segment = (value: string | number) => encodeURIComponent(String(value));

export const UEM_PATHS = {
  /** GET, v2: the enrollment user by UUID (camelCase answer, no numeric id). */
  userByUuid: (uuid: string) => `/api/system/users/${segment(uuid)}`,
  /** GET, v1: the enrollment user by numeric id (PascalCase answer with Uuid). */
  userById: (id: string | number) => `/api/system/users/${segment(id)}`,
  /** GET, v1: user search (username, email, ...; page, pagesize). */
  userSearch: '/api/system/users/search',
  /** POST, v1: S/MIME certificates for a user (direct upload). */
  uploadSmimeCerts: (userId: string | number) => `/api/system/users/${segment(userId)}/uploadsmimecerts`,
  /** GET, v2: device search (page, pagesize; at most 500 a page). */
  deviceSearch: '/api/mdm/devices/search',
  /** POST, v1: details of many devices by numeric device id (BulkValues body). */
  devicesById: '/api/mdm/devices/id',
  /** GET, v2: one device by UUID (camelCase answer). */
  deviceByUuid: (uuid: string) => `/api/mdm/devices/${segment(uuid)}`,
  /** GET, v1: every device of a smart group, unpaged, ids only. */
  smartGroupDevices: (smartGroupId: number) => `/api/mdm/smartgroups/${segment(smartGroupId)}/devices`,
  /** POST, v1: (re-)install a profile on one device (DeviceInfo body). */
  profileInstall: (profileId: number) => `/api/mdm/profiles/${segment(profileId)}/install`,
} as const;

export const API_VERSIONS = {
  userByUuid: 2,
  userById: 1,
  userSearch: 1,
  uploadSmimeCerts: 1,
  deviceSearch: 2,
  devicesById: 1,
  deviceByUuid: 2,
  smartGroupDevices: 1,
  profileInstall: 1,
} as const satisfies Record<keyof typeof UEM_PATHS, 1 | 2>;

/** Device search answers at most this many devices a page; a larger pagesize gets this many. */
export const MAX_DEVICE_PAGE_SIZE = 500;
/** User search's default (and our) page size. */
export const USER_SEARCH_PAGE_SIZE = 500;

/** Device search query: 0-based page, pagesize, in device id order (UEM's documented default, sent explicitly). */
export function deviceSearchQuery(page: number, pageSize: number): Record<string, string> {
  return { page: String(page), pagesize: String(Math.min(pageSize, MAX_DEVICE_PAGE_SIZE)), orderby: 'deviceid', sortorder: 'ASC' };
}

export function userSearchQuery(userName: string, page: number): Record<string, string> {
  return { username: userName, page: String(page), pagesize: String(USER_SEARCH_PAGE_SIZE) };
}

// ------------------------------------------------------------------------------ tolerant reading

/** emailAddress, email_address and EmailAddress all fold to `emailaddress`. */
export const foldKey = (key: string): string => key.replace(/_/g, '').toLowerCase();

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isBlank = (value: unknown) => value === undefined || value === null || (typeof value === 'string' && value.trim() === '');

/**
 * An object schema whose keys are found whatever their case and underscores, plus aliases (other
 * names UEM uses for the same field). An exact name wins over an alias; a blank value never hides
 * a filled one. Anything that is not an object reads as an empty one.
 */
export function caseless<T extends z.ZodRawShape>(shape: T, aliases: Record<string, keyof T & string> = {}) {
  const names = new Map<string, { name: string; rank: number }>();
  for (const key of Object.keys(shape)) names.set(foldKey(key), { name: key, rank: 0 });
  for (const [alias, key] of Object.entries(aliases)) if (!names.has(foldKey(alias))) names.set(foldKey(alias), { name: key, rank: 1 });
  return z.preprocess((input) => {
    if (!isRecord(input)) return {};
    const picked: Record<string, { value: unknown; rank: number }> = {};
    for (const [key, value] of Object.entries(input)) {
      const target = names.get(foldKey(key));
      if (!target) continue;
      const rank = target.rank + (isBlank(value) ? 2 : 0);
      const current = picked[target.name];
      if (!current || rank < current.rank) picked[target.name] = { value, rank };
    }
    return Object.fromEntries(Object.entries(picked).map(([name, { value }]) => [name, value]));
  }, z.object(shape));
}

/** A trimmed non-blank string (numbers are written as strings); anything else is absent. */
export const text = z
  .unknown()
  .transform((value): string | undefined => {
    if (typeof value === 'string') return value.trim() === '' ? undefined : value.trim();
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    return undefined;
  })
  .optional();

/** A UUID in lower case; UEM's all-zero GUID (seen in search answers) and anything else are absent. */
export const uuid = text.transform((value) => (value && UUID_PATTERN.test(value) && !/^[0-]+$/.test(value) ? value.toLowerCase() : undefined));

/**
 * A numeric id as a decimal string, from every form UEM writes one in: 66523, "66523",
 * { "Value": 66523 } (v1 EntityId) or { "Id": { "Value": 66523 } } (v1 EntityReference).
 */
export const numericId = z.unknown().transform(readNumericId).optional();

function readNumericId(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? String(value) : undefined;
  if (typeof value === 'string') return /^\s*\d+\s*$/.test(value) && Number(value) > 0 ? String(Number(value)) : undefined;
  if (isRecord(value)) {
    for (const [key, inner] of Object.entries(value)) if (foldKey(key) === 'value' || foldKey(key) === 'id') return readNumericId(inner);
  }
  return undefined;
}

/** A count or page number; absent when it is not a non-negative integer. */
export const count = z
  .unknown()
  .transform((value): number | undefined => {
    const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
    return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
  })
  .optional();

/** A list whose entries are read one by one; a list that is not one reads as empty. */
function list<T extends z.ZodTypeAny>(entry: T) {
  return z
    .unknown()
    .transform((value) => (Array.isArray(value) ? value.map((item) => entry.parse(item) as z.output<T>) : []))
    .optional()
    .transform((value) => value ?? []);
}

// ------------------------------------------------------------------------------ errors

const scalar = z
  .unknown()
  .transform((v) => (typeof v === 'number' || typeof v === 'string' ? v : undefined))
  .optional();

/** UEM's error document: { errorCode, message, activityId }. */
export const uemErrorBody = caseless({ errorCode: scalar, message: text, activityId: text });
export type UemErrorBody = z.output<typeof uemErrorBody>;

// ------------------------------------------------------------------------------ users

/**
 * An enrollment user as every user answer writes it: the v2 read by UUID (camelCase: uuid,
 * userName, emailAddress, displayName), the v1 read by id and v1 search entries (PascalCase: Id,
 * Uuid, UserName, Email, DisplayName). `email` and `emailAddress` are the same field.
 */
export const uemUser = caseless(
  { Id: numericId, Uuid: uuid, UserName: text, Email: text, DisplayName: text, FirstName: text, LastName: text },
  { emailAddress: 'Email', userUuid: 'Uuid' },
);
export type UemUser = z.output<typeof uemUser>;

/** v1 user search: { Users, Page, PageSize, Total }. */
export const uemUserSearch = caseless({ Users: list(uemUser), Page: count, PageSize: count, Total: count });

// ------------------------------------------------------------------------------ devices

/** The user link of a device record (v1 EntityReference): { Id: { Value }, Name, Uuid }. */
const userReference = caseless({ Id: numericId, Name: text, Uuid: uuid });

/**
 * A device as device search and the bulk read write it (v1/v2 PascalCase; v3 snake_case names
 * are aliases). The enrollment user's UUID is `UserId.Uuid`: the top-level `EnrollmentUserUuid`
 * is the all-zero GUID in recorded search answers, so it is only a fallback (v3 fills
 * enrollment_user_uuid).
 */
export const uemDevice = caseless(
  {
    Id: numericId,
    Uuid: uuid,
    SerialNumber: text,
    Udid: text,
    UserName: text,
    UserEmailAddress: text,
    UserId: userReference.optional(),
    EnrollmentUserUuid: uuid,
    EnrollmentStatus: scalar,
    Platform: text,
    DeviceFriendlyName: text,
  },
  { DeviceId: 'Id', DeviceUuid: 'Uuid', EnrollmentUserEmailAddress: 'UserEmailAddress', EnrollmentUserName: 'UserName', PlatformName: 'Platform' },
);
export type UemDevice = z.output<typeof uemDevice>;

/** Device search and the bulk read: { Devices, Page, PageSize, Total } (v3: devices, page, page_size, total). */
export const uemDeviceList = caseless({ Devices: list(uemDevice), Page: count, PageSize: count, Total: count });
export type UemDeviceList = z.output<typeof uemDeviceList>;

/** The v2 read of one device by UUID: camelCase, the user link inside enrollmentInfo. */
export const uemDeviceV2 = caseless({
  Uuid: uuid,
  Id: numericId,
  SerialNumber: text,
  Udid: text,
  PlatformInfo: caseless({ PlatformName: text }).optional(),
  EnrollmentInfo: caseless({ EnrollmentStatus: text, UserName: text, UserEmailAddress: text, EnrollmentUserUuid: uuid }).optional(),
});

/** Smart group devices: { Devices: [{ Id: "123", Name, Model, OSVersion, Username, Platform, Ownership }] }. */
export const uemSmartGroupDevices = caseless({ Devices: list(caseless({ Id: numericId, Name: text, Username: text, Platform: text })) });

/**
 * Whether a device record says the device is enrolled. Search lists every device record,
 * unenrolled ones included (EnrollmentStatus Unenrolled, EnterpriseWipePending, ...). A status
 * we cannot read counts as enrolled: reading a live device as gone would retire its credentials.
 */
export function isEnrolledStatus(status: string | number | undefined): boolean {
  if (typeof status !== 'string') return true;
  return status.replace(/[\s_]/g, '').toLowerCase() === 'enrolled';
}

// ------------------------------------------------------------------------------ request bodies

/** BulkInput: { BulkValues: { Value: ["1", "2"] } }. */
export const bulkInput = caseless({ BulkValues: caseless({ Value: z.array(z.union([z.string(), z.number()]).transform(String)).max(10_000) }) });
export function bulkInputBody(values: readonly (string | number)[]): { BulkValues: { Value: string[] } } {
  return { BulkValues: { Value: values.map(String) } };
}

/** DeviceInfo, the profile install body: one device identifier. */
export const deviceInfo = caseless({
  DeviceId: z.union([z.number().int().positive(), z.string().regex(/^\d+$/).transform(Number)]).optional(),
  SerialNumber: z.string().min(1).max(128).optional(),
  Udid: z.string().min(1).max(128).optional(),
  MacAddress: z.string().min(1).max(64).optional(),
});
export type DeviceInfo = z.output<typeof deviceInfo>;

/** One credential as UEM's Certificate model names it (exact case: the simulator checks it so). */
export const smimeCertificate = z.object({ CertificatePayload: z.string().min(1), Password: z.string() });
export type UemSmimeCertificate = z.infer<typeof smimeCertificate>;
/**
 * UEM's SMIMECertificate model: `Signing`, `Encryption` and `Archived` (a list of the same
 * Certificate shape; the user's earlier certificates). *Documented (SPEC `SMIMECertificate.md`,
 * `smime_certificate.py`)*, with the note that UEM ignores `Archived` "now as the implementation
 * is postponed": sending it does no harm where it is ignored, see docs/uem-direct-upload.md.
 */
export const smimeUploadBody = z.object({ Signing: smimeCertificate.optional(), Encryption: smimeCertificate.optional(), Archived: z.array(smimeCertificate).optional() });
export type UemSmimeUploadBody = z.infer<typeof smimeUploadBody>;

/** The body for one credential; `archived` (earlier encryption credentials, same password) goes with an encryption one only. */
export function smimeUploadBodyFor(kind: 'signing' | 'encryption', pkcs12: Buffer, password: string, archived: Buffer[] = []): UemSmimeUploadBody {
  const certificate: UemSmimeCertificate = { CertificatePayload: pkcs12.toString('base64'), Password: password };
  if (kind === 'signing') {
    if (archived.length > 0) throw new Error('archived certificates go with an encryption certificate only');
    return { Signing: certificate };
  }
  return {
    Encryption: certificate,
    ...(archived.length > 0 ? { Archived: archived.map((file) => ({ CertificatePayload: file.toString('base64'), Password: password })) } : {}),
  };
}

// ------------------------------------------------------------------------------ rate limits

export interface UemRateLimit {
  /** Requests in the window (x-ratelimit-limit). */
  limit?: number;
  /** Requests left in the window (x-ratelimit-remaining). */
  remaining: number;
  /** When the window resets, epoch ms (x-ratelimit-reset, epoch seconds). */
  resetAt?: number;
}

/** UEM's rate-limit headers, when the answer has them. */
export function readRateLimit(header: (name: string) => string | null | undefined, now = Date.now()): UemRateLimit | undefined {
  const number = (name: string) => {
    const value = header(name)?.trim();
    return value && /^\d+$/.test(value) ? Number(value) : undefined;
  };
  const remaining = number('x-ratelimit-remaining');
  if (remaining === undefined) return undefined;
  const limit = number('x-ratelimit-limit');
  const reset = number('x-ratelimit-reset');
  // Recorded answers carry epoch seconds; a value in milliseconds or a delta in seconds is read as such.
  const resetAt = reset === undefined ? undefined : reset > 1e12 ? reset : reset > 1e9 ? reset * 1000 : now + reset * 1000;
  return { remaining, ...(limit !== undefined ? { limit } : {}), ...(resetAt !== undefined ? { resetAt } : {}) };
}
