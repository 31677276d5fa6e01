/**
 * The notifier the worker builds from configuration, against a real HTTP receiver and a real SMTP
 * server on loopback: every channel gets the notice (a failure, or a renewal batch's profile
 * re-install request) with the workflow link filled in, and a retry after a partial failure
 * resends only where it failed.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createNotifier } from '../../src/activities/notify';
import { loadConfig } from '../../src/config';
import {
  capturingLogger,
  failsWith,
  sampleNotice,
  sampleReinstallNotice,
  startHttpReceiver,
  startSmtpServer,
  type HttpReceiver,
  type SmtpFixture,
} from '../helpers/loopback';

describe('failure notification through every configured channel', () => {
  let receiver: HttpReceiver;
  let smtp: SmtpFixture;
  beforeEach(async () => {
    receiver = await startHttpReceiver();
    smtp = await startSmtpServer();
  });
  afterEach(async () => {
    await Promise.all([receiver?.close(), smtp?.close()]);
  });

  const secret = 'e2e-webhook-secret';
  function notifierFromConfig() {
    const config = loadConfig({
      env: {},
      overrides: {
        notifiers: 'log,webhook,email',
        notifyWebhookUrl: `${receiver.url}/smime-failures`,
        notifyWebhookSecret: secret,
        smtpUrl: smtp.url,
        emailFrom: 'smime-provider@example.test',
        emailTo: 'pki-admins@example.test',
        uiUrl: 'http://127.0.0.1:8233',
        temporalNamespace: 'smime-e2e',
      },
    });
    const capture = capturingLogger();
    return { notifier: createNotifier(config, capture.logger), capture };
  }

  it('delivers one notice to the log, the webhook and the mailbox, each with the workflow link', async () => {
    const { notifier, capture } = notifierFromConfig();
    const notice = sampleNotice({ workflowUrl: '' });
    const link = `http://127.0.0.1:8233/namespaces/smime-e2e/workflows/${encodeURIComponent(notice.workflowId)}/${notice.runId}/history`;

    await notifier.notifyFailure(notice);

    const logged = capture.lines().filter((l) => l.msg === 'S/MIME delivery failed');
    assert.equal(logged.length, 1);
    assert.equal(logged[0]!.workflowUrl, link);

    assert.equal(receiver.requests.length, 1);
    const req = receiver.requests[0]!;
    const timestamp = String(req.headers['x-signature-timestamp']);
    assert.equal(req.headers['x-signature-sha256'], `sha256=${createHmac('sha256', secret).update(`${timestamp}.${req.body.toString('utf8')}`).digest('hex')}`);
    assert.equal(JSON.parse(req.body.toString('utf8')).notice.workflowUrl, link);

    assert.equal(smtp.messages.length, 1);
    assert.deepEqual(smtp.messages[0]!.to, ['pki-admins@example.test']);
    assert.ok((smtp.messages[0]!.parsed.text ?? '').includes(link));
  });

  it('on a retry after the webhook failed, posts again but does not send a second email', async () => {
    const { notifier } = notifierFromConfig();
    const notice = sampleNotice({ workflowUrl: '' });
    let answers = 0;
    receiver.answer = (_req, res) => {
      answers += 1;
      res.statusCode = answers === 1 ? 503 : 200;
      res.end();
    };

    await failsWith(notifier.notifyFailure(notice), 'NotifierUnavailable', false);
    await notifier.notifyFailure(notice); // what Temporal's retry of the activity does

    assert.equal(receiver.requests.length, 2);
    assert.equal(receiver.requests[0]!.headers['idempotency-key'], receiver.requests[1]!.headers['idempotency-key']);
    assert.equal(smtp.messages.length, 1);
  });

  describe('profile re-install notice of a renewal batch', () => {
    it('delivers one notice to the log, the webhook and the mailbox, each with the workflow link and the devices', async () => {
      const { notifier, capture } = notifierFromConfig();
      const notice = sampleReinstallNotice({ workflowUrl: '' });
      const link = `http://127.0.0.1:8233/namespaces/smime-e2e/workflows/${encodeURIComponent(notice.workflowId)}/${notice.runId}/history`;

      await notifier.notifyProfileReinstall(notice);

      const logged = capture.lines().filter((l) => l.msg === 'S/MIME profile re-install needed');
      assert.equal(logged.length, 1);
      assert.equal(logged[0]!.level, 'warn');
      assert.equal(logged[0]!.workflowUrl, link);
      assert.deepEqual(logged[0]!.devices, notice.devices);

      assert.equal(receiver.requests.length, 1);
      const req = receiver.requests[0]!;
      const timestamp = String(req.headers['x-signature-timestamp']);
      assert.equal(req.headers['x-signature-sha256'], `sha256=${createHmac('sha256', secret).update(`${timestamp}.${req.body.toString('utf8')}`).digest('hex')}`);
      assert.equal(req.headers['idempotency-key'], `${notice.workflowId}/${notice.runId}/profile-reinstall`);
      const body = JSON.parse(req.body.toString('utf8'));
      assert.equal(body.type, 'smime.profile.reinstall-needed');
      assert.equal(body.version, 1);
      assert.deepEqual(body.notice, { ...notice, workflowUrl: link });

      assert.equal(smtp.messages.length, 1);
      const mail = smtp.messages[0]!;
      assert.deepEqual(mail.to, ['pki-admins@example.test']);
      assert.equal(mail.parsed.subject, 'S/MIME renewal: re-push the S/MIME profile to 3 devices');
      const text = mail.parsed.text ?? '';
      assert.ok(text.includes(link), text);
      for (const device of notice.devices) assert.ok(text.includes(device.serialNumber!) && (mail.parsed.html || '').includes(device.deviceUuid));
    });

    it('on a retry after the email failed, sends the email again but does not post a second time', async () => {
      await smtp.close();
      let refusals = 0;
      smtp = await startSmtpServer({
        onRcptTo(_address, _session, callback) {
          refusals += 1;
          if (refusals === 1) callback(Object.assign(new Error('Mailbox busy, try again'), { responseCode: 450 }));
          else callback();
        },
      });
      const { notifier, capture } = notifierFromConfig();
      const notice = sampleReinstallNotice({ workflowUrl: '' });

      const err = await failsWith(notifier.notifyProfileReinstall(notice), 'NotifierUnavailable', false);
      assert.match(err.message, /profile re-install notice not delivered \(delivered by log, webhook\): email: NotifierUnavailable: .*450/);
      await notifier.notifyProfileReinstall(notice); // what Temporal's retry of the activity does

      assert.equal(smtp.messages.length, 1);
      assert.equal(receiver.requests.length, 1);
      assert.equal(capture.lines().filter((l) => l.msg === 'S/MIME profile re-install needed').length, 1);
    });

    it('a failure notice of the same run still goes to every channel', async () => {
      const { notifier } = notifierFromConfig();
      const run = { workflowId: 'smime-renewal-batch-7', runId: 'run-1', workflowUrl: '' };

      await notifier.notifyProfileReinstall(sampleReinstallNotice(run));
      await notifier.notifyFailure(sampleNotice(run));

      assert.deepEqual(
        receiver.requests.map((r) => [JSON.parse(r.body.toString('utf8')).type, r.headers['idempotency-key']]),
        [
          ['smime.profile.reinstall-needed', 'smime-renewal-batch-7/run-1/profile-reinstall'],
          ['smime.delivery.failed', 'smime-renewal-batch-7/run-1'],
        ],
      );
      assert.deepEqual(smtp.messages.map((m) => m.parsed.subject?.split(':')[0]), ['S/MIME renewal', 'S/MIME delivery failed']);
    });

    it('a receiver that refuses the notice for good ends in a non-retryable ConfigurationError', async () => {
      const { notifier } = notifierFromConfig();
      receiver.answer = (_req, res) => {
        res.statusCode = 400;
        res.end('unknown event type');
      };

      const err = await failsWith(notifier.notifyProfileReinstall(sampleReinstallNotice({ workflowUrl: '' })), 'ConfigurationError', true);
      assert.match(err.message, /profile re-install notice refused for good \(delivered by log, email\): webhook: ConfigurationError: profile re-install webhook at .* answered HTTP 400/);
    });
  });
});
