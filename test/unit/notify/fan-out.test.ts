import assert from 'node:assert/strict';
import { FanOutNotifier } from '../../../src/activities/notify/fan-out';
import type { FailureNotice, Notifier, ProfileReinstallNotice } from '../../../src/activities/notify/notifier';
import { nonRetryable, retryable } from '../../../src/domain/errors';
import { failsWith, sampleNotice, sampleReinstallNotice } from '../../helpers/loopback';

/**
 * A notifier that records what it was asked to send and answers as scripted (default: success);
 * the answers are used in order by whichever kind of notice comes next.
 */
class ScriptedNotifier implements Notifier {
  readonly sent: FailureNotice[] = [];
  readonly sentReinstalls: ProfileReinstallNotice[] = [];
  private readonly answers: (() => Promise<void>)[];

  constructor(
    readonly type: string,
    ...answers: (() => Promise<void>)[]
  ) {
    this.answers = answers;
  }

  async notifyFailure(notice: FailureNotice): Promise<void> {
    this.sent.push(notice);
    const answer = this.answers.shift();
    if (answer) await answer();
  }

  async notifyProfileReinstall(notice: ProfileReinstallNotice): Promise<void> {
    this.sentReinstalls.push(notice);
    const answer = this.answers.shift();
    if (answer) await answer();
  }
}

const unavailable = (message: string) => async () => {
  throw retryable('NotifierUnavailable', message);
};
const refused = (message: string) => async () => {
  throw nonRetryable('ConfigurationError', message);
};

