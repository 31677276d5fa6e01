import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { Keyring } from '../../../src/activities/crypto/sealing';
import { AesGcmPayloadCodec, CodecError, ENCODING, KEY_ID_METADATA } from '../../../src/temporal/codec';

const key = (kid: string) => ({ kid, key: randomBytes(32) });
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');

describe('payload codec (AES-256-GCM)', () => {
  const k1 = key('k1');
  const k2 = key('k2');
  const payload = defaultPayloadConverter.toPayload({ email: 'mira.kovac@example.test', deviceUuid: '3f6c2d1e' })!;

  it('encrypts: encoding binary/encrypted, key id in metadata, no plaintext left', async () => {
    const [encoded] = await new AesGcmPayloadCodec(new Keyring([k1])).encode([payload]);
    assert.equal(text(encoded!.metadata!.encoding), ENCODING);
    assert.equal(text(encoded!.metadata![KEY_ID_METADATA]), 'k1');
    assert.ok(!Buffer.from(encoded!.data!).toString('latin1').includes('mira.kovac'));
  });

  it('round-trips to the identical payload (metadata included)', async () => {
    const codec = new AesGcmPayloadCodec(new Keyring([k1]));
    const [decoded] = await codec.decode(await codec.encode([payload]));
    assert.deepEqual(defaultPayloadConverter.fromPayload(decoded!), { email: 'mira.kovac@example.test', deviceUuid: '3f6c2d1e' });
    assert.equal(text(decoded!.metadata!.encoding), 'json/plain');
  });

  it('rotation: encodes with the current key, still decodes what the previous key encoded', async () => {
    const old = await new AesGcmPayloadCodec(new Keyring([k1])).encode([payload]);
    const rotated = new AesGcmPayloadCodec(new Keyring([k2, k1]));
    const [fresh] = await rotated.encode([payload]);
    assert.equal(text(fresh!.metadata![KEY_ID_METADATA]), 'k2');
    const decoded = await rotated.decode([...old, fresh!]);
    assert.equal(decoded.length, 2);
    for (const p of decoded) assert.equal(defaultPayloadConverter.fromPayload<{ email: string }>(p).email, 'mira.kovac@example.test');
  });

  it('names the missing key when a payload was encrypted under a retired one', async () => {
    const old = await new AesGcmPayloadCodec(new Keyring([k1])).encode([payload]);
    await assert.rejects(new AesGcmPayloadCodec(new Keyring([k2])).decode(old), (err: unknown) => err instanceof CodecError && /"k1"/.test(err.message) && /k2/.test(err.message));
  });

  it('refuses a tampered payload', async () => {
    const codec = new AesGcmPayloadCodec(new Keyring([k1]));
    const [encoded] = await codec.encode([payload]);
    const data = Buffer.from(encoded!.data!);
    data[20] = data[20]! ^ 1;
    await assert.rejects(codec.decode([{ ...encoded!, data }]), /failed authentication/);
  });

  it('passes payloads it did not encrypt through unchanged', async () => {
    const plain: Payload = payload;
    const [out] = await new AesGcmPayloadCodec(new Keyring([k1])).decode([plain]);
    assert.equal(out, plain);
  });
});
