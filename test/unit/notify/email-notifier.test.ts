import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { composeFailureEmail, composeProfileReinstallEmail, EmailNotifier, smtpTransportSecurity, type EmailNotifierOptions } from '../../../src/activities/notify/email-notifier';
import {
  closedPort,
  failsWith,
  sampleNotice,
  sampleReinstallDevice,
  sampleReinstallNotice,
  selfSignedCertificate,
  startSmtpServer,
  type SmtpFixture,
} from '../../helpers/loopback';

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

  describe('profile re-install notices', () => {
    it('sends one message with the subject, the batch facts, what to do and every device', async () => {
      const server = await smtp();
      const notice = sampleReinstallNotice();

      await notifier(server).notifyProfileReinstall(notice);

      assert.equal(server.messages.length, 1);
      const mail = server.messages[0]!;
      assert.deepEqual(mail.to, ['admins@example.test', 'oncall@example.test']);
      assert.equal(mail.parsed.subject, 'S/MIME renewal: re-push the S/MIME profile to 3 devices');
      const text = mail.parsed.text ?? '';
      for (const fact of [
        'expiring within 30 days',
        'UEM_SMIME_PROFILE_ID is not set',
        '3 devices, all listed below',
        notice.workflowId,
        notice.runId,
        notice.sentAt,
        notice.workflowUrl,
        notice.howToFind,
        're-push (install again) the S/MIME profile',
        ...notice.devices.flatMap((d) => [d.deviceUuid, d.enrollmentUserUuid, d.deviceId!, d.serialNumber!, d.email!]),
      ]) {
        assert.ok(text.includes(fact), `text body lacks "${fact}":\n${text}`);
      }
      const html = mail.parsed.html || '';
      assert.ok(html.includes(`href="${notice.workflowUrl}"`), 'HTML links the workflow');
      // The devices are a table: a header row and one row per device.
      assert.ok(html.includes('<th align="left">Serial number</th>'), html);
      for (const d of notice.devices) {
        assert.ok(html.includes(`<tr><td>${d.serialNumber}</td><td>${d.deviceId}</td><td>${d.email}</td><td>${d.deviceUuid}</td><td>${d.enrollmentUserUuid}</td></tr>`), html);
      }
    });

    it('derives the Message-ID from the notice key: the same for a repeat, apart from the failure email of the same run', async () => {
      const server = await smtp();
      const run = { workflowId: 'smime-renewal-batch-7', runId: 'run-1' };

      await notifier(server).notifyProfileReinstall(sampleReinstallNotice(run));
      await notifier(server).notifyProfileReinstall(sampleReinstallNotice(run));
      await notifier(server).notifyProfileReinstall(sampleReinstallNotice({ ...run, runId: 'run-2' }));
      await notifier(server).notifyFailure(sampleNotice(run));

      const [first, repeat, otherBatch, failure] = server.messages.map((m) => m.parsed.messageId ?? '');
      assert.match(first!, /^<smime-profile-reinstall\.[0-9a-f]{32}@example\.test>$/);
      assert.equal(repeat, first);
      assert.notEqual(otherBatch, first);
      assert.match(failure!, /^<smime-failure\./);
    });

    it('escapes HTML in every value from the notice', async () => {
      const server = await smtp();
      const notice = sampleReinstallNotice({
        reason: 'operator: <script>alert(1)</script>',
        howToFind: 'GET /v1/credentials?a=1&b=<2>',
        workflowUrl: 'http://ui.test/w?x="><img src=x onerror=alert(1)>',
        devices: [
          {
            deviceUuid: '<i>uuid</i>',
            enrollmentUserUuid: "user'uuid",
            deviceId: '<b>42</b>',
            serialNumber: '<svg onload=alert(1)>',
            email: '"Mallory" <mallory@example.test>',
          },
        ],
        total: 1,
      });

      await notifier(server).notifyProfileReinstall(notice);

      const html = server.messages[0]!.parsed.html || '';
      for (const escaped of [
        'operator: &lt;script&gt;alert(1)&lt;/script&gt;',
        'GET /v1/credentials?a=1&amp;b=&lt;2&gt;',
        'href="http://ui.test/w?x=&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"',
        '<td>&lt;i&gt;uuid&lt;/i&gt;</td>',
        '<td>user&#39;uuid</td>',
        '<td>&lt;b&gt;42&lt;/b&gt;</td>',
        '<td>&lt;svg onload=alert(1)&gt;</td>',
        '<td>&quot;Mallory&quot; &lt;mallory@example.test&gt;</td>',
      ]) {
        assert.ok(html.includes(escaped), `HTML lacks ${escaped}:\n${html}`);
      }
      for (const raw of ['<script>', '<img', '<svg', '<i>', '<b>', '<mallory@']) assert.ok(!html.includes(raw), `HTML holds raw ${raw}`);
      assert.equal(server.messages[0]!.parsed.subject, 'S/MIME renewal: re-push the S/MIME profile to 1 device');
    });

    it('treats a permanent 550 rejection as a non-retryable ConfigurationError', async () => {
      const server = await smtp({
        onRcptTo(_address, _session, callback) {
          callback(smtpError(550, 'No such mailbox'));
        },
      });
      const err = await failsWith(notifier(server).notifyProfileReinstall(sampleReinstallNotice()), 'ConfigurationError', true);
      assert.match(err.message, /refused the profile re-install email at RCPT TO \(550/);
      assert.equal(server.messages.length, 0);
    });

    it('treats a temporary 452 rejection as retryable NotifierUnavailable', async () => {
      const server = await smtp({
        onData(stream, _session, callback) {
          stream.resume();
          stream.on('end', () => callback(smtpError(452, 'Insufficient system storage')));
        },
      });
      const err = await failsWith(notifier(server).notifyProfileReinstall(sampleReinstallNotice()), 'NotifierUnavailable', false);
      assert.match(err.message, /452/);
    });

    it('treats a server that is down as retryable NotifierUnavailable', async () => {
      const port = await closedPort();
      await failsWith(notifier({ url: `smtp://127.0.0.1:${port}` }).notifyProfileReinstall(sampleReinstallNotice()), 'NotifierUnavailable', false);
    });
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

describe('composeProfileReinstallEmail', () => {
  it('says "1 device" for one', () => {
    const { subject, text } = composeProfileReinstallEmail(sampleReinstallNotice({}, 1));
    assert.equal(subject, 'S/MIME renewal: re-push the S/MIME profile to 1 device');
    assert.match(text, /1 device, all listed below/);
  });

  it('counts the total in the subject and lists at most 1,000 devices, saying where to find the rest', () => {
    const notice = sampleReinstallNotice({ total: 1500 }, 1200);
    const { subject, text, html } = composeProfileReinstallEmail(notice);

    assert.equal(subject, 'S/MIME renewal: re-push the S/MIME profile to 1,500 devices');
    assert.match(text, /1,500 devices, the first 1,000 listed below/);
    assert.ok(text.includes(`Only 1,000 of the 1,500 devices are listed here. Find all of them: ${notice.howToFind}`), text);
    assert.ok(text.includes(sampleReinstallDevice(1000).deviceUuid));
    assert.ok(!text.includes(sampleReinstallDevice(1001).deviceUuid), 'the 1,001st device is not listed');
    assert.equal(html.match(/<tr><td>/g)?.length, 1000);
  });

  it('shows a dash for what a device does not have, in a plain-text table', () => {
    const { text } = composeProfileReinstallEmail(
      sampleReinstallNotice({ devices: [{ deviceUuid: 'dev-1', enrollmentUserUuid: 'user-1' }], total: 1 }),
    );
    const lines = text.split('\n');
    const header = lines.findIndex((l) => l.startsWith('Serial number'));
    assert.ok(header >= 0, text);
    assert.match(lines[header + 1]!, /^-+( {2}-+){4}$/);
    assert.match(lines[header + 2]!, /^- +- +- +dev-1 +user-1$/);
  });

  it('keeps line breaks in values from shaping the plain-text table', () => {
    const { text } = composeProfileReinstallEmail(
      sampleReinstallNotice({ devices: [{ deviceUuid: 'dev-1', enrollmentUserUuid: 'user-1', serialNumber: 'SN1\nInjected line' }], total: 1 }),
    );
    assert.ok(!text.split('\n').some((l) => l.startsWith('Injected line')), text);
  });
});
