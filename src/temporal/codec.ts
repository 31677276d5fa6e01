import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec, type SerializationContext } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { Keyring } from '../activities/crypto/sealing';
import { refusedPayload } from './refused-payload';

/**
 * The payload codec: every payload the provider writes to Temporal (workflow inputs, activity
 * arguments and results, signals, queries, memo) is AES-256-GCM encrypted, so the server,
 * its database and anyone reading raw histories see ciphertext only.
 *
 * This is the second layer. Secrets (keys, PKCS#12, passwords) are already sealed by the
 * activities under a different key; an operator who can decode payloads in the UI still cannot
 * read them.
 *
 * Format v2 (what this codec writes) binds each payload to the key id and the workflow it belongs
 * to: both are in the AES-GCM additional authenticated data, and the workflow ID is also in the
 * metadata (`encryption-workflow-id`) for readers that have no context. The SDK hands the codec a
 * serialization context (`{ type: 'workflow' | 'activity', workflowId, … }`) on every worker and
 * client call; with one, the workflow the payload is decoded *for* is authoritative, so a payload
 * copied from workflow A into a start of workflow B fails authentication. Without one (the codec
 * endpoint) the metadata's workflow ID is used, which the tag authenticates. The namespace is not
 * bound: replay workers always run as namespace "default".
 *
 * What the worker and clients do with what they did not encrypt (`unencrypted: 'refuse'`): a
 * plain payload is not decoded but replaced by an inert marker (content dropped); the payload
 * converter turns it into a sentinel, and the workflow and activity interceptors fail the run with
 * a non-retryable `UnencryptedPayload` (throwing here would only retry the workflow task forever).
 * Unknown key ids and authentication failures *do* throw: a key missing from CODEC_KEYS during a
 * rotation, or a worker that has not been upgraded yet, must stall the run until it is fixed, not
 * fail it for good.
 *
 * Format v1 (before the binding: no additional data, no workflow ID) is still decoded until
 * `acceptV1Until` (CODEC_ACCEPT_UNBOUND_V1_UNTIL), so runs started before the upgrade finish and
 * their histories replay; after that a v1 payload throws (the run stalls until the setting is
 * moved). The risk while v1 is accepted: a v1 payload copied out of any old history still decodes
 * in a new workflow.
 *
 * Rotation: encode with the keyring's current key; decode with whichever key the payload's
 * `encryption-key-id` names, so old histories stay readable while a previous key is kept.
 */
