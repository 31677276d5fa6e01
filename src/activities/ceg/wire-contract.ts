/**
 * The HTTP contract between this provider and the Credential Escrow Gateway (CEG).
 *
 * CEG's upload API is not public, so the provider defines one and documents it in
 * docs/ceg-contract.md. Both sides import this module: the client (`CegGateway`) and the local
 * simulator (src/peers/ceg-sim). A deployment whose CEG speaks a different dialect adapts *this*
 * module only: paths, body field names, status meanings.
 *
 *   PUT    /api/v1/credentials/{enrollmentUserUuid}/{deviceUuid}/{kind}   upload one credential
 *                                                                          (encryption: with its history)
 *   DELETE /api/v1/credentials/{enrollmentUserUuid}/{deviceUuid}          remove a device's credentials
 *
 * Transport: HTTPS with a client certificate (mTLS); no other authentication.
 */
import { z } from 'zod';
import { UUID_PATTERN, type CredentialKind } from '../../domain/enrollment';

/** Version prefix of every contract path. */
export const CEG_API_PREFIX = '/api/v1';

/** Upper bound of an upload body. A PKCS#12 with a 4096-bit key and a chain is ~10 KiB. */
export const MAX_UPLOAD_BODY_BYTES = 1024 * 1024;

/** The request header that carries a caller-chosen correlation id (logged by both sides). */
export const REQUEST_ID_HEADER = 'x-request-id';

export const JSON_MEDIA_TYPE = 'application/json';
/** RFC 9457 error bodies. */
export const PROBLEM_MEDIA_TYPE = 'application/problem+json';

const kindSchema = z.enum(['signing', 'encryption']);
const uuidSchema = z
  .string()
  .regex(UUID_PATTERN, 'must be a UUID')
  .transform((v) => v.toLowerCase());

/** The path parameters of an upload. UUIDs are compared in lower case on both sides. */
export const credentialPathSchema = z.object({
  enrollmentUserUuid: uuidSchema,
  deviceUuid: uuidSchema,
  kind: kindSchema,
});
export type CredentialPathParams = z.output<typeof credentialPathSchema>;

/** The path parameters of a device clean-up. */
export const devicePathSchema = credentialPathSchema.omit({ kind: true });
export type DevicePathParams = z.output<typeof devicePathSchema>;

/** `PUT` target for one credential of one (user, device). */
export function credentialPath(enrollmentUserUuid: string, deviceUuid: string, kind: CredentialKind): string {
  const p = credentialPathSchema.parse({ enrollmentUserUuid, deviceUuid, kind });
  return `${CEG_API_PREFIX}/credentials/${p.enrollmentUserUuid}/${p.deviceUuid}/${p.kind}`;
}

/** `DELETE` target for every credential of one (user, device). */
export function devicePath(enrollmentUserUuid: string, deviceUuid: string): string {
  const p = devicePathSchema.parse({ enrollmentUserUuid, deviceUuid });
  return `${CEG_API_PREFIX}/credentials/${p.enrollmentUserUuid}/${p.deviceUuid}`;
}

/** Express-style route patterns for the simulator (and any server implementing the contract). */
export const ROUTES = {
  credential: `${CEG_API_PREFIX}/credentials/:enrollmentUserUuid/:deviceUuid/:kind`,
  device: `${CEG_API_PREFIX}/credentials/:enrollmentUserUuid/:deviceUuid`,
} as const;

/**
 * A PKCS#12 password as the contract carries it: printable, no line breaks (the receiving side
 * may hand it to tools that read one line), bounded.
 */
const passwordSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(512, 'must be at most 512 characters')
  .regex(/^[^\r\n\0]+$/, 'must not contain line breaks or NUL');

/** SHA-256 of a DER certificate, hex: sent lower case, upper case accepted, compared lower case. */
const thumbprintSchema = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits (SHA-256 of the DER certificate)')
  .transform((v) => v.toLowerCase());

/**
 * Most archived credentials one upload may carry: 50 legacy PKCS#12 files with 4096-bit keys and
 * a chain (≈ 14 KiB of base64 each) plus the main one stay well under MAX_UPLOAD_BODY_BYTES.
 */
export const MAX_ARCHIVED_CREDENTIALS = 50;

/**
 * One of the user's earlier encryption credentials, carried as history in an encryption upload.
 * It opens with the upload's password and is built with the upload's profile.
 */
