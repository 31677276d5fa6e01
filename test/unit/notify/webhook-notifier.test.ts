import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { WebhookNotifier, webhookSignature } from '../../../src/activities/notify/webhook-notifier';
import { closedPort, failsWith, sampleNotice, sampleReinstallNotice, startHttpReceiver, type HttpReceiver } from '../../helpers/loopback';

describe('WebhookNotifier', () => {
  let receiver: HttpReceiver;
  beforeEach(async () => {
    receiver = await startHttpReceiver();
  });
  afterEach(async () => {
    await receiver?.close();
  });

  const notifier = (extra: { hmacSecret?: string; timeoutMs?: number; path?: string } = {}) =>
    new WebhookNotifier({ url: `${receiver.url}${extra.path ?? '/hooks/smime'}`, hmacSecret: extra.hmacSecret, timeoutMs: extra.timeoutMs ?? 5000 });

  it('POSTs the notice as JSON with the documented envelope and headers', async () => {
    const notice = sampleNotice();
    await notifier().notifyFailure(notice);

    assert.equal(receiver.requests.length, 1);
    const req = receiver.requests[0]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/hooks/smime');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['user-agent'], 'smime-escrow-provider');
    assert.equal(req.headers['idempotency-key'], `${notice.workflowId}/${notice.runId}`);
    assert.deepEqual(JSON.parse(req.body.toString('utf8')), { type: 'smime.delivery.failed', version: 1, notice });
  });

  it('sends no signature headers when no secret is set', async () => {
    await notifier().notifyFailure(sampleNotice());
    const req = receiver.requests[0]!;
    assert.equal(req.headers['x-signature-sha256'], undefined);
    assert.equal(req.headers['x-signature-timestamp'], undefined);
  });

  it('signs HMAC-SHA256 over `${timestamp}.${body}` so a receiver can verify it', async () => {
    const secret = 'notify-test-secret';
    const before = Math.floor(Date.now() / 1000);
    await notifier({ hmacSecret: secret }).notifyFailure(sampleNotice());

    const req = receiver.requests[0]!;
    const timestamp = String(req.headers['x-signature-timestamp']);
    assert.match(timestamp, /^\d+$/);
    assert.ok(Math.abs(Number(timestamp) - before) <= 5, 'timestamp is the current unix time in seconds');
    // Verified the way a receiver would, independently of the code under test.
    const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(req.body).digest('hex')}`);
    const got = Buffer.from(String(req.headers['x-signature-sha256']));
    assert.equal(got.length, expected.length);
    assert.ok(timingSafeEqual(got, expected));
    assert.equal(webhookSignature(secret, timestamp, req.body), expected.toString());
    // The timestamp is part of the MAC: the same body under another timestamp does not verify.
    assert.notEqual(webhookSignature(secret, String(Number(timestamp) + 1), req.body), expected.toString());
  });

  it('treats HTTP 500 as retryable NotifierUnavailable', async () => {
    receiver.answer = (_req, res) => {
      res.statusCode = 500;
      res.end('database down');
    };
    const err = await failsWith(notifier().notifyFailure(sampleNotice()), 'NotifierUnavailable', false);
    assert.match(err.message, /HTTP 500: database down/);
  });

  it('treats HTTP 429 as retryable NotifierUnavailable', async () => {
    receiver.answer = (_req, res) => {
      res.statusCode = 429;
      res.end();
    };
    await failsWith(notifier().notifyFailure(sampleNotice()), 'NotifierUnavailable', false);
  });

  it('treats HTTP 400 as a non-retryable ConfigurationError naming the status', async () => {
    receiver.answer = (_req, res) => {
      res.statusCode = 400;
      res.end('{"error":"unknown event type"}');
    };
    const err = await failsWith(notifier().notifyFailure(sampleNotice()), 'ConfigurationError', true);
    assert.match(err.message, /HTTP 400/);
    assert.match(err.message, /unknown event type/);
  });

  it('keeps the URL path (which may hold a token) out of error messages', async () => {
    receiver.answer = (_req, res) => {
      res.statusCode = 403;
      res.end();
    };
    const err = await failsWith(notifier({ path: '/hooks/T0KEN-s3cr3t' }).notifyFailure(sampleNotice()), 'ConfigurationError', true);
    assert.ok(err.message.includes(receiver.url), err.message);
    assert.ok(!err.message.includes('T0KEN-s3cr3t'), err.message);
  });

  it('treats a receiver that does not answer in time as retryable', async () => {
    receiver.answer = () => {
      /* never answers; close() ends the connection */
    };
    const started = Date.now();
    const err = await failsWith(notifier({ timeoutMs: 300 }).notifyFailure(sampleNotice()), 'NotifierUnavailable', false);
    assert.ok(Date.now() - started < 3000, 'gave up near the timeout');
    assert.match(err.message, /no answer within 300 ms/);
  });

  it('treats a refused connection as retryable', async () => {
    const port = await closedPort();
    const down = new WebhookNotifier({ url: `http://127.0.0.1:${port}/hook`, timeoutMs: 2000 });
    await failsWith(down.notifyFailure(sampleNotice()), 'NotifierUnavailable', false);
  });

  it('refuses plain http off this machine unless NOTIFY_WEBHOOK_ALLOW_PLAINTEXT names the risk', () => {
    assert.throws(
      () => new WebhookNotifier({ url: 'http://hooks.example.test/smime', timeoutMs: 1000 }),
      (err: unknown) => err instanceof ApplicationFailure && err.type === 'ConfigurationError' && /must be https/.test(err.message) && /NOTIFY_WEBHOOK_ALLOW_PLAINTEXT/.test(err.message),
    );
    assert.doesNotThrow(() => new WebhookNotifier({ url: 'http://hooks.example.test/smime', timeoutMs: 1000, allowPlaintext: true }));
    assert.doesNotThrow(() => new WebhookNotifier({ url: 'https://hooks.example.test/smime', timeoutMs: 1000 }));
    assert.doesNotThrow(() => new WebhookNotifier({ url: 'http://[::1]:8080/smime', timeoutMs: 1000 }));
  });

  it('refuses a URL that is not http or https', () => {
    assert.throws(
      () => new WebhookNotifier({ url: 'ftp://127.0.0.1/hook', timeoutMs: 1000 }),
      (err: unknown) => err instanceof ApplicationFailure && err.type === 'ConfigurationError' && /http or https/.test(err.message),
    );
  });

  describe('profile re-install notices', () => {
    it('POSTs the notice as JSON with its own event type and an Idempotency-Key apart from failures', async () => {
      const notice = sampleReinstallNotice();
      await notifier().notifyProfileReinstall(notice);

      assert.equal(receiver.requests.length, 1);
      const req = receiver.requests[0]!;
      assert.equal(req.method, 'POST');
      assert.equal(req.url, '/hooks/smime');
      assert.equal(req.headers['content-type'], 'application/json');
      assert.equal(req.headers['user-agent'], 'smime-escrow-provider');
      assert.equal(req.headers['idempotency-key'], `${notice.workflowId}/${notice.runId}/profile-reinstall`);
      assert.deepEqual(JSON.parse(req.body.toString('utf8')), { type: 'smime.profile.reinstall-needed', version: 1, notice });
    });

    it('signs it the same way as a failure notice', async () => {
      const secret = 'notify-test-secret';
      await notifier({ hmacSecret: secret }).notifyProfileReinstall(sampleReinstallNotice());

      const req = receiver.requests[0]!;
      const timestamp = String(req.headers['x-signature-timestamp']);
      assert.match(timestamp, /^\d+$/);
      const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(req.body).digest('hex')}`);
      const got = Buffer.from(String(req.headers['x-signature-sha256']));
      assert.equal(got.length, expected.length);
      assert.ok(timingSafeEqual(got, expected));
    });

    it('lists at most 1,000 devices, keeping the total', async () => {
      const notice = sampleReinstallNotice({ total: 1200 }, 1200);
      await notifier().notifyProfileReinstall(notice);

      const sent = JSON.parse(receiver.requests[0]!.body.toString('utf8')).notice as typeof notice;
      assert.equal(sent.devices.length, 1000);
      assert.deepEqual(sent.devices, notice.devices.slice(0, 1000));
      assert.equal(sent.total, 1200);
    });

    it('treats HTTP 503 as retryable NotifierUnavailable', async () => {
      receiver.answer = (_req, res) => {
        res.statusCode = 503;
        res.end('maintenance');
      };
      const err = await failsWith(notifier().notifyProfileReinstall(sampleReinstallNotice()), 'NotifierUnavailable', false);
      assert.match(err.message, /profile re-install webhook at .* answered HTTP 503: maintenance/);
    });

    it('treats HTTP 422 as a non-retryable ConfigurationError', async () => {
      receiver.answer = (_req, res) => {
        res.statusCode = 422;
        res.end('{"error":"unknown event type smime.profile.reinstall-needed"}');
      };
      const err = await failsWith(notifier().notifyProfileReinstall(sampleReinstallNotice()), 'ConfigurationError', true);
      assert.match(err.message, /HTTP 422/);
      assert.match(err.message, /unknown event type/);
    });

    it('treats a redirect as a non-retryable ConfigurationError and does not follow it', async () => {
      receiver.answer = (_req, res) => {
        res.statusCode = 307;
        res.setHeader('location', '/elsewhere');
        res.end();
      };
      const err = await failsWith(notifier().notifyProfileReinstall(sampleReinstallNotice()), 'ConfigurationError', true);
      assert.match(err.message, /redirect/);
      assert.equal(receiver.requests.length, 1);
    });

    it('treats a refused connection as retryable', async () => {
      const port = await closedPort();
      const down = new WebhookNotifier({ url: `http://127.0.0.1:${port}/hook`, timeoutMs: 2000 });
      await failsWith(down.notifyProfileReinstall(sampleReinstallNotice()), 'NotifierUnavailable', false);
    });
  });
});
