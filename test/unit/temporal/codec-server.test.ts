import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { defaultPayloadConverter } from '@temporalio/common';
import { Keyring } from '../../../src/activities/crypto/sealing';
import { AesGcmPayloadCodec } from '../../../src/temporal/codec';
import { createCodecRouter } from '../../../src/temporal/codec-server';

const OPERATOR = 'operator-token-0123456789';
const VIEWER = 'viewer-token-0123456789';
const UI = 'http://localhost:8233';

describe('codec server', () => {
  let server: Server;
  let url: string;
  const codec = new AesGcmPayloadCodec(new Keyring([{ kid: 'k1', key: randomBytes(32) }]));
  before(async () => {
    const app = express();
    app.use(createCodecRouter({ codec, allowedOrigins: [UI], isOperator: (h) => h === `Bearer ${OPERATOR}` }));
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  async function encodedBody() {
    const [encoded] = await codec.encode([defaultPayloadConverter.toPayload({ stage: 'Delivered' })!]);
    return { payloads: [{ metadata: Object.fromEntries(Object.entries(encoded!.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])), data: Buffer.from(encoded!.data!).toString('base64') }] };
  }
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: UI, ...headers }, body: JSON.stringify(body) });

  it('decodes for an operator bearer token, with CORS for the UI origin', async () => {
    const response = await post('/codec/decode', await encodedBody(), { Authorization: `Bearer ${OPERATOR}`, 'X-Namespace': 'default' });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('access-control-allow-origin'), UI);
    assert.equal(response.headers.get('access-control-allow-credentials'), 'true');
    const { payloads } = (await response.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    assert.equal(Buffer.from(payloads[0]!.metadata.encoding!, 'base64').toString(), 'json/plain');
    assert.deepEqual(JSON.parse(Buffer.from(payloads[0]!.data, 'base64').toString()), { stage: 'Delivered' });
  });

  it('refuses without credentials and for a viewer token (401), revealing nothing', async () => {
    for (const headers of [{}, { Authorization: `Bearer ${VIEWER}` }] as Record<string, string>[]) {
      const response = await post('/codec/decode', await encodedBody(), headers);
      assert.equal(response.status, 401);
      assert.equal(response.headers.get('content-type')?.split(';')[0], 'application/problem+json');
      assert.doesNotMatch(await response.text(), /Delivered/);
    }
  });

  it('answers the UI\'s preflight, and refuses one from another origin', async () => {
    const ok = await fetch(`${url}/codec/decode`, { method: 'OPTIONS', headers: { Origin: UI, 'Access-Control-Request-Method': 'POST' } });
    assert.equal(ok.status, 204);
    assert.match(ok.headers.get('access-control-allow-headers') ?? '', /x-namespace/);
    const evil = await fetch(`${url}/codec/decode`, { method: 'OPTIONS', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' } });
    assert.equal(evil.status, 403);
    assert.equal(evil.headers.get('access-control-allow-origin'), null);
  });

  it('a codec session from /codec/login lets the browser decode; a wrong token gets none', async () => {
    const refused = await fetch(`${url}/codec/login`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `token=${VIEWER}` });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('set-cookie'), null);
    const login = await fetch(`${url}/codec/login`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `token=${OPERATOR}` });
    assert.equal(login.status, 200);
    const cookie = login.headers.get('set-cookie')!;
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const session = cookie.split(';')[0]!;
    assert.equal((await post('/codec/decode', await encodedBody(), { Cookie: session })).status, 200);
    const forged = session.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    assert.equal((await post('/codec/decode', await encodedBody(), { Cookie: forged })).status, 401);
  });

  it('encodes for an operator, so the UI can send signals with encrypted payloads', async () => {
    const plain = defaultPayloadConverter.toPayload('retry')!;
    const body = { payloads: [{ metadata: { encoding: Buffer.from(plain.metadata!.encoding!).toString('base64') }, data: Buffer.from(plain.data!).toString('base64') }] };
    const response = await post('/codec/encode', body, { Authorization: `Bearer ${OPERATOR}` });
    assert.equal(response.status, 200);
    const { payloads } = (await response.json()) as { payloads: { metadata: Record<string, string> }[] };
    assert.equal(Buffer.from(payloads[0]!.metadata.encoding!, 'base64').toString(), 'binary/encrypted');
  });

  it('rejects a malformed body with 400 and an undecodable payload with 422', async () => {
    assert.equal((await post('/codec/decode', { nope: 1 }, { Authorization: `Bearer ${OPERATOR}` })).status, 400);
    const other = new AesGcmPayloadCodec(new Keyring([{ kid: 'other', key: randomBytes(32) }]));
    const [foreign] = await other.encode([defaultPayloadConverter.toPayload(1)!]);
    const body = { payloads: [{ metadata: Object.fromEntries(Object.entries(foreign!.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])), data: Buffer.from(foreign!.data!).toString('base64') }] };
    const response = await post('/codec/decode', body, { Authorization: `Bearer ${OPERATOR}` });
    assert.equal(response.status, 422);
    assert.match(((await response.json()) as { detail: string }).detail, /codec key "other"/);
  });
});
