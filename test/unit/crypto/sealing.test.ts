import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { Keyring, keyringFromSetting, parseKeyringSpec, Sealer } from '../../../src/activities/crypto/sealing';
import { ConfigError } from '../../../src/config';
import { devKeyringSetting, existingDevelopmentSettings } from '../../../src/tools/dev-settings';
import { assertFailure, tempDir } from './support';

const SEALED_FORMAT = /^sealed:v1:([A-Za-z0-9._-]+):([A-Za-z0-9_-]+):([A-Za-z0-9_-]+)$/;

function key(kid: string) {
  return { kid, key: randomBytes(32) };
}

describe('sealing', () => {
  const current = key('k2');
  const previous = key('k1');
  const sealer = new Sealer(new Keyring([current, previous]));

  describe('Sealer', () => {
    it('round-trips bytes and text under the given context', () => {
      const secret = randomBytes(1200);
      assert.deepEqual(sealer.open(sealer.seal(secret, 'private-key'), 'private-key'), secret);
      assert.equal(sealer.openText(sealer.seal('pässwörd', 'bundle'), 'bundle'), 'pässwörd');
    });

    it('writes sealed:v1:<kid>:<nonce>:<ciphertext+tag> with the current key id and a 12-byte nonce', () => {
      const sealed = sealer.seal('secret', 'bundle');
      const match = SEALED_FORMAT.exec(sealed);
      assert.ok(match, sealed);
      assert.equal(match[1], 'k2');
      assert.equal(Buffer.from(match[2]!, 'base64url').length, 12);
      assert.equal(Buffer.from(match[3]!, 'base64url').length, 'secret'.length + 16);
    });

    it('never repeats a nonce or a ciphertext for the same plaintext', () => {
      const sealed = new Set(Array.from({ length: 200 }, () => sealer.seal('same', 'bundle')));
      assert.equal(sealed.size, 200);
    });

    it('does not contain the plaintext', () => {
      const secret = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ';
      const sealed = sealer.seal(secret, 'private-key');
      assert.ok(!sealed.includes(secret));
      assert.ok(!sealed.includes(Buffer.from(secret).toString('base64url')));
    });

    it('opens what an older key sealed (rotation)', () => {
      const old = new Sealer(new Keyring([previous])).seal('from before', 'bundle');
      assert.equal(sealer.openText(old, 'bundle'), 'from before');
    });

    it('refuses a blob sealed for another context', async () => {
      const sealed = sealer.seal('key bytes', 'private-key');
      const failure = await assertFailure(() => sealer.open(sealed, 'pkcs12-bundle'), 'SealingError', /pkcs12-bundle.*"k2"/);
      assert.equal(failure.nonRetryable, true);
    });

    it('refuses a tampered ciphertext, naming the kid but not the content', async () => {
      const sealed = sealer.seal('top secret value', 'bundle');
      const [prefix, version, kid, nonce, body] = sealed.split(':') as [string, string, string, string, string];
      const bytes = Buffer.from(body, 'base64url');
      bytes[0]! ^= 0x01;
      const tampered = [prefix, version, kid, nonce, bytes.toString('base64url')].join(':');
      const failure = await assertFailure(() => sealer.open(tampered, 'bundle'), 'SealingError', /"k2"/);
      assert.ok(!failure.message.includes('top secret'));
    });

    it('refuses a tampered nonce and a truncated tag', async () => {
      const sealed = sealer.seal('value', 'bundle');
      const parts = sealed.split(':');
      const nonce = Buffer.from(parts[3]!, 'base64url');
      nonce[11]! ^= 0x80;
      await assertFailure(() => sealer.open([...parts.slice(0, 3), nonce.toString('base64url'), parts[4]].join(':'), 'bundle'), 'SealingError');
      const body = Buffer.from(parts[4]!, 'base64url');
      await assertFailure(() => sealer.open([...parts.slice(0, 4), body.subarray(0, body.length - 1).toString('base64url')].join(':'), 'bundle'), 'SealingError');
    });

    it('refuses a blob relabelled with another known kid', async () => {
      const sealed = sealer.seal('value', 'bundle');
      await assertFailure(() => sealer.open(sealed.replace(':k2:', ':k1:'), 'bundle'), 'SealingError', /"k1"/);
    });

    it('refuses an unknown kid and says which kids it knows', async () => {
      const foreign = new Sealer(new Keyring([key('elsewhere')])).seal('value', 'bundle');
      await assertFailure(() => sealer.open(foreign, 'bundle'), 'SealingError', /"elsewhere" is not in the keyring \(known: k2, k1\)/);
    });

    it('refuses strings that are not sealed values', async () => {
      for (const bad of ['', 'plain text', 'sealed:v2:k2:AAAA:BBBB', 'sealed:v1:k2:AAAA', 'sealed:v1:k2:!!:??']) {
        await assertFailure(() => sealer.open(bad, 'bundle'), 'SealingError', /not a sealed:v1 value/);
      }
    });
  });

  describe('Keyring', () => {
    it('treats the first key as current and finds every key by id', () => {
      const keyring = new Keyring([current, previous]);
      assert.equal(keyring.current.kid, 'k2');
      assert.deepEqual(keyring.kids, ['k2', 'k1']);
      assert.deepEqual(keyring.find('k1')?.key, previous.key);
      assert.equal(keyring.find('nope'), undefined);
    });

    it('rejects empty keyrings, short keys, duplicate and unusable kids', () => {
      assert.throws(() => new Keyring([]), /at least one key/);
      assert.throws(() => new Keyring([{ kid: 'a', key: randomBytes(16) }]), /32 bytes/);
      assert.throws(() => new Keyring([key('a'), key('a')]), /appears twice/);
      assert.throws(() => new Keyring([key('a:b')]), /key id/);
    });

    it('keeps key bytes out of JSON and inspection', () => {
      const keyring = new Keyring([current]);
      assert.ok(!JSON.stringify(keyring).includes(current.key.toString('base64')));
      assert.equal(inspect(keyring, { depth: 5 }), 'Keyring { kids: [k2] }');
    });
  });

  describe('parseKeyringSpec', () => {
    it('parses kid:base64 entries, standard or URL-safe', () => {
      const a = randomBytes(32);
      const b = Buffer.from('fbff'.repeat(16), 'hex'); // encodes with + and / (standard) or - and _ (URL-safe)
      const keys = parseKeyringSpec([`a:${a.toString('base64')}`, `b-2:${b.toString('base64url')}`], 'SEALING_KEYS');
      assert.deepEqual(keys.map((k) => k.kid), ['a', 'b-2']);
      assert.deepEqual(keys[0]!.key, a);
      assert.deepEqual(keys[1]!.key, b);
    });

    it('names the setting and the entry, never the key material', () => {
      const shortKey = randomBytes(31).toString('base64');
      assert.throws(
        () => parseKeyringSpec([`good:${randomBytes(32).toString('base64')}`, `short:${shortKey}`], 'SEALING_KEYS'),
        (error: Error) => /SEALING_KEYS entry 2 \(kid "short"\).*32 bytes, got 31/.test(error.message) && !error.message.includes(shortKey),
      );
      const notBase64 = 'this is not base64 at all!';
      assert.throws(() => parseKeyringSpec([`k:${notBase64}`], 'CODEC_KEYS'), (error: Error) => /CODEC_KEYS entry 1/.test(error.message) && !error.message.includes(notBase64));
      assert.throws(() => parseKeyringSpec([randomBytes(32).toString('base64')], 'CODEC_KEYS'), /CODEC_KEYS entry 1 must look like kid:base64key/);
    });

    it('rejects a kid given twice', () => {
      const k = randomBytes(32).toString('base64');
      assert.throws(() => parseKeyringSpec([`x:${k}`, `x:${k}`], 'SEALING_KEYS'), /SEALING_KEYS: key id "x" appears twice/);
    });
  });

  describe('keyringFromSetting', () => {
    it('builds the keyring a setting holds', () => {
      const configured = randomBytes(32);
      const keyring = keyringFromSetting([`prod-1:${configured.toString('base64')}`], 'SEALING_KEYS');
      assert.equal(keyring.current.kid, 'prod-1');
      assert.deepEqual(keyring.current.key, configured);
    });

    it('refuses an empty setting with a ConfigError naming it: production code never makes keys', () => {
      assert.throws(() => keyringFromSetting([], 'CODEC_KEYS'), (err: unknown) => err instanceof ConfigError && /^CODEC_KEYS: required/.test(err.problems[0]!));
    });

    it('names the setting, never the key, for a bad entry', () => {
      const short = randomBytes(8).toString('base64');
      assert.throws(
        () => keyringFromSetting([`k1:${short}`], 'SEALING_KEYS'),
        (err: unknown) => err instanceof ConfigError && err.message.includes('SEALING_KEYS') && !err.message.includes(short),
      );
    });
  });

  describe('development key files (src/tools/dev-settings)', () => {
    const dir = tempDir('keyring');
    after(() => dir.remove());

    it('creates a 0600 key file on first use and reuses it afterwards', () => {
      const dataDir = join(dir.path, 'fresh', 'data');
      const first = keyringFromSetting([devKeyringSetting(dataDir, 'sealing-keys.json')], 'SEALING_KEYS');
      const file = join(dataDir, 'sealing-keys.json');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const stored = JSON.parse(readFileSync(file, 'utf8')) as { kid: string; key: string }[];
      assert.equal(stored.length, 1);
      assert.equal(stored[0]!.kid, first.current.kid);
      const second = keyringFromSetting([devKeyringSetting(dataDir, 'sealing-keys.json')], 'SEALING_KEYS');
      assert.deepEqual(second.current.key, first.current.key);
      const sealed = new Sealer(first).seal('across restarts', 'bundle');
      assert.equal(new Sealer(second).openText(sealed, 'bundle'), 'across restarts');
    });

    it('refuses a damaged key file with a message naming the file, not the key', () => {
      const dataDir = join(dir.path, 'damaged');
      devKeyringSetting(dataDir, 'sealing-keys.json');
      const short = randomBytes(8).toString('base64');
      writeFileSync(join(dataDir, 'sealing-keys.json'), JSON.stringify([{ kid: 'dev', key: short }]));
      assert.throws(
        () => devKeyringSetting(dataDir, 'sealing-keys.json'),
        (error: Error) => error.message.includes('sealing-keys.json') && !error.message.includes(short),
      );
    });

    it('gives a command-line tool nothing for a data folder that never held a dev stack', () => {
      assert.equal(existingDevelopmentSettings(join(dir.path, 'production')), undefined);
      assert.equal(existsSync(join(dir.path, 'production')), false, 'nothing is created');
    });
  });
});
