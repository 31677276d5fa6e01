import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyPool } from '../../../src/activities/crypto/key-pool';
import { Keyring, Sealer } from '../../../src/activities/crypto/sealing';

const RSA = { algorithm: 'rsa' as const, rsaBits: 2048, ecCurve: 'P-256' as const };
const EC = { algorithm: 'ec' as const, rsaBits: 2048, ecCurve: 'P-256' as const };

describe('key pool', function () {
  this.timeout(60_000);
  let dir: string;
  const sealer = new Sealer(new Keyring([{ kid: 'pool-test', key: randomBytes(32) }]));
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'key-pool-'));
  });
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('fills to its size in the background and no further', async () => {
    const pool = new KeyPool({ keyOptions: EC, size: 5, dir, sealer });
    await pool.untilFull(20_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(pool.available, 5);
    pool.stop();
  });

  it('hands out pooled keys first, then generates on demand', async () => {
    const pool = new KeyPool({ keyOptions: EC, size: 2, dir, sealer });
    await pool.untilFull(20_000);
    pool.stop(); // no refill during the test
    const taken = [await pool.take(), await pool.take(), await pool.take()];
    assert.deepEqual(taken.map((k) => k.fromPool), [true, true, false]);
    assert.equal(new Set(taken.map((k) => k.publicKeySha256)).size, 3);
    assert.equal(taken[0]!.algorithm, 'EC-P-256');
  });

  it('leaves the cores to a burst: no refill while keys are being taken', async () => {
    const pool = new KeyPool({ keyOptions: EC, size: 2, dir, sealer, maxRefillDeferMs: 60_000 });
    await pool.untilFull(20_000);
    const burst = setInterval(() => void pool.take(), 200);
    try {
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal(pool.stats.generatedInBackground, 2, 'only the initial fill');
    } finally {
      clearInterval(burst);
    }
    await pool.untilFull(20_000); // and refills once the burst is over
    pool.stop();
  });

  it('still refills under load that never pauses, one key per maxRefillDeferMs', async () => {
    const pool = new KeyPool({ keyOptions: EC, size: 2, dir, sealer, maxRefillDeferMs: 500 });
    await pool.untilFull(20_000);
    const load = setInterval(() => void pool.take(), 200);
    try {
      await new Promise((r) => setTimeout(r, 2500));
      assert.ok(pool.stats.generatedInBackground >= 4, `background keys: ${pool.stats.generatedInBackground}`);
    } finally {
      clearInterval(load);
      pool.stop();
    }
  });

  it('keeps keys sealed at rest: no pool file holds the private key', async () => {
    const pool = new KeyPool({ keyOptions: RSA, size: 2, dir, sealer });
    await pool.untilFull(30_000);
    pool.stop();
    const onDisk = readdirSync(dir).map((f) => readFileSync(join(dir, f)));
    const key = await pool.take();
    const der = key.privateKeyPkcs8;
    for (const file of onDisk) {
      const text = file.toString('latin1');
      assert.ok(!file.includes(der.subarray(40, 120)), 'raw DER');
      assert.ok(!text.includes(der.toString('base64').slice(60, 140)), 'base64 DER');
      assert.match(text, /sealed:v1:pool-test:/);
    }
  });

  it('never hands the same key out twice, even to two processes sharing the folder', async () => {
    const first = new KeyPool({ keyOptions: EC, size: 12, dir, sealer });
    await first.untilFull(20_000);
    first.stop();
    const second = new KeyPool({ keyOptions: EC, size: 0, dir, sealer });
    const taken = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? first : second).take()));
    assert.equal(new Set(taken.map((k) => k.publicKeySha256)).size, 12);
    assert.equal(taken.filter((k) => k.fromPool).length, 12);
    assert.equal(first.available, 0);
  });

  it('discards pooled keys of another algorithm instead of handing them out', async () => {
    const ec = new KeyPool({ keyOptions: EC, size: 1, dir, sealer });
    await ec.untilFull(20_000);
    ec.stop();
    const rsa = new KeyPool({ keyOptions: RSA, size: 0, dir, sealer });
    const key = await rsa.take();
    assert.equal(key.algorithm, 'RSA-2048');
    assert.equal(key.fromPool, false);
    assert.equal(rsa.stats.discarded, 1);
  });

  it('discards a pooled key it cannot open (another key-encryption key)', async () => {
    const other = new Sealer(new Keyring([{ kid: 'other', key: randomBytes(32) }]));
    const foreign = new KeyPool({ keyOptions: EC, size: 1, dir, sealer: other });
    await foreign.untilFull(20_000);
    foreign.stop();
    const pool = new KeyPool({ keyOptions: EC, size: 0, dir, sealer });
    const key = await pool.take();
    assert.equal(key.fromPool, false);
    assert.equal(pool.stats.discarded, 1);
    assert.equal(readdirSync(dir).length, 0, 'the unreadable file is gone');
  });

  it('ignores half-written files', async () => {
    writeFileSync(join(dir, '1-x.partial'), '{');
    const pool = new KeyPool({ keyOptions: EC, size: 0, dir, sealer });
    assert.equal(pool.available, 0);
    assert.equal((await pool.take()).fromPool, false);
  });
});
