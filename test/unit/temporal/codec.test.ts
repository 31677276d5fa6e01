import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultPayloadConverter, type Payload, type SerializationContext } from '@temporalio/common';
import { Keyring } from '../../../src/activities/crypto/sealing';
import { AesGcmPayloadCodec, CodecError, ENCODING, FORMAT_METADATA, KEY_ID_METADATA, WORKFLOW_ID_METADATA } from '../../../src/temporal/codec';
import { payloadConverter } from '../../../src/temporal/payload-converter';
import { isRefusedPayload, REFUSED_ENCODING } from '../../../src/temporal/refused-payload';

const key = (kid: string) => ({ kid, key: randomBytes(32) });
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');
const workflow = (workflowId: string): SerializationContext => ({ type: 'workflow', namespace: 'default', workflowId });
const activity = (workflowId: string): SerializationContext => ({ type: 'activity', namespace: 'default', workflowId, activityId: '3', isLocal: false });

const WF_A = 'smime-b7e8f9a0-1c2d-4e3f-8a9b-0c1d2e3f4a5b-3f6c2d1e-8a4b-4c7d-9e0f-1a2b3c4d5e6f';
const WF_B = 'smime-b7e8f9a0-1c2d-4e3f-8a9b-0c1d2e3f4a5b-0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a';

