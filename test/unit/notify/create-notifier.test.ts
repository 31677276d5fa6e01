import assert from 'node:assert/strict';
import { ConfigError, loadSettings, type Config, type SettingName } from '../../../src/config';
import { createNotifier, workflowUrl } from '../../../src/activities/notify';
import { capturingLogger, sampleNotice, sampleReinstallNotice } from '../../helpers/loopback';

/** Settings as the loader reads them, without the start-up cross checks (createNotifier must stand on its own). */
function configWith(overrides: Partial<Record<SettingName, string>>): Config {
  return { ...loadSettings({ env: {}, overrides }), dataDirAbsolute: '/nonexistent' };
}

describe('workflowUrl', () => {
  it('links the run history in the Temporal UI, with the workflow ID encoded', () => {
    assert.equal(
      workflowUrl('http://localhost:8233', 'default', 'smime-u/d', '0193a5b2-run'),
      'http://localhost:8233/namespaces/default/workflows/smime-u%2Fd/0193a5b2-run/history',
    );
  });

  it('tolerates a trailing slash on the UI address', () => {
    assert.equal(workflowUrl('https://ui.example.test/', 'prod', 'w', 'r'), 'https://ui.example.test/namespaces/prod/workflows/w/r/history');
  });

  it('is empty when no UI address is configured', () => {
    assert.equal(workflowUrl(undefined, 'default', 'w', 'r'), '');
    assert.equal(workflowUrl('', 'default', 'w', 'r'), '');
  });
});

describe('createNotifier', () => {
  it('fills in the workflow link when the notice has none', async () => {
    const capture = capturingLogger();
    const notifier = createNotifier(configWith({ notifiers: 'log', uiUrl: 'http://ui.test:8233', temporalNamespace: 'smime' }), capture.logger);
    const notice = sampleNotice({ workflowUrl: '' });

    await notifier.notifyFailure(notice);

    const line = capture.lines().find((l) => l.msg === 'S/MIME delivery failed');
    assert.equal(line?.workflowUrl, `http://ui.test:8233/namespaces/smime/workflows/${encodeURIComponent(notice.workflowId)}/${notice.runId}/history`);
  });

  it('keeps a workflow link the notice already has', async () => {
    const capture = capturingLogger();
    const notifier = createNotifier(configWith({ notifiers: 'log', uiUrl: 'http://ui.test:8233' }), capture.logger);

    await notifier.notifyFailure(sampleNotice({ workflowUrl: 'https://elsewhere.test/w' }));

    assert.equal(capture.lines().find((l) => l.msg === 'S/MIME delivery failed')?.workflowUrl, 'https://elsewhere.test/w');
  });

  it('fills in the workflow link of a profile re-install notice too', async () => {
    const capture = capturingLogger();
    const notifier = createNotifier(configWith({ notifiers: 'log', uiUrl: 'http://ui.test:8233', temporalNamespace: 'smime' }), capture.logger);
    const notice = sampleReinstallNotice({ workflowUrl: '' });

    await notifier.notifyProfileReinstall(notice);

    const line = capture.lines().find((l) => l.msg === 'S/MIME profile re-install needed');
    assert.equal(line?.workflowUrl, `http://ui.test:8233/namespaces/smime/workflows/${encodeURIComponent(notice.workflowId)}/${notice.runId}/history`);
  });

  it('keeps the workflow link a profile re-install notice already has, and leaves it empty without a UI address', async () => {
    const capture = capturingLogger();
    await createNotifier(configWith({ notifiers: 'log', uiUrl: 'http://ui.test:8233' }), capture.logger).notifyProfileReinstall(
      sampleReinstallNotice({ workflowUrl: 'https://elsewhere.test/w' }),
    );
    await createNotifier(configWith({ notifiers: 'log', uiUrl: '' }), capture.logger).notifyProfileReinstall(sampleReinstallNotice({ workflowUrl: '' }));

    const links = capture.lines().filter((l) => l.msg === 'S/MIME profile re-install needed').map((l) => l.workflowUrl);
    assert.deepEqual(links, ['https://elsewhere.test/w', '']);
  });

  it('names NOTIFY_WEBHOOK_URL when the webhook notifier has no URL', () => {
    const { logger } = capturingLogger();
    assert.throws(() => createNotifier(configWith({ notifiers: 'log,webhook' }), logger), (err: unknown) => err instanceof ConfigError && /NOTIFY_WEBHOOK_URL/.test(err.message));
  });

  it('names NOTIFY_WEBHOOK_URL when it is not http(s)', () => {
    const { logger } = capturingLogger();
    assert.throws(
      () => createNotifier(configWith({ notifiers: 'webhook', notifyWebhookUrl: 'file:///etc/passwd' }), logger),
      (err: unknown) => err instanceof ConfigError && /NOTIFY_WEBHOOK_URL.*http or https/.test(err.message),
    );
  });

  it('names NOTIFY_EMAIL_TO when the email notifier has no recipient', () => {
    const { logger } = capturingLogger();
    assert.throws(
      () => createNotifier(configWith({ notifiers: 'email', smtpUrl: 'smtp://127.0.0.1:2525', emailFrom: 'smime@example.test' }), logger),
      (err: unknown) => err instanceof ConfigError && /NOTIFY_EMAIL_TO/.test(err.message),
    );
  });

  it('names NOTIFY_SMTP_URL when it is not smtp(s)', () => {
    const { logger } = capturingLogger();
    assert.throws(
      () => createNotifier(configWith({ notifiers: 'email', smtpUrl: 'https://mail.example.test', emailFrom: 'smime@example.test', emailTo: 'a@example.test' }), logger),
      (err: unknown) => err instanceof ConfigError && /NOTIFY_SMTP_URL/.test(err.message),
    );
  });
});