describe('FanOutNotifier', () => {
  it('sends through every notifier', async () => {
    const log = new ScriptedNotifier('log');
    const webhook = new ScriptedNotifier('webhook');
    const notice = sampleNotice();

    await new FanOutNotifier([log, webhook]).notifyFailure(notice);

    assert.deepEqual(log.sent, [notice]);
    assert.deepEqual(webhook.sent, [notice]);
  });

  it('fails retryably when one notifier fails retryably, and the retry does not resend the one that succeeded', async () => {
    const log = new ScriptedNotifier('log');
    const webhook = new ScriptedNotifier('webhook', unavailable('webhook answered HTTP 503'));
    const fanOut = new FanOutNotifier([log, webhook]);
    const notice = sampleNotice();

    const err = await failsWith(fanOut.notifyFailure(notice), 'NotifierUnavailable', false);
    assert.match(err.message, /webhook: NotifierUnavailable: webhook answered HTTP 503/);
    assert.match(err.message, /delivered by log/);

    await fanOut.notifyFailure(notice); // Temporal's retry of the activity
    assert.equal(log.sent.length, 1, 'the log notifier is not asked again');
    assert.equal(webhook.sent.length, 2, 'the webhook is tried again');
  });

  it('fails with a non-retryable ConfigurationError when every failure is non-retryable', async () => {
    const log = new ScriptedNotifier('log');
    const webhook = new ScriptedNotifier('webhook', refused('webhook answered HTTP 401'));
    const email = new ScriptedNotifier('email', refused('550 no such mailbox'));

    const err = await failsWith(new FanOutNotifier([log, webhook, email]).notifyFailure(sampleNotice()), 'ConfigurationError', true);
    assert.match(err.message, /HTTP 401/);
    assert.match(err.message, /550 no such mailbox/);
    assert.deepEqual((err.details?.[0] as { delivered: string[] } | undefined)?.delivered, ['log']);
  });

  it('fails retryably when failures are mixed, naming all of them', async () => {
    const webhook = new ScriptedNotifier('webhook', refused('webhook answered HTTP 401'));
    const email = new ScriptedNotifier('email', unavailable('connection refused'));

    const err = await failsWith(new FanOutNotifier([webhook, email]).notifyFailure(sampleNotice()), 'NotifierUnavailable', false);
    assert.match(err.message, /webhook: ConfigurationError: webhook answered HTTP 401/);
    assert.match(err.message, /email: NotifierUnavailable: connection refused/);
  });

  it('treats an untyped error as retryable, as Temporal would', async () => {
    const broken = new ScriptedNotifier('webhook', async () => {
      throw new TypeError('boom');
    });
    await failsWith(new FanOutNotifier([broken]).notifyFailure(sampleNotice()), 'NotifierUnavailable', false);
  });

  it('sends a notice for another run again through every notifier', async () => {
    const log = new ScriptedNotifier('log');
    const fanOut = new FanOutNotifier([log]);

    await fanOut.notifyFailure(sampleNotice({ runId: 'run-1' }));
    await fanOut.notifyFailure(sampleNotice({ runId: 'run-2' }));

    assert.deepEqual(log.sent.map((n) => n.runId), ['run-1', 'run-2']);
  });

  it('joins a send that is still in flight instead of starting a second one', async () => {
    let release!: () => void;
    const slow = new ScriptedNotifier('webhook', () => new Promise<void>((resolve) => (release = resolve)));
    const fanOut = new FanOutNotifier([slow]);
    const notice = sampleNotice();

    const first = fanOut.notifyFailure(notice);
    const second = fanOut.notifyFailure(notice);
    release();
    await Promise.all([first, second]);

    assert.equal(slow.sent.length, 1);
  });

  it('forgets the oldest notices beyond its limit (a later retry of those resends)', async () => {
    const log = new ScriptedNotifier('log');
    const fanOut = new FanOutNotifier([log], { rememberNotices: 2 });

    for (const runId of ['a', 'b', 'c', 'a', 'c']) await fanOut.notifyFailure(sampleNotice({ runId }));

    // 'a' had been forgotten when it came back; 'c' was still remembered.
    assert.deepEqual(log.sent.map((n) => n.runId), ['a', 'b', 'c', 'a']);
  });

  it('refuses an empty list of notifiers', () => {
    assert.throws(() => new FanOutNotifier([]), /at least one failure notifier/);
  });

  describe('profile re-install notices', () => {
    it('sends through every notifier', async () => {
      const log = new ScriptedNotifier('log');
      const webhook = new ScriptedNotifier('webhook');
      const notice = sampleReinstallNotice();

      await new FanOutNotifier([log, webhook]).notifyProfileReinstall(notice);

      assert.deepEqual(log.sentReinstalls, [notice]);
      assert.deepEqual(webhook.sentReinstalls, [notice]);
      assert.equal(log.sent.length + webhook.sent.length, 0, 'no failure notice');
    });

    it('fails retryably when one notifier fails retryably, and the retry does not resend the one that succeeded', async () => {
      const log = new ScriptedNotifier('log');
      const email = new ScriptedNotifier('email', unavailable('SMTP server unavailable'));
      const fanOut = new FanOutNotifier([log, email]);
      const notice = sampleReinstallNotice();

      const err = await failsWith(fanOut.notifyProfileReinstall(notice), 'NotifierUnavailable', false);
      assert.match(err.message, /^profile re-install notice not delivered \(delivered by log\): email: NotifierUnavailable: SMTP server unavailable$/);

      await fanOut.notifyProfileReinstall(notice); // Temporal's retry of the activity
      assert.equal(log.sentReinstalls.length, 1, 'the log notifier is not asked again');
      assert.equal(email.sentReinstalls.length, 2, 'the email is tried again');
    });

    it('fails with a non-retryable ConfigurationError when every failure is non-retryable', async () => {
      const log = new ScriptedNotifier('log');
      const webhook = new ScriptedNotifier('webhook', refused('webhook answered HTTP 401'));

      const err = await failsWith(new FanOutNotifier([log, webhook]).notifyProfileReinstall(sampleReinstallNotice()), 'ConfigurationError', true);
      assert.match(err.message, /^profile re-install notice refused for good \(delivered by log\): webhook: ConfigurationError: webhook answered HTTP 401$/);
      assert.deepEqual((err.details?.[0] as { delivered: string[] } | undefined)?.delivered, ['log']);
    });

    it('fails retryably when failures are mixed', async () => {
      const webhook = new ScriptedNotifier('webhook', refused('webhook answered HTTP 401'));
      const email = new ScriptedNotifier('email', unavailable('connection refused'));

      await failsWith(new FanOutNotifier([webhook, email]).notifyProfileReinstall(sampleReinstallNotice()), 'NotifierUnavailable', false);
    });

    it('does not count a delivered failure notice of the same run as the reinstall notice, nor the other way round', async () => {
      const log = new ScriptedNotifier('log');
      const fanOut = new FanOutNotifier([log]);
      const run = { workflowId: 'smime-renewal-batch-7', runId: 'run-1' };

      await fanOut.notifyFailure(sampleNotice(run));
      await fanOut.notifyProfileReinstall(sampleReinstallNotice(run));
      await fanOut.notifyFailure(sampleNotice(run)); // a retry: already delivered
      await fanOut.notifyProfileReinstall(sampleReinstallNotice(run)); // a retry: already delivered

      assert.equal(log.sent.length, 1);
      assert.equal(log.sentReinstalls.length, 1);
    });

    it('sends a reinstall notice of another batch again', async () => {
      const log = new ScriptedNotifier('log');
      const fanOut = new FanOutNotifier([log]);

      await fanOut.notifyProfileReinstall(sampleReinstallNotice({ runId: 'batch-1' }));
      await fanOut.notifyProfileReinstall(sampleReinstallNotice({ runId: 'batch-2' }));

      assert.deepEqual(log.sentReinstalls.map((n) => n.runId), ['batch-1', 'batch-2']);
    });

    it('joins a send that is still in flight instead of starting a second one', async () => {
      let release!: () => void;
      const slow = new ScriptedNotifier('webhook', () => new Promise<void>((resolve) => (release = resolve)));
      const fanOut = new FanOutNotifier([slow]);
      const notice = sampleReinstallNotice();

      const first = fanOut.notifyProfileReinstall(notice);
      const second = fanOut.notifyProfileReinstall(notice);
      release();
      await Promise.all([first, second]);

      assert.equal(slow.sentReinstalls.length, 1);
    });
  });
});
