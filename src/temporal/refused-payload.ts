/**
 * What the worker does with a payload it did not encrypt, in three steps that together fail the
 * run at once instead of retrying its workflow task forever (a codec that throws does that):
 *
 *   1. the codec (codec.ts) swaps the payload for a marker: encoding `binary/refused`, the
 *      original content dropped, the reason kept;
 *   2. the payload converter (payload-converter.ts, also inside the workflow sandbox) turns the
 *      marker into a sentinel value;
 *   3. the workflow interceptor (src/workflows/refuse-unencrypted.ts) and the activity
 *      interceptor (activity-interceptors.ts) see the sentinel among the arguments and fail with
 *      a non-retryable `UnencryptedPayload` — before any activity has run.
 *
 * Pure and free of Node built-ins: the workflow sandbox loads it.
 */
import { ApplicationFailure, METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';
// The SDK's own UTF-8 codec, as the sandbox has no TextEncoder of Node's; not via sdk-internals.ts,
// whose client helpers must stay out of the workflow bundle.
import { decode as fromUtf8, encode as utf8 } from '@temporalio/common/lib/encoding';

export const REFUSED_ENCODING = 'binary/refused';
const REASON_METADATA = 'refused-reason';
const ORIGINAL_ENCODING_METADATA = 'refused-encoding';

/**
 * unencrypted: not encrypted under CODEC_KEYS (written by someone who does not hold the key, e.g.
 * `temporal workflow start --input`); schedule-arguments: a schedule's action arguments, bound to
 * the schedule's workflowId, not to the run's `<workflowId>-<time>`.
 */
export type RefusalReason = 'unencrypted' | 'schedule-arguments';

/** The failure types the run ends with. */
export const UNENCRYPTED_PAYLOAD = 'UnencryptedPayload';
export const SCHEDULED_WORKFLOW_ARGUMENTS = 'ScheduledWorkflowArguments';

/** The sentinel value a refused payload converts to. */
export interface RefusedPayload {
  readonly smimeRefusedPayload: true;
  readonly reason: RefusalReason;
  /** The encoding the refused payload had (e.g. json/plain): what it was, never what it said. */
  readonly encoding: string;
}

/** The marker the codec puts in place of a payload it refuses. */
export function refusedPayload(reason: RefusalReason, originalEncoding: string): Payload {
  return {
    metadata: {
      [METADATA_ENCODING_KEY]: utf8(REFUSED_ENCODING),
      [REASON_METADATA]: utf8(reason),
      [ORIGINAL_ENCODING_METADATA]: utf8(originalEncoding.slice(0, 100)),
    },
    data: new Uint8Array(),
  };
}

/** The sentinel for a marker, or undefined when the payload is not one. */
export function sentinelFor(payload: Payload): RefusedPayload | undefined {
  const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
  if (!encoding || fromUtf8(encoding) !== REFUSED_ENCODING) return undefined;
  const reasonBytes = payload.metadata?.[REASON_METADATA];
  const reason: RefusalReason = reasonBytes && fromUtf8(reasonBytes) === 'schedule-arguments' ? 'schedule-arguments' : 'unencrypted';
  const original = payload.metadata?.[ORIGINAL_ENCODING_METADATA];
  return { smimeRefusedPayload: true, reason, encoding: original ? fromUtf8(original) : '(none)' };
}

export function isRefusedPayload(value: unknown): value is RefusedPayload {
  return typeof value === 'object' && value !== null && (value as Partial<RefusedPayload>).smimeRefusedPayload === true;
}

/** The non-retryable failure for a refused payload; `what` says where it came in ("workflow input"). */
export function refusalFailure(refused: RefusedPayload, what: string): ApplicationFailure {
  if (refused.reason === 'schedule-arguments') {
    return ApplicationFailure.create({
      type: SCHEDULED_WORKFLOW_ARGUMENTS,
      nonRetryable: true,
      message: `${what} came from a schedule's action: scheduled runs get the ID <workflowId>-<time>, which the payloads cannot be bound to, so scheduled workflows take no arguments (read settings in an activity)`,
    });
  }
  return ApplicationFailure.create({
    type: UNENCRYPTED_PAYLOAD,
    nonRetryable: true,
    message: `${what} arrived unencrypted (encoding ${refused.encoding}): the worker accepts only payloads encrypted under CODEC_KEYS; start and steer provisioning through the provider's API`,
  });
}
