import assert from 'node:assert/strict';
import { FAILURE_LOG_MESSAGE, LogNotifier } from '../../../src/activities/notify/log-notifier';
import type { FailureNotice } from '../../../src/activities/notify/notifier';
import { capturingLogger, sampleNotice } from '../../helpers/loopback';

describe('LogNotifier', () => {
  it('writes one JSON line at error level with every field of the notice', async () => {
    const capture = capturingLogger();
    const notice = sampleNotice();

    await new LogNotifier(capture.logger).notifyFailure(notice);

    const lines = capture.lines();
    assert.equal(lines.length, 1);
    const line = lines[0]!;
    assert.equal(line.level, 'error');
    assert.equal(line.msg, FAILURE_LOG_MESSAGE);
    assert.equal(line.msg, 'S/MIME delivery failed');
    for (const [field, value] of Object.entries(notice)) assert.deepEqual(line[field], value, field);
  });

  it("goes through the logger's redaction", async () => {
    const capture = capturingLogger();
    // A notice never carries a secret; if a future field did, the logger's redaction must still apply.
    const notice = { ...sampleNotice(), password: 'hunter2-do-not-log' } as FailureNotice;

    await new LogNotifier(capture.logger).notifyFailure(notice);

    assert.equal(capture.lines()[0]!.password, '[redacted]');
    assert.ok(!capture.raw().includes('hunter2-do-not-log'));
  });
});
