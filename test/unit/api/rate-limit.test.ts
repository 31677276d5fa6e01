import assert from 'node:assert/strict';
import { perSecondLimit, TokenBuckets } from '../../../src/api/rate-limit';

describe('token buckets', () => {
  it('lets a burst through, then the rate, and says how long to wait', () => {
    let now = 0;
    const buckets = new TokenBuckets({ capacity: 3, perSecond: 0.5 }, { now: () => now });
    for (let i = 0; i < 3; i += 1) assert.deepEqual(buckets.take('a'), { ok: true });
    assert.deepEqual(buckets.take('a'), { ok: false, retryAfterSeconds: 2 });
    now = 1000;
    assert.deepEqual(buckets.take('a'), { ok: false, retryAfterSeconds: 1 });
    now = 2000;
    assert.deepEqual(buckets.take('a'), { ok: true });
    assert.deepEqual(buckets.take('b'), { ok: true }, 'each key has its own bucket');
  });

  it('keeps at most maxKeys buckets, dropping the least recently used', () => {
    const buckets = new TokenBuckets({ capacity: 1, perSecond: 0.001 }, { maxKeys: 2, now: () => 0 });
    buckets.take('a');
    buckets.take('b');
    buckets.take('a'); // refused, but now the most recently used
    buckets.take('c'); // evicts b
    assert.equal(buckets.size, 2);
    assert.equal(buckets.take('a').ok, false, 'a is still counted');
    assert.equal(buckets.take('b').ok, true, 'b came back full');
  });

  it('a setting of requests per second: bursts of two seconds\' worth, 0 for none', () => {
    assert.deepEqual(perSecondLimit(500), { perSecond: 500, capacity: 1000 });
    assert.deepEqual(perSecondLimit(0.5), { perSecond: 0.5, capacity: 1 });
    assert.equal(perSecondLimit(0), undefined);
  });
});
