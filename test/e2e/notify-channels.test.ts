/**
 * The notifier the worker builds from configuration, against a real HTTP receiver and a real SMTP
 * server on loopback: every channel gets the notice with the workflow link filled in, and a retry
 * after a partial failure resends only where it failed.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createNotifier } from '../../src/activities/notify';
import { loadConfig } from '../../src/config';
import { capturingLogger, failsWith, sampleNotice, startHttpReceiver, startSmtpServer, type HttpReceiver, type SmtpFixture } from '../helpers/loopback';

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
});