export const archivedCredentialSchema = z.object({
  /** The PKCS#12 (private key, certificate, chain), standard base64. */
  pkcs12: z.base64('must be standard base64').min(1, 'must not be empty'),
  /** SHA-256 of its DER leaf certificate, hex. */
  thumbprint: thumbprintSchema,
});

/** `archived` is history of the user's encryption key; a signing slot has none (a 400 `archived-not-allowed`). */
export function archivedAllowedFor(kind: CredentialKind): boolean {
  return kind === 'encryption';
}

/**
 * The upload body. `password` may be omitted when `passwordEncrypted` is sent; when both are
 * sent they must agree (the gateway checks). Unknown fields are ignored, so either side can add
 * optional fields without breaking the other.
 */
export const credentialUploadBodySchema = z
  .object({
    /** The PKCS#12 (private key, certificate, chain), standard base64. */
    pkcs12: z.base64('must be standard base64').min(1, 'must not be empty'),
    /** The PKCS#12 password in the clear (inside TLS). */
    password: passwordSchema.optional(),
    /** RSAES-OAEP (SHA-256, MGF1-SHA-256, empty label) of the UTF-8 password to the gateway's recipient certificate, base64. */
    passwordEncrypted: z.base64('must be standard base64').min(1, 'must not be empty').optional(),
    /** SHA-256 of the DER leaf certificate, hex (sent lower case; upper case accepted). */
    thumbprint: thumbprintSchema,
    /** The user's email address; the certificate must carry it as a SAN rfc822Name. */
    email: z
      .string()
      .max(254, 'must be at most 254 characters')
      .regex(/^[^\s@]+@[^\s@]+$/, 'must be an email address'),
    /** UEM's numeric EnrollmentUserId, when known. */
    enrollmentUserId: z.string().min(1).max(64).optional(),
    /** The PKCS#12 profile the sender used; a gateway may check the file agrees. */
    profile: z.enum(['legacy', 'modern']).optional(),
    /**
     * Encryption uploads only: the user's earlier encryption credentials, newest first, each
     * opening with the same password. Distinct thumbprints, none equal to `thumbprint`.
     */
    archived: z.array(archivedCredentialSchema).max(MAX_ARCHIVED_CREDENTIALS, `must hold at most ${MAX_ARCHIVED_CREDENTIALS} credentials`).optional(),
  })
  .refine((b) => b.password !== undefined || b.passwordEncrypted !== undefined, {
    message: 'password or passwordEncrypted is required',
    path: ['password'],
  })
  .superRefine((b, ctx) => {
    const seen = new Set([b.thumbprint]);
    b.archived?.forEach((entry, i) => {
      if (seen.has(entry.thumbprint)) {
        ctx.addIssue({ code: 'custom', message: 'must differ from the main thumbprint and every other archived one', path: ['archived', i, 'thumbprint'] });
      }
      seen.add(entry.thumbprint);
    });
  });
export type CredentialUploadBody = z.input<typeof credentialUploadBodySchema>;
export type ValidCredentialUploadBody = z.output<typeof credentialUploadBodySchema>;

/** Where a field of a rejected body went wrong. Never carries the offending value. */
export interface FieldProblem {
  path: string;
  message: string;
}

/**
 * Validate an upload body (both sides use this). The result names fields and rules only, never
 * values, so it is safe to log or to return in a problem document.
 */
export function validateUploadBody(
  body: unknown,
): { ok: true; body: ValidCredentialUploadBody } | { ok: false; problems: FieldProblem[] } {
  const result = credentialUploadBodySchema.safeParse(body);
  if (result.success) return { ok: true, body: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((issue) => ({ path: issue.path.join('.') || '(body)', message: issue.message })),
  };
}

/**
 * 201 `created`: the slot was empty.
 * 201 `replaced`: the slot held a different credential (a renewal); the new one replaced it.
 * 200 `already-present`: the slot already holds this exact credential (same thumbprint).
 */
export const uploadOutcomeSchema = z.enum(['created', 'replaced', 'already-present']);
export type UploadOutcome = z.output<typeof uploadOutcomeSchema>;

export const credentialUploadResponseSchema = z.object({
  status: uploadOutcomeSchema,
  /** Stable for one stored credential: a repeat returns the receipt of the first upload. */
  receiptId: z.string().min(1),
  thumbprint: z.string(),
  /** When the gateway first stored this credential, ISO 8601. */
  receivedAt: z.string(),
  /** Set when `status` is `replaced`. */
  previousThumbprint: z.string().optional(),
});
export type CredentialUploadResponse = z.output<typeof credentialUploadResponseSchema>;