/** A payload the codec wrote before format v2 (commit 065565f), with its key. */
const V1 = JSON.parse(readFileSync(join(__dirname, '../../fixtures/codec-v1-payload.json'), 'utf8')) as {
  keyBase64: string;
  payload: { metadata: Record<string, string>; data: string };
};
const v1Payload = (): Payload => ({
  metadata: Object.fromEntries(Object.entries(V1.payload.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(V1.payload.data, 'base64'),
});
const v1Keyring = () => new Keyring([{ kid: 'v1-fixture', key: Buffer.from(V1.keyBase64, 'base64') }]);

describe('payload codec (AES-256-GCM, bound to the workflow)', () => {
  const k1 = key('k1');
  const k2 = key('k2');
  const payload = defaultPayloadConverter.toPayload({ email: 'mira.kovac@example.test', deviceUuid: '3f6c2d1e' })!;

  it('encrypts: format v2, key id and workflow ID in metadata, no plaintext left', async () => {
    const [encoded] = await new AesGcmPayloadCodec(new Keyring([k1])).encode([payload], workflow(WF_A));
    assert.equal(text(encoded!.metadata!.encoding), ENCODING);
    assert.equal(text(encoded!.metadata![FORMAT_METADATA]), 'v2');
    assert.equal(text(encoded!.metadata![KEY_ID_METADATA]), 'k1');
    assert.equal(text(encoded!.metadata![WORKFLOW_ID_METADATA]), WF_A);
    assert.ok(!Buffer.from(encoded!.data!).toString('latin1').includes('mira.kovac'));
  });

  it('round-trips within one workflow, between its workflow and activity contexts', async () => {
    const codec = new AesGcmPayloadCodec(new Keyring([k1]));
    const [decoded] = await codec.decode(await codec.encode([payload], workflow(WF_A)), activity(WF_A));
    assert.deepEqual(defaultPayloadConverter.fromPayload(decoded!), { email: 'mira.kovac@example.test', deviceUuid: '3f6c2d1e' });
    assert.equal(text(decoded!.metadata!.encoding), 'json/plain');
  });

  it('refuses a payload of workflow A decoded for workflow B (it throws: the run stalls, nothing runs)', async () => {
    const codec = new AesGcmPayloadCodec(new Keyring([k1]));
    const fromA = await codec.encode([payload], workflow(WF_A));
    await assert.rejects(codec.decode(fromA, workflow(WF_B)), (err: unknown) => err instanceof CodecError && err.message.includes(`bound to workflow "${WF_A}"`) && err.message.includes(`for workflow "${WF_B}"`));
  });

  it('refuses a payload whose workflow ID in the metadata was rewritten', async () => {
    const codec = new AesGcmPayloadCodec(new Keyring([k1]));
    const [fromA] = await codec.encode([payload], workflow(WF_A));
    const relabelled = { ...fromA!, metadata: { ...fromA!.metadata, [WORKFLOW_ID_METADATA]: Buffer.from(WF_B) } };
    // For workflow B with context, and without context (the codec endpoint trusts the metadata only if the tag does).
    await assert.rejects(codec.decode([relabelled], workflow(WF_B)), CodecError);
    await assert.rejects(codec.decode([relabelled]), /failed authentication/);
  });

  it('without a context (codec endpoint) decodes against the workflow ID the payload carries', async () => {
    const codec = new AesGcmPayloadCodec(new Keyring([k1]), { unencrypted: 'pass' });
    const [decoded] = await codec.decode(await codec.encode([payload], workflow(WF_A)));
    assert.equal(defaultPayloadConverter.fromPayload<{ email: string }>(decoded!).email, 'mira.kovac@example.test');
  });

  it('a payload encoded without a context is bound to no workflow, and no workflow decodes it', async () => {
    const codec = new AesGcmPayloadCodec(new Keyring([k1]));
    const [unbound] = await codec.encode([payload]);
    assert.equal(text(unbound!.metadata![WORKFLOW_ID_METADATA]), '');
    await assert.rejects(codec.decode([unbound!], workflow(WF_A)), /bound to workflow ""/);
  });

  it('rotation: encodes with the current key, still decodes what the previous key encoded', async () => {
    const old = await new AesGcmPayloadCodec(new Keyring([k1])).encode([payload], workflow(WF_A));
    const rotated = new AesGcmPayloadCodec(new Keyring([k2, k1]));
    const [fresh] = await rotated.encode([payload], workflow(WF_A));
    assert.equal(text(fresh!.metadata![KEY_ID_METADATA]), 'k2');
    const decoded = await rotated.decode([...old, fresh!], workflow(WF_A));
    assert.equal(decoded.length, 2);
    for (const p of decoded) assert.equal(defaultPayloadConverter.fromPayload<{ email: string }>(p).email, 'mira.kovac@example.test');
  });

  it('names the missing key when a payload was encrypted under a retired one (throws: a rotation mistake stalls, never fails, a run)', async () => {
    const old = await new AesGcmPayloadCodec(new Keyring([k1])).encode([payload], workflow(WF_A));
    await assert.rejects(new AesGcmPayloadCodec(new Keyring([k2])).decode(old, workflow(WF_A)), (err: unknown) => err instanceof CodecError && /"k1"/.test(err.message) && /k2/.test(err.message));
  });

  it('refuses a tampered payload', async () => {
    const codec = new AesGcmPayloadCodec(new Keyring([k1]));
    const [encoded] = await codec.encode([payload], workflow(WF_A));
    const data = Buffer.from(encoded!.data!);
    data[20] = data[20]! ^ 1;
    await assert.rejects(codec.decode([{ ...encoded!, data }], workflow(WF_A)), /failed authentication/);
  });

  it('refuses an unknown format version', async () => {
    const codec = new AesGcmPayloadCodec(new Keyring([k1]));
    const [encoded] = await codec.encode([payload], workflow(WF_A));
    const v9 = { ...encoded!, metadata: { ...encoded!.metadata, [FORMAT_METADATA]: Buffer.from('v9') } };
    await assert.rejects(codec.decode([v9], workflow(WF_A)), /format "v9"/);
  });

  describe('payloads it did not encrypt', () => {
    it('worker and clients: swapped for a marker without the content, which the payload converter turns into a sentinel', async () => {
      const [out] = await new AesGcmPayloadCodec(new Keyring([k1])).decode([payload], workflow(WF_A));
      assert.equal(text(out!.metadata!.encoding), REFUSED_ENCODING);
      assert.equal(out!.data!.length, 0);
      assert.ok(!JSON.stringify(out).includes('mira'));
      const value = payloadConverter.fromPayload(out!);
      assert.ok(isRefusedPayload(value));
      assert.deepEqual(value, { smimeRefusedPayload: true, reason: 'unencrypted', encoding: 'json/plain' });
    });

    it('codec endpoint (unencrypted: pass): returned unchanged, for reading', async () => {
      const [out] = await new AesGcmPayloadCodec(new Keyring([k1]), { unencrypted: 'pass' }).decode([payload]);
      assert.equal(out, payload);
    });

    it('the payload converter leaves every other payload to the SDK default', () => {
      assert.deepEqual(payloadConverter.fromPayload(payloadConverter.toPayload({ a: [1, 'b'] })), { a: [1, 'b'] });
      assert.equal(payloadConverter.fromPayload(payloadConverter.toPayload(undefined)), undefined);
    });
  });

  describe('schedules', () => {
    it("a schedule action's arguments (bound to the action's workflowId) become a marker in the run <workflowId>-<time>", async () => {
      const codec = new AesGcmPayloadCodec(new Keyring([k1]));
      const action = await codec.encode([payload], workflow('reconcile'));
      const [out] = await codec.decode(action, workflow('reconcile-2026-11-30T09:16:59Z'));
      assert.deepEqual(payloadConverter.fromPayload(out!), { smimeRefusedPayload: true, reason: 'schedule-arguments', encoding: ENCODING });
    });

    it('only for that exact shape: another suffix is a payload from another workflow (throws)', async () => {
      const codec = new AesGcmPayloadCodec(new Keyring([k1]));
      const action = await codec.encode([payload], workflow('reconcile'));
      await assert.rejects(codec.decode(action, workflow('reconcile-other')), CodecError);
    });
  });

  describe('format v1 (before the workflow binding)', () => {
    const before = Date.parse('2027-03-01T00:00:00Z');

    it('decodes a real v1 payload until CODEC_ACCEPT_UNBOUND_V1_UNTIL, for any workflow', async () => {
      const codec = new AesGcmPayloadCodec(v1Keyring(), { acceptV1Until: before, now: () => before - 1 });
      for (const context of [workflow(WF_A), workflow(WF_B), undefined]) {
        const [out] = await codec.decode([v1Payload()], context);
        assert.equal(defaultPayloadConverter.fromPayload<{ event: { email: string } }>(out!).event.email, 'mira.kovac@example.test');
      }
    });

    it('refuses it from then on, naming the setting (throws: the run stalls until the date is moved)', async () => {
      const codec = new AesGcmPayloadCodec(v1Keyring(), { acceptV1Until: before, now: () => before });
      await assert.rejects(codec.decode([v1Payload()], workflow(WF_A)), (err: unknown) => err instanceof CodecError && err.message.includes('CODEC_ACCEPT_UNBOUND_V1_UNTIL'));
    });

    it('a v2 payload stripped of its format is not a v1 payload (its tag covers the binding)', async () => {
      const codec = new AesGcmPayloadCodec(new Keyring([k1]), { acceptV1Until: Number.POSITIVE_INFINITY });
      const [encoded] = await codec.encode([payload], workflow(WF_A));
      const { [FORMAT_METADATA]: _format, [WORKFLOW_ID_METADATA]: _workflow, ...rest } = encoded!.metadata!;
      await assert.rejects(codec.decode([{ ...encoded!, metadata: rest }], workflow(WF_B)), /failed authentication/);
    });
  });
});
