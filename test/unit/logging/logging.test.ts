import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { loadConfig } from '../../../src/config';
import { createLogger, isSecretKey, redactForLog, redactString } from '../../../src/logging';

/** A logger whose lines are kept; every marker string stands for a secret that must never show. */
function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      callback();
    },
  });
  return { logger: createLogger({ level: 'debug' }, stream), text: () => lines.join('\n'), lines };
}

const MARK = (n: number) => `MARKER${n}x7Qz`;

describe('log redaction', () => {
  it('nested and capitalised keys: headers.Authorization, Cookie, AW-Tenant-Code, Proxy-Authorization', () => {
    const { logger, text } = capture();
    logger.info(
      {
        req: { headers: { Authorization: `Bearer ${MARK(1)}`, Cookie: `smime_codec_session=${MARK(2)}`, 'AW-Tenant-Code': MARK(3), 'Proxy-Authorization': MARK(4), Accept: 'application/json' } },
        deeper: { a: { b: { c: { d: { e: { PASSWORD: MARK(5) } } } } } },
      },
      'request',
    );
    for (let n = 1; n <= 5; n += 1) assert.ok(!text().includes(MARK(n)), `marker ${n} leaked: ${text()}`);
    const line = JSON.parse(text());
    assert.equal(line.req.headers.Authorization, '[redacted]');
    assert.equal(line.req.headers.Accept, 'application/json', 'what is not secret stays');
    assert.equal(line.deeper.a.b.c.d.e.PASSWORD, '[redacted]');
  });

  it('a logged configuration: webhook users, API tokens, sealing and codec keys, the database URL, every other secret setting', () => {
    const config = loadConfig({
      env: {
        UEM_WEBHOOK_USERS: `uem:${MARK(10)}-long-enough`,
        API_TOKENS: `${MARK(11)}-0123456789:operator`,
        SEALING_KEYS: `k1:${MARK(12)}`,
        CODEC_KEYS: `k1:${MARK(13)}`,
        ESCROW_DATABASE_URL: `postgresql://app:${MARK(14)}@db.internal:5432/escrow?sslmode=verify-full`,
        UEM_API_PASSWORD: MARK(15),
        UEM_API_TENANT_CODE: MARK(16),
        UEM_OAUTH_CLIENT_SECRET: MARK(17),
        ORDER_CA_API_KEY: MARK(18),
        TEMPORAL_API_KEY: MARK(19),
        NOTIFY_WEBHOOK_SECRET: MARK(20),
        NOTIFY_SMTP_PASSWORD: MARK(21),
        NOTIFY_SMTP_URL: `smtp://mailer:${MARK(22)}@mail.internal:587`,
      },
    });
    const { logger, text } = capture();
    logger.info({ config }, 'configuration');
    for (let n = 10; n <= 22; n += 1) assert.ok(!text().includes(MARK(n)), `marker ${n} leaked`);
    const line = JSON.parse(text());
    assert.equal(line.config.temporalAddress, '127.0.0.1:7233', 'ordinary settings are still there');
    assert.equal(line.config.smtpUrl, 'smtp://mailer:[redacted]@mail.internal:587');
  });

  it('arrays, at any depth', () => {
    const { logger, text } = capture();
    logger.info({ items: [{ password: MARK(30) }, ['plain', { Token: MARK(31) }, [[{ clientSecret: MARK(32) }]]]] });
    for (let n = 30; n <= 32; n += 1) assert.ok(!text().includes(MARK(n)), `marker ${n} leaked`);
    assert.equal(JSON.parse(text()).items[1][0], 'plain');
  });

  it('errors with causes: own properties, causes, messages and stacks, under err or any other key', () => {
    const inner = Object.assign(new Error(`connect to postgresql://app:${MARK(40)}@db/escrow failed`), { config: { apiKey: MARK(41) }, code: 'ECONNREFUSED' });
    const outer = Object.assign(new Error(`request with Authorization: Basic ${MARK(42)}`, { cause: inner }), { headers: { authorization: MARK(43) } });
    const { logger, lines } = capture();
    logger.error({ err: outer }, 'failed');
    logger.error({ error: outer, nested: { failure: new AggregateError([inner], 'several') } }, 'failed again');
    logger.error(outer);
    const all = lines.join('\n');
    for (let n = 40; n <= 43; n += 1) assert.ok(!all.includes(MARK(n)), `marker ${n} leaked: ${all}`);
    const first = JSON.parse(lines[0]!);
    assert.equal(first.err.type, 'Error');
    assert.match(first.err.message, /Authorization: Basic \[redacted\]/);
    assert.match(first.err.stack, /^Error: request with/);
    assert.equal(first.err.cause.code, 'ECONNREFUSED', 'what is not secret stays');
    assert.match(first.err.cause.message, /postgresql:\/\/app:\[redacted\]@db\/escrow/);
    assert.equal(JSON.parse(lines[1]!).error.cause.config.apiKey, '[redacted]');
    assert.equal(JSON.parse(lines[2]!).err.headers.authorization, '[redacted]');
  });

  it('messages, printf arguments and child bindings', () => {
    const { logger, text } = capture();
    logger.child({ headers: { Authorization: `Basic ${MARK(50)}` } }).info(`calling with Bearer ${MARK(51)}`);
    logger.info('connecting to %s', `postgres://u:${MARK(52)}@h/db`);
    for (let n = 50; n <= 52; n += 1) assert.ok(!text().includes(MARK(n)), `marker ${n} leaked: ${text()}`);
    assert.match(text(), /calling with Bearer \[redacted\]/);
  });

  it('PEM private keys and binary values are never written', () => {
    const pem = `-----BEGIN PRIVATE KEY-----\n${MARK(60)}\n-----END PRIVATE KEY-----`;
    const { logger, text } = capture();
    logger.info({ note: `here: ${pem}`, blob: Buffer.from(MARK(61)), bytes: new TextEncoder().encode(MARK(62)) });
    for (let n = 60; n <= 62; n += 1) assert.ok(!text().includes(MARK(n)), `marker ${n} leaked`);
    assert.equal(JSON.parse(text()).blob, `[binary, ${MARK(61).length} bytes]`);
  });

  it('survives circular and very deep objects', () => {
    const loop: Record<string, unknown> = { name: 'loop' };
    loop.self = loop;
    let deep: Record<string, unknown> = { secret: MARK(70) };
    for (let i = 0; i < 50; i += 1) deep = { next: deep };
    const { logger, text } = capture();
    logger.info({ loop, deep });
    const line = JSON.parse(text());
    assert.equal(line.loop.self, '[circular]');
    assert.ok(!text().includes(MARK(70)));
  });

  it('decides by key name in any case and punctuation, and leaves other keys alone', () => {
    for (const key of ['password', 'PASSWORD', 'uemApiPassword', 'aw-tenant-code', 'ESCROW_DATABASE_URL', 'escrowDatabaseUrl', 'sealingKeys', 'CODEC_KEYS', 'apiTokens', 'webhookUsers', 'x-api-key', 'set-cookie', 'sealedPrivateKey', 'key']) {
      assert.ok(isSecretKey(key), key);
    }
    for (const key of ['workflowId', 'email', 'kid', 'stage', 'keyAlgorithm', 'thumbprint', 'serial', 'credentials']) assert.ok(!isSecretKey(key), key);
    assert.deepEqual(redactForLog({ kid: 'k1', key: 'abc' }), { kid: 'k1', key: '[redacted]' });
    assert.equal(redactString('no secret here'), 'no secret here');
  });
});
