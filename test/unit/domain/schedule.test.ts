import assert from 'node:assert/strict';
import { DAY_MS, HOUR_MS, MINUTE_MS, defaultSchedule, deliveryWindow, formatDuration, parseDuration } from '../../../src/domain/schedule';

describe('delivery window', () => {
  const t0 = Date.parse('2026-11-20T09:00:00Z');

  it('legacy-4h: 75 attempts, 4 hours apart, the first at once', () => {
    const { attemptTimes, deadline } = deliveryWindow(defaultSchedule('legacy-4h'), t0, t0);
    assert.equal(attemptTimes.length, 75);
    assert.equal(attemptTimes[0], t0);
    assert.equal(attemptTimes[1]! - attemptTimes[0]!, 4 * HOUR_MS);
    assert.equal(attemptTimes[74], t0 + 74 * 4 * HOUR_MS);
    assert.equal(deadline, t0 + 12.5 * DAY_MS);
  });

  it('never plans an attempt after EventTime + 12.5 days when the event arrives late', () => {
    const startedAt = t0 + 2 * DAY_MS;
    const { attemptTimes } = deliveryWindow(defaultSchedule('legacy-4h'), t0, startedAt);
    assert.ok(attemptTimes.every((t) => t <= t0 + 12.5 * DAY_MS));
    assert.equal(attemptTimes.length, 64); // 0 h … 252 h after a start 48 h late: the last lands exactly on the deadline
  });

  it('plans nothing for an event older than the window', () => {
    assert.deepEqual(deliveryWindow(defaultSchedule('legacy-4h'), t0, t0 + 13 * DAY_MS).attemptTimes, []);
  });

  it('does not let a future EventTime (UEM clock skew) stretch the window', () => {
    const { deadline } = deliveryWindow(defaultSchedule('legacy-4h'), t0 + HOUR_MS, t0);
    assert.equal(deadline, t0 + 12.5 * DAY_MS);
  });

  it('event-driven: quick early retries that stretch out to 4 hours, within the same bounds', () => {
    const { attemptTimes } = deliveryWindow(defaultSchedule('event-driven'), t0, t0);
    const offsets = attemptTimes.map((t) => t - t0);
    assert.deepEqual(offsets.slice(0, 9), [0, 1, 5, 15, 30, 60, 120, 240, 480].map((m) => m * MINUTE_MS));
    assert.equal(attemptTimes.length, 75);
    assert.ok(offsets.slice(8).every((o, i) => o - offsets[7 + i]! === 4 * HOUR_MS));
    assert.ok(attemptTimes.every((t) => t <= t0 + 12.5 * DAY_MS));
  });
});

describe('durations', () => {
  it('parses and formats', () => {
    assert.equal(parseDuration('4h'), 4 * HOUR_MS);
    assert.equal(parseDuration('12.5d'), 12.5 * DAY_MS);
    assert.equal(parseDuration('250'), 250);
    assert.throws(() => parseDuration('soon'), /not a duration/);
    assert.equal(formatDuration(54 * HOUR_MS), '2d 6h');
    assert.equal(formatDuration(90_000), '2m');
  });
});
