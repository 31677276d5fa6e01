import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { composeFailureEmail, EmailNotifier, smtpTransportSecurity, type EmailNotifierOptions } from '../../../src/activities/notify/email-notifier';
import { closedPort, failsWith, sampleNotice, selfSignedCertificate, startSmtpServer, type SmtpFixture } from '../../helpers/loopback';

type SmtpError = Error & { responseCode?: number };
function smtpError(responseCode: number, message: string): SmtpError {
  return Object.assign(new Error(message), { responseCode });
}

describe('EmailNotifier', () => {
  const started: SmtpFixture[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => s.close()));
  });
  async function smtp(options: Parameters<typeof startSmtpServer>[0] = {}): Promise<SmtpFixture> {
    const server = await startSmtpServer(options);
    started.push(server);
    return server;
  }
  const notifier = (server: { url: string }, extra: Partial<EmailNotifierOptions> = {}) =>
    new EmailNotifier({ smtpUrl: server.url, from: 'S/MIME provider <smime@example.test>', to: ['admins@example.test', 'oncall@example.test'], timeoutMs: 5000, ...extra });

  it('sends a message with the subject, recipients and every fact an administrator needs', async () => {
    const server = await smtp();
    const notice = sampleNotice();

    await notifier(server).notifyFailure(notice);

    assert.equal(server.messages.length, 1);
    const mail = server.messages[0]!;
    assert.equal(mail.from, 'smime@example.test');
    assert.deepEqual(mail.to, ['admins@example.test', 'oncall@example.test']);
    assert.equal(mail.parsed.subject, "S/MIME delivery failed: Jane Doe on Jane's iPhone after 75 attempts");
    const text = mail.parsed.text ?? '';
    for (const fact of [
      'Jane Doe <jane.doe@example.test>',
      notice.enrollmentUserUuid,
      notice.deviceUuid,
      'Apple',
      'Attempts:       75',
      'All 75 attempts were used up',
      'GatewayUnavailable: gateway answered HTTP 503',
      notice.failedAt,
      notice.workflowUrl,
      notice.howToFind,
      'POST /v1/enrollments',
      'POST /v1/enrollments/{workflowId}/retry',
      're-install the S/MIME profile',
    ]) {
      assert.ok(text.includes(fact), `text body lacks "${fact}":\n${text}`);
    }
    assert.ok((mail.parsed.html || '').includes(`href="${notice.workflowUrl}"`), 'HTML links the workflow');
    assert.match(mail.parsed.messageId ?? '', /^<smime-failure\.[0-9a-f]{32}@example\.test>$/);
  });

  it('escapes HTML in values from the event', async () => {
    const server = await smtp();
    await notifier(server).notifyFailure(sampleNotice({ userName: '<script>alert("x")</script> & Co', deviceName: '<b>phone</b>' }));

    const html = server.messages[0]!.parsed.html || '';
    assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co'), html);
    assert.ok(html.includes('&lt;b&gt;phone&lt;/b&gt;'), html);
    assert.ok(!html.includes('<script>'), html);
    assert.ok(!html.includes('<b>phone'), html);
  });

  it('treats a permanent 550 rejection as a non-retryable ConfigurationError', async () => {
    const server = await smtp({
      onRcptTo(_address, _session, callback) {
        callback(smtpError(550, 'No such mailbox'));
      },
    });
    const err = await failsWith(notifier(server).notifyFailure(sampleNotice()), 'ConfigurationError', true);
    assert.match(err.message, /550/);
    assert.equal(server.messages.length, 0);
  });

  it('treats a temporary 451 rejection as retryable NotifierUnavailable', async () => {
    const server = await smtp({
      onRcptTo(_address, _session, callback) {
        callback(smtpError(451, 'Try again later'));
      },
    });
    const err = await failsWith(notifier(server).notifyFailure(sampleNotice()), 'NotifierUnavailable', false);
    assert.match(err.message, /451/);
  });

  it('treats a server that is down as retryable NotifierUnavailable', async () => {
    const port = await closedPort();
    await failsWith(notifier({ url: `smtp://127.0.0.1:${port}` }).notifyFailure(sampleNotice()), 'NotifierUnavailable', false);
  });

  describe('with TLS', () => {
    let key = '';
    let cert = '';
    before(() => {
      ({ key, cert } = selfSignedCertificate());
    });

    it('upgrades with STARTTLS when the server offers it', async () => {
      const server = await smtp({ key, cert });
      await notifier(server, { tls: { ca: cert } }).notifyFailure(sampleNotice());
      assert.equal(server.messages.length, 1);
      assert.equal(server.messages[0]!.secure, true);
    });

    it('treats a refused login as a non-retryable ConfigurationError without echoing the password', async () => {
      const server = await smtp({
        key,
        cert,
        authOptional: false,
        onAuth(_auth, _session, callback) {
          callback(new Error('Invalid username or password'));
        },
      });
      const err = await failsWith(
        notifier(server, { tls: { ca: cert }, user: 'notifier', password: 'wrong-Pa55word' }).notifyFailure(sampleNotice()),
        'ConfigurationError',
        true,
      );
      assert.match(err.message, /login/);
      assert.ok(!err.message.includes('wrong-Pa55word'), err.message);
    });
  });

  it('requires STARTTLS for smtp:// off this machine, unless NOTIFY_SMTP_ALLOW_PLAINTEXT names the risk; a login always needs TLS', () => {
    const plain = { login: false, allowPlaintext: false };
    assert.deepEqual(smtpTransportSecurity(new URL('smtp://mail.example.test'), plain), { secure: false, requireTLS: true });
    assert.deepEqual(smtpTransportSecurity(new URL('smtp://[2001:db8::25]:587'), plain), { secure: false, requireTLS: true });
    assert.deepEqual(smtpTransportSecurity(new URL('smtp://mail.example.test'), { login: false, allowPlaintext: true }), { secure: false, requireTLS: false });
    assert.deepEqual(smtpTransportSecurity(new URL('smtp://mail.example.test'), { login: true, allowPlaintext: true }), { secure: false, requireTLS: true });
    for (const local of ['smtp://127.0.0.1:2525', 'smtp://localhost', 'smtp://[::1]:25']) assert.deepEqual(smtpTransportSecurity(new URL(local), plain), { secure: false, requireTLS: false }, local);
    assert.deepEqual(smtpTransportSecurity(new URL('smtps://mail.example.test'), plain), { secure: true, requireTLS: false });
  });

  it('refuses a URL that is not smtp:// or smtps://', () => {
    assert.throws(
      () => notifier({ url: 'http://127.0.0.1:25' }),
      (err: unknown) => err instanceof ApplicationFailure && err.type === 'ConfigurationError' && /smtp:\/\/ or smtps:\/\//.test(err.message),
    );
  });
});

describe('composeFailureEmail', () => {
  it('falls back to the email and the device UUID, and says "attempt" for one', () => {
    const notice = sampleNotice({ userName: undefined, deviceName: undefined, attempts: 1, reason: 'NonRetryableError' });
    assert.equal(composeFailureEmail(notice).subject, `S/MIME delivery failed: jane.doe@example.test on ${notice.deviceUuid} after 1 attempt`);
  });

  it('keeps line breaks from event values out of the subject', () => {
    const { subject } = composeFailureEmail(sampleNotice({ userName: 'Jane\r\nBcc: victim@example.test' }));
    assert.ok(!/[\r\n]/.test(subject), subject);
  });

  it('gives advice that matches the last error type', () => {
    const { text } = composeFailureEmail(sampleNotice({ reason: 'NonRetryableError', lastError: { type: 'UserHasNoEmail', message: 'no email for user' } }));
    assert.match(text, /Give the user an email address in UEM/);
    assert.match(text, /retrying cannot fix/);
  });
});
