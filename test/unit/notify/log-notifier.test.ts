import assert from 'node:assert/strict';
import { FAILURE_LOG_MESSAGE, LogNotifier, REINSTALL_LOG_MAX_DEVICES, REINSTALL_LOG_MESSAGE } from '../../../src/activities/notify/log-notifier';
import type { FailureNotice, ProfileReinstallNotice } from '../../../src/activities/notify/notifier';
import { capturingLogger, sampleNotice, sampleReinstallNotice } from '../../helpers/loopback';

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

  describe('profile re-install notices', () => {
    it('writes one JSON line at warn level with every field of the notice, the devices included', async () => {
      const capture = capturingLogger();
      const notice = sampleReinstallNotice();

      await new LogNotifier(capture.logger).notifyProfileReinstall(notice);

      const lines = capture.lines();
      assert.equal(lines.length, 1);
      const line = lines[0]!;
      assert.equal(line.level, 'warn');
      assert.equal(line.msg, REINSTALL_LOG_MESSAGE);
      assert.equal(line.msg, 'S/MIME profile re-install needed');
      for (const [field, value] of Object.entries(notice)) assert.deepEqual(line[field], value, field);
      assert.equal(line.devicesNotListed, 0);
    });

    it(`lists at most ${REINSTALL_LOG_MAX_DEVICES} devices and says how many are left out`, async () => {
      const capture = capturingLogger();
      const notice = sampleReinstallNotice({ total: 1500 }, 1000);

      await new LogNotifier(capture.logger).notifyProfileReinstall(notice);

      const line = capture.lines()[0]!;
      const devices = line.devices as ProfileReinstallNotice['devices'];
      assert.equal(devices.length, REINSTALL_LOG_MAX_DEVICES);
      assert.deepEqual(devices, notice.devices.slice(0, REINSTALL_LOG_MAX_DEVICES));
      assert.equal(line.total, 1500);
      assert.equal(line.devicesNotListed, 1500 - REINSTALL_LOG_MAX_DEVICES);
      assert.equal(line.howToFind, notice.howToFind);
    });
  });
});
