import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { Keyring } from '../../../src/activities/crypto/sealing';
import { SqliteDatabase } from '../../../src/activities/database/sqlite-database';
import { createLogger } from '../../../src/logging';
import { AesGcmPayloadCodec, codecForReading } from '../../../src/temporal/codec';
import { createCodecRouter, type CodecServerOptions } from '../../../src/temporal/codec-server';
import { SqlCodecSessionStore } from '../../../src/temporal/codec-sessions';

const OPERATOR = 'operator-token-0123456789';
const VIEWER = 'viewer-token-0123456789';
const UI = 'http://localhost:8233';
const WORKFLOW = 'smime-b7e8f9a0-1c2d-4e3f-8a9b-0c1d2e3f4a5b-3f6c2d1e-8a4b-4c7d-9e0f-1a2b3c4d5e6f';

describe('codec server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'codec-server-'));
  const logger = createLogger({ level: 'silent' });
  const keyring = new Keyring([{ kid: 'k1', key: randomBytes(32) }]);
  const codec = codecForReading(keyring);
  const stores: SqlCodecSessionStore[] = [];
  const servers: Server[] = [];
  /** One "replica": a router on its own port and its own store, over the shared database file. */
  async function replica(options: Partial<CodecServerOptions> = {}, trustProxy: string | false = false): Promise<string> {
    const sessions = new SqlCodecSessionStore(() => SqliteDatabase.open({ file: join(dir, 'escrow.db'), logger }));
    stores.push(sessions);
    const app = express();
    app.set('trust proxy', trustProxy);
    app.use(createCodecRouter({ codec, allowedOrigins: [UI], isOperator: (h) => h === `Bearer ${OPERATOR}`, sessions, ...options }));
    // body-parser's errors (the API's own error handler turns them into problems; here only the status matters).
    app.use((err: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => res.status(err.status ?? 500).end());
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  let url: string;
  before(async () => {
    url = await replica();
  });
  after(async () => {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const store of stores) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const toJson = (p: Payload) => ({ metadata: Object.fromEntries(Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])), data: Buffer.from(p.data!).toString('base64') });
  async function encodedBody() {
    const [encoded] = await new AesGcmPayloadCodec(keyring).encode([defaultPayloadConverter.toPayload({ stage: 'Delivered' })!], { type: 'workflow', namespace: 'default', workflowId: WORKFLOW });
    return { payloads: [toJson(encoded!)] };
  }
  const post = (base: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: UI, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const login = (base: string, token: string, headers: Record<string, string> = {}) =>
    fetch(`${base}/codec/login`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers }, body: `token=${encodeURIComponent(token)}` });
  async function session(base: string): Promise<string> {
    const response = await login(base, OPERATOR);
    assert.equal(response.status, 200);
    return response.headers.get('set-cookie')!.split(';')[0]!;
  }

  it('decodes for an operator bearer token, with CORS for the UI origin', async () => {
    const response = await post(url, '/codec/decode', await encodedBody(), { Authorization: `Bearer ${OPERATOR}`, 'X-Namespace': 'default' });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('access-control-allow-origin'), UI);
    assert.equal(response.headers.get('access-control-allow-credentials'), 'true');
    const { payloads } = (await response.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    assert.equal(Buffer.from(payloads[0]!.metadata.encoding!, 'base64').toString(), 'json/plain');
    assert.deepEqual(JSON.parse(Buffer.from(payloads[0]!.data, 'base64').toString()), { stage: 'Delivered' });
  });

  it('refuses without credentials and for a viewer token (401), revealing nothing', async () => {
    for (const headers of [{}, { Authorization: `Bearer ${VIEWER}` }] as Record<string, string>[]) {
      const response = await post(url, '/codec/decode', await encodedBody(), headers);
      assert.equal(response.status, 401);
      assert.equal(response.headers.get('content-type')?.split(';')[0], 'application/problem+json');
      assert.doesNotMatch(await response.text(), /Delivered/);
    }
  });

  it('checks credentials before reading the body: an unauthenticated 3 MB body or broken JSON gets 401, not 400', async () => {
    const big = JSON.stringify({ payloads: [{ data: 'A'.repeat(3 * 1024 * 1024) }] });
    for (const path of ['/codec/decode', '/codec/encode']) {
      assert.equal((await post(url, path, big)).status, 401);
      assert.equal((await post(url, path, '{"payloads": [')).status, 401);
    }
    assert.equal((await post(url, '/codec/decode', '{"payloads": [', { Authorization: `Bearer ${OPERATOR}` })).status, 400);
  });

  it("answers the UI's preflight, and refuses one from another origin", async () => {
    const ok = await fetch(`${url}/codec/decode`, { method: 'OPTIONS', headers: { Origin: UI, 'Access-Control-Request-Method': 'POST' } });
    assert.equal(ok.status, 204);
    assert.match(ok.headers.get('access-control-allow-headers') ?? '', /x-namespace/);
    const evil = await fetch(`${url}/codec/decode`, { method: 'OPTIONS', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' } });
    assert.equal(evil.status, 403);
    assert.equal(evil.headers.get('access-control-allow-origin'), null);
  });

  describe('sessions', () => {
    it('a codec session from /codec/login lets the browser decode; a wrong token gets none', async () => {
      const refused = await login(url, VIEWER);
      assert.equal(refused.status, 401);
      assert.equal(refused.headers.get('set-cookie'), null);
      const response = await login(url, OPERATOR);
      assert.equal(response.status, 200);
      const cookie = response.headers.get('set-cookie')!;
      assert.match(cookie, /HttpOnly/);
      assert.match(cookie, /SameSite=Strict/);
      assert.doesNotMatch(cookie, /Secure/, 'plain http from no trusted proxy: not Secure');
      const cookieValue = cookie.split(';')[0]!;
      assert.equal((await post(url, '/codec/decode', await encodedBody(), { Cookie: cookieValue })).status, 200);
      const forged = cookieValue.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
      assert.equal((await post(url, '/codec/decode', await encodedBody(), { Cookie: forged })).status, 401);
    });

    it('logout ends the session server-side: the logged-out cookie is refused (401), on this replica and on another', async () => {
      const other = await replica();
      const cookie = await session(url);
      assert.equal((await post(other, '/codec/decode', await encodedBody(), { Cookie: cookie })).status, 200, 'a session works on every replica');
      const logout = await fetch(`${url}/codec/logout`, { method: 'POST', headers: { Cookie: cookie } });
      assert.equal(logout.status, 204);
      assert.match(logout.headers.get('set-cookie') ?? '', /Max-Age=0/);
      // The browser drops the cookie; someone who kept a copy gets nothing from it.
      for (const base of [url, other]) assert.equal((await post(base, '/codec/decode', await encodedBody(), { Cookie: cookie })).status, 401);
    });

    it('a session ends when it expires', async () => {
      const short = await replica({ sessionMs: 300 });
      const cookie = await session(short);
      assert.equal((await post(short, '/codec/decode', await encodedBody(), { Cookie: cookie })).status, 200);
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal((await post(short, '/codec/decode', await encodedBody(), { Cookie: cookie })).status, 401);
    });

    it('the cookie is Secure when the request came over HTTPS through a trusted proxy, and only then', async () => {
      const behindProxy = await replica({}, 'loopback');
      const viaHttps = await login(behindProxy, OPERATOR, { 'X-Forwarded-Proto': 'https' });
      assert.match(viaHttps.headers.get('set-cookie')!, /; Secure/);
      const viaHttp = await login(behindProxy, OPERATOR);
      assert.doesNotMatch(viaHttp.headers.get('set-cookie')!, /Secure/);
      // A proxy that is not trusted cannot say the request was HTTPS.
      const untrusted = await login(url, OPERATOR, { 'X-Forwarded-Proto': 'https' });
      assert.doesNotMatch(untrusted.headers.get('set-cookie')!, /Secure/);
    });

    it('answers 503 while the session store is unreachable (an operator token still works)', async () => {
      const broken = new SqlCodecSessionStore(async () => {
        throw new Error('database down');
      });
      const app = express();
      app.use(createCodecRouter({ codec, allowedOrigins: [UI], isOperator: (h) => h === `Bearer ${OPERATOR}`, sessions: broken }));
      const server = await new Promise<Server>((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
      });
      servers.push(server);
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const cookie = 'smime_codec_session=' + 'a'.repeat(43);
      const refused = await post(base, '/codec/decode', await encodedBody(), { Cookie: cookie });
      assert.equal(refused.status, 503);
      assert.ok(refused.headers.get('retry-after'));
      assert.equal((await post(base, '/codec/decode', await encodedBody(), { Authorization: `Bearer ${OPERATOR}` })).status, 200);
      assert.equal((await login(base, OPERATOR)).status, 503);
    });
  });

  describe('login attempts are limited', () => {
    it('per source address: 429 with Retry-After once the address has used its attempts', async () => {
      const limited = await replica({ loginLimits: { perAddress: { capacity: 3, perSecond: 0.01 }, perToken: { capacity: 100, perSecond: 1 } } });
      for (let i = 0; i < 3; i += 1) assert.equal((await login(limited, `wrong-token-${i}`)).status, 401);
      const refused = await login(limited, OPERATOR);
      assert.equal(refused.status, 429);
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
      assert.equal(refused.headers.get('set-cookie'), null);
    });

    it('per token: guessing one token from many addresses is limited too', async () => {
      const limited = await replica({ loginLimits: { perAddress: { capacity: 100, perSecond: 1 }, perToken: { capacity: 2, perSecond: 0.01 } } }, 'loopback');
      for (let i = 0; i < 2; i += 1) assert.equal((await login(limited, 'guess', { 'X-Forwarded-For': `203.0.113.${i}` })).status, 401);
      const refused = await login(limited, 'guess', { 'X-Forwarded-For': '203.0.113.99' });
      assert.equal(refused.status, 429);
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
      // Another token from the same addresses is not affected.
      assert.equal((await login(limited, OPERATOR, { 'X-Forwarded-For': '203.0.113.99' })).status, 200);
    });
  });

  describe('encode', () => {
    it('refuses to encode a payload (422): payloads are bound to a workflow this endpoint is not told', async () => {
      const plain = defaultPayloadConverter.toPayload('retry')!;
      const response = await post(url, '/codec/encode', { payloads: [toJson(plain)] }, { Authorization: `Bearer ${OPERATOR}` });
      assert.equal(response.status, 422);
      assert.match(((await response.json()) as { detail: string }).detail, /bound to the workflow/);
    });

    it('an empty list is an empty list', async () => {
      const response = await post(url, '/codec/encode', { payloads: [] }, { Authorization: `Bearer ${OPERATOR}` });
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { payloads: [] });
    });
  });

  it('rejects a malformed body with 400 and an undecodable payload with 422', async () => {
    assert.equal((await post(url, '/codec/decode', { nope: 1 }, { Authorization: `Bearer ${OPERATOR}` })).status, 400);
    const other = new AesGcmPayloadCodec(new Keyring([{ kid: 'other', key: randomBytes(32) }]));
    const [foreign] = await other.encode([defaultPayloadConverter.toPayload(1)!]);
    const response = await post(url, '/codec/decode', { payloads: [toJson(foreign!)] }, { Authorization: `Bearer ${OPERATOR}` });
    assert.equal(response.status, 422);
    assert.match(((await response.json()) as { detail: string }).detail, /codec key "other"/);
  });

  it('shows plain payloads as they are (it only reads)', async () => {
    const plain = defaultPayloadConverter.toPayload({ hello: 'world' })!;
    const response = await post(url, '/codec/decode', { payloads: [toJson(plain)] }, { Authorization: `Bearer ${OPERATOR}` });
    const { payloads } = (await response.json()) as { payloads: { data: string }[] };
    assert.deepEqual(JSON.parse(Buffer.from(payloads[0]!.data, 'base64').toString()), { hello: 'world' });
  });
});