/** DELETE answers 204 whether or not anything was stored: clean-up is idempotent. */
export const DELETE_STATUS = 204;

/** An RFC 9457 problem document as the contract uses it. */
export const problemSchema = z.object({
  type: z.string().default('about:blank'),
  title: z.string().optional(),
  status: z.number().int().optional(),
  detail: z.string().optional(),
  /** For `invalid-body`: which fields broke which rule. */
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export type Problem = z.output<typeof problemSchema>;

/** Problem types the contract defines, with their status and title. */
export const PROBLEMS = {
  invalidBody: { slug: 'invalid-body', status: 400, title: 'The request body does not follow the upload contract' },
  invalidPath: { slug: 'invalid-path', status: 400, title: 'The path does not name a UUID pair and a credential kind' },
  archivedNotAllowed: { slug: 'archived-not-allowed', status: 400, title: 'Archived credentials are allowed only in an encryption upload' },
  clientNotAllowed: { slug: 'client-not-allowed', status: 403, title: 'The client certificate is not allowed to upload' },
  notFound: { slug: 'not-found', status: 404, title: 'No such resource' },
  bodyTooLarge: { slug: 'body-too-large', status: 413, title: 'The request body is too large' },
  unsupportedMediaType: { slug: 'unsupported-media-type', status: 415, title: 'The request body must be application/json' },
  notPkcs12: { slug: 'not-pkcs12', status: 422, title: 'The pkcs12 field is not a readable PKCS#12 file' },
  wrongPassword: { slug: 'wrong-password', status: 422, title: 'The password does not open the PKCS#12' },
  passwordNotDecryptable: { slug: 'password-not-decryptable', status: 422, title: 'passwordEncrypted cannot be decrypted with the gateway recipient key' },
  passwordMismatch: { slug: 'password-mismatch', status: 422, title: 'password and passwordEncrypted do not agree' },
  noPrivateKey: { slug: 'no-private-key', status: 422, title: 'The PKCS#12 must hold exactly one private key' },
  thumbprintMismatch: { slug: 'thumbprint-mismatch', status: 422, title: 'No certificate in the PKCS#12 has the thumbprint sent' },
  keyMismatch: { slug: 'key-mismatch', status: 422, title: 'The private key does not belong to the certificate' },
  notEmailProtection: { slug: 'not-email-protection', status: 422, title: 'The certificate lacks extended key usage emailProtection' },
  emailMismatch: { slug: 'email-mismatch', status: 422, title: 'No SAN rfc822Name of the certificate equals the email sent' },
  certificateExpired: { slug: 'certificate-expired', status: 422, title: 'The certificate has expired' },
  profileMismatch: { slug: 'profile-mismatch', status: 422, title: 'The PKCS#12 algorithms do not match the profile sent' },
  tooManyRequests: { slug: 'too-many-requests', status: 429, title: 'Too many requests' },
  internal: { slug: 'internal-error', status: 500, title: 'The gateway failed to process the request' },
  unavailable: { slug: 'unavailable', status: 503, title: 'The gateway is temporarily unavailable' },
} as const satisfies Record<string, { slug: string; status: number; title: string }>;
export type ProblemName = keyof typeof PROBLEMS;

/** `type` URI of a contract problem. A URN: it identifies, it is not meant to be fetched. */
export function problemType(name: ProblemName): string {
  return `urn:smime-escrow-provider:ceg:${PROBLEMS[name].slug}`;
}

/** A complete problem document for one of the contract's problem types. */
export function problem(name: ProblemName, detail?: string, extra: Partial<Problem> = {}): Problem & { status: number } {
  const p = PROBLEMS[name];
  return { type: problemType(name), title: p.title, status: p.status, ...(detail ? { detail } : {}), ...extra };
}

/**
 * How the client treats each answer. Kept here so a deployment adapting the contract changes one
 * table: `rejected` ends delivery (non-retryable), `transient` is retried, `success` completes.
 */
export function classifyStatus(status: number): 'success' | 'rejected' | 'transient' {
  if (status === 200 || status === 201) return 'success';
  if (status === 408 || status === 425 || status === 429 || status >= 500) return 'transient';
  return 'rejected';
}

/**
 * Parse a Retry-After header (delta-seconds or an HTTP date) into milliseconds from `now`.
 * Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(text)) return Number(text.trim()) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