export const ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
export const FORMAT_METADATA = 'encryption-format';
export const WORKFLOW_ID_METADATA = 'encryption-workflow-id';
export const FORMAT_V2 = 'v2';
const AAD_LABEL = 'smime-escrow-provider/payload-codec/v2';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** A scheduled run's ID: `<the schedule action's workflowId>-<RFC 3339 time, seconds, UTC>`. */
const SCHEDULED_RUN_SUFFIX = /^-\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

export class CodecError extends Error {
  override readonly name = 'CodecError';
}

export interface CodecPolicy {
  /**
   * What becomes of a payload this codec did not encrypt: `refuse` (workers and clients) swaps it
   * for a marker that fails the run; `pass` (the codec endpoint, which only shows payloads to an
   * operator) returns it unchanged.
   */
  unencrypted: 'refuse' | 'pass';
  /** v1 (unbound) payloads decode while the clock is before this (epoch ms); Infinity: always. */
  acceptV1Until: number;
  /** The clock, for tests. */
  now?: () => number;
}

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly policy: CodecPolicy;

  constructor(
    private readonly keyring: Keyring,
    policy: Partial<CodecPolicy> = {},
  ) {
    this.policy = { unencrypted: 'refuse', acceptV1Until: Number.POSITIVE_INFINITY, ...policy };
  }

  async encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    const { kid, key } = this.keyring.current;
    // No context (a caller that cannot say which workflow): bound to "", which no workflow decodes.
    const workflowId = context?.workflowId ?? '';
    return payloads.map((payload) => {
      const plaintext = temporal.api.common.v1.Payload.encode(payload).finish();
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      cipher.setAAD(additionalData(kid, workflowId));
      const body = Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          [METADATA_ENCODING_KEY]: utf8.encode(ENCODING),
          [FORMAT_METADATA]: utf8.encode(FORMAT_V2),
          [KEY_ID_METADATA]: utf8.encode(kid),
          [WORKFLOW_ID_METADATA]: utf8.encode(workflowId),
        },
        data: body,
      };
    });
  }

  async decode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return payloads.map((payload) => this.decodeOne(payload, context));
  }

  private decodeOne(payload: Payload, context: SerializationContext | undefined): Payload {
    const encoding = metadataText(payload, METADATA_ENCODING_KEY);
    if (encoding !== ENCODING) {
      if (this.policy.unencrypted === 'pass') return payload;
      return refusedPayload('unencrypted', encoding ?? '(none)');
    }
    const kid = metadataText(payload, KEY_ID_METADATA) ?? '';
    const entry = this.keyring.find(kid);
    if (!entry) throw new CodecError(`payload was encrypted with codec key "${kid}", which is not in CODEC_KEYS (known: ${this.keyring.kids.join(', ')})`);
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < NONCE_BYTES + TAG_BYTES) throw new CodecError('encrypted payload is truncated');
    const format = metadataText(payload, FORMAT_METADATA);

    if (format === undefined) {
      const now = (this.policy.now ?? Date.now)();
      if (now >= this.policy.acceptV1Until) {
        throw new CodecError(
          `payload is in codec format v1 (not bound to a workflow), accepted only until ${new Date(this.policy.acceptV1Until).toISOString()} ` +
            '(CODEC_ACCEPT_UNBOUND_V1_UNTIL); move that setting later to finish runs started before the upgrade',
        );
      }
      const plaintext = open(entry.key, data, undefined);
      if (!plaintext) throw new CodecError(`payload failed authentication under codec key "${kid}" (tampered, or a different key with the same id)`);
      return temporal.api.common.v1.Payload.decode(plaintext);
    }
    if (format !== FORMAT_V2) throw new CodecError(`payload is in codec format "${format}", which this build does not know`);

    const bound = metadataText(payload, WORKFLOW_ID_METADATA) ?? '';
    // With a context, the workflow we decode *for* decides; without one, the tag vouches for the metadata.
    const expected = context?.workflowId ?? bound;
    const plaintext = open(entry.key, data, additionalData(kid, expected));
    if (plaintext) return temporal.api.common.v1.Payload.decode(plaintext);
    if (expected !== bound) {
      // A schedule encodes its action's arguments for the action's workflowId, but each run gets
      // "<workflowId>-<time>": fail that run at once and say why, instead of stalling it (and,
      // with overlap SKIP, every later run of the schedule).
      if (expected.startsWith(bound) && SCHEDULED_RUN_SUFFIX.test(expected.slice(bound.length)) && open(entry.key, data, additionalData(kid, bound))) {
        return refusedPayload('schedule-arguments', ENCODING);
      }
      throw new CodecError(`payload bound to workflow "${bound}" does not authenticate for workflow "${expected}" (copied from another workflow, or tampered)`);
    }
    throw new CodecError(`payload failed authentication under codec key "${kid}" (tampered, or a different key with the same id)`);
  }
}

/**
 * The codec of the codec endpoint, which only shows payloads to an operator: plain payloads as they
 * are, v1 payloads whatever the date (reading one trusts nothing).
 */
export function codecForReading(keyring: Keyring): AesGcmPayloadCodec {
  return new AesGcmPayloadCodec(keyring, { unencrypted: 'pass', acceptV1Until: Number.POSITIVE_INFINITY });
}

function additionalData(kid: string, workflowId: string): Buffer {
  return Buffer.from(`${AAD_LABEL}\0${kid}\0${workflowId}`, 'utf8');
}

/** The plaintext, or undefined when the tag does not verify. */
function open(key: Buffer, data: Buffer, aad: Buffer | undefined): Buffer | undefined {
  const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, NONCE_BYTES));
  if (aad) decipher.setAAD(aad);
  decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
}

function metadataText(payload: Payload, key: string): string | undefined {
  const value = payload.metadata?.[key];
  return value ? fromUtf8.decode(value) : undefined;
}
