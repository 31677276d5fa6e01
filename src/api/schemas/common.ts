/**
 * Building blocks the API's schemas share. Patterns are the domain's own regexes, never copies, so
 * the OpenAPI document promises exactly what the code checks.
 *
 * The API's shapes are zod schemas, once: routers validate with them, TypeScript types are
 * inferred from them, and /openapi.json is generated from them. Nothing under src/workflows/
 * may import this folder: the workflow bundle stays free of zod.
 */
import { z } from 'zod';
import { UUID_PATTERN, WORKFLOW_ID_PATTERN } from '../../domain/enrollment';

/** A UUID in any case, as UEM writes it. */
export const Uuid = z.string().regex(UUID_PATTERN, 'must be a UUID');

/** A UUID in a request: any case accepted, lower case from then on (workflow IDs and search attributes are lower case). */
export const UuidInput = Uuid.transform((value) => value.toLowerCase());

export const WorkflowId = z
  .string()
  .regex(WORKFLOW_ID_PATTERN, 'not a provisioning workflow ID')
  .meta({
    description: 'smime-<EnrollmentUserUUID>-<DeviceUUID>, lower case',
    examples: ['smime-b7e8f9a0-1c2d-4e3f-8a9b-0c1d2e3f4a5b-3f6c2d1e-8a4b-4c7d-9e0f-1a2b3c4d5e6f'],
  });

/** Temporal's run ID: opaque to clients. */
export const RunId = z.string();

/** Timestamps the API writes (ISO 8601; `toISOString()` gives the Z form). */
export const DateTime = z.iso.datetime({ offset: true }).meta({ id: 'DateTime', description: 'ISO 8601 date and time' });

/** RFC 9457 problem details: every error answer of the API and the codec endpoints. */
export const Problem = z
  .strictObject({
    type: z.string().meta({ format: 'uri-reference' }),
    title: z.string(),
    status: z.number().int().min(400).max(599),
    detail: z.string().optional(),
    instance: z.string().optional(),
    field: z.string().optional().meta({ description: 'The missing or invalid field (UEM field name or JSON property)' }),
    requestId: z.string().optional().meta({ description: 'Also in the X-Request-Id header and in every log line of the request' }),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });

/**
 * Compile-time proof that a schema's output is exactly a type another layer owns (the workflow's
 * status and result, the Temporal start/cancel outcomes): `true` is the only argument that compiles.
 * Those layers cannot import zod (the workflow bundle), so the compiler holds the two together.
 */
export type SameShape<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export function sameShape<A, B>(proof: SameShape<A, B>): void {
  void proof;
}
