import { createHmac } from 'node:crypto';
import { request } from 'undici';
import { nonRetryable, retryable } from '../../domain/errors';
import { isLoopbackHost } from '../settings-files';
import type { Logger } from '../../logging';
import { noticeKey, reinstallNoticeKey } from './notice-key';
import { withListedDevices, type FailureNotice, type Notifier, type ProfileReinstallNotice } from './notifier';

export const WEBHOOK_EVENT_TYPE = 'smime.delivery.failed';
export const REINSTALL_WEBHOOK_EVENT_TYPE = 'smime.profile.reinstall-needed';
export const WEBHOOK_PAYLOAD_VERSION = 1;
export const WEBHOOK_USER_AGENT = 'smime-escrow-provider';

/** What the receiver gets as the JSON body. */
export interface FailureWebhookPayload {
  type: typeof WEBHOOK_EVENT_TYPE;
  version: typeof WEBHOOK_PAYLOAD_VERSION;
  notice: FailureNotice;
}

/** The JSON body of a profile re-install request (one per renewal batch). */
export interface ProfileReinstallWebhookPayload {
  type: typeof REINSTALL_WEBHOOK_EVENT_TYPE;
  version: typeof WEBHOOK_PAYLOAD_VERSION;
  notice: ProfileReinstallNotice;
}

/** What one POST is about, for its headers, log lines and error messages. */
interface Delivery {
  payload: FailureWebhookPayload | ProfileReinstallWebhookPayload;
  idempotencyKey: string;
  /** Starts every error message: `failure webhook`, `profile re-install webhook`. */
  label: string;
  /** The success log line. */
  posted: string;
  workflowId: string;
  runId: string;
}

export interface WebhookNotifierOptions {
  /** http(s) URL the notice is POSTed to. It may carry a secret path, so it is never logged whole. */
  url: string;
  /** When set, every request is signed (see `webhookSignature`). */
  hmacSecret?: string;
  /**
   * Allow http:// to a host that is not loopback (NOTIFY_WEBHOOK_ALLOW_PLAINTEXT). Default false:
   * https (verified against the system trust store), or http to loopback only.
   */
  allowPlaintext?: boolean;
  /** The whole exchange (connect, send, answer) must finish within this. */
  timeoutMs: number;
  logger?: Logger;
}

/**
 * The signature scheme, for receivers:
 *
 *   X-Signature-Timestamp: <unix time in seconds when the request was signed>
 *   X-Signature-SHA256:    sha256=<hex HMAC-SHA256(secret, `${timestamp}.${body}`)>
 *
 * `body` is the exact bytes of the request body (verify before parsing the JSON). The timestamp is
 * inside the MAC so a receiver can reject a replayed request by refusing timestamps too far from
 * its own clock (5 minutes is usual); compare signatures in constant time. A retried activity
 * signs again with a new timestamp; `Idempotency-Key` stays the same, so receivers can drop
 * repeats: `<workflowId>/<runId>` for a failure, `<workflowId>/<runId>/profile-reinstall` for a
 * renewal batch's profile re-install request.
 */
export function webhookSignature(secret: string, timestamp: string, body: string | Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

/** How much of an error answer's body goes into the error message, to help whoever reads it. */
const ANSWER_EXCERPT_CHARS = 200;

/**
 * POSTs `{ type: 'smime.delivery.failed', version: 1, notice }` for a failure and
 * `{ type: 'smime.profile.reinstall-needed', version: 1, notice }` for a renewal batch whose devices
 * need the S/MIME profile re-pushed, as JSON, both signed alike. 2xx: delivered. A 3xx or
 * a 4xx other than 408/429 means the receiver refuses us (wrong URL, auth, schema): retrying will
 * not help, so `ConfigurationError`. 5xx, 408, 429, network errors and timeouts are
 * `NotifierUnavailable`, for Temporal to retry. Redirects are not followed: a signed notice goes
 * only where it was configured to go.
 */
export class WebhookNotifier implements Notifier {
  readonly type = 'webhook';
  private readonly url: URL;
  /** scheme://host:port only: the path and any credentials in the URL may be secret. */
  private readonly endpoint: string;

  constructor(private readonly options: WebhookNotifierOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw nonRetryable('ConfigurationError', 'the failure webhook URL is not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw nonRetryable('ConfigurationError', `the failure webhook URL must be http or https, not ${url.protocol.replace(/:$/, '')}`);
    }
    if (url.protocol === 'http:' && !options.allowPlaintext && !isLoopbackHost(url.hostname)) {
      // Notices name users and their addresses, and carry the HMAC signature: not in the clear.
      throw nonRetryable('ConfigurationError', 'the failure webhook URL must be https (plain http only to a loopback address, or with NOTIFY_WEBHOOK_ALLOW_PLAINTEXT=true)');
    }
    if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) {
      throw nonRetryable('ConfigurationError', 'the failure webhook timeout must be a positive number of milliseconds');
    }
    this.url = url;
    this.endpoint = url.origin;
  }

  async notifyFailure(notice: FailureNotice): Promise<void> {
    await this.post({
      payload: { type: WEBHOOK_EVENT_TYPE, version: WEBHOOK_PAYLOAD_VERSION, notice },
      idempotencyKey: noticeKey(notice),
      label: 'failure webhook',
      posted: 'failure notice posted to webhook',
      workflowId: notice.workflowId,
      runId: notice.runId,
    });
  }

  async notifyProfileReinstall(notice: ProfileReinstallNotice): Promise<void> {
    await this.post({
      // A longer list than the maximum is cut, so one batch cannot outgrow what receivers take.
      payload: { type: REINSTALL_WEBHOOK_EVENT_TYPE, version: WEBHOOK_PAYLOAD_VERSION, notice: withListedDevices(notice) },
      idempotencyKey: reinstallNoticeKey(notice),
      label: 'profile re-install webhook',
      posted: 'profile re-install notice posted to webhook',
      workflowId: notice.workflowId,
      runId: notice.runId,
    });
  }

  private async post(delivery: Delivery): Promise<void> {
    const body = Buffer.from(JSON.stringify(delivery.payload), 'utf8');
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': WEBHOOK_USER_AGENT,
      'idempotency-key': headerSafe(delivery.idempotencyKey),
    };
    if (this.options.hmacSecret) {
      const timestamp = String(Math.floor(Date.now() / 1000));
      headers['x-signature-timestamp'] = timestamp;
      headers['x-signature-sha256'] = webhookSignature(this.options.hmacSecret, timestamp, body);
    }

    const { timeoutMs } = this.options;
    let status: number;
    let excerpt = '';
    try {
      const answer = await request(this.url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(timeoutMs),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        // Notices are rare: a kept-alive socket would only sit idle (and keep a test server open).
        reset: true,
      });
      status = answer.statusCode;
      if (status >= 200 && status < 300) await answer.body.dump();
      else excerpt = await readExcerpt(answer.body);
    } catch (err) {
      throw retryable('NotifierUnavailable', `${delivery.label} at ${this.endpoint}: ${describeNetworkError(err, timeoutMs)}`);
    }

    if (status >= 200 && status < 300) {
      this.options.logger?.info({ workflowId: delivery.workflowId, runId: delivery.runId, endpoint: this.endpoint, status }, delivery.posted);
      return;
    }
    const answered = `${delivery.label} at ${this.endpoint} answered HTTP ${status}${excerpt ? `: ${excerpt}` : ''}`;
    if (status >= 500 || status === 408 || status === 429) throw retryable('NotifierUnavailable', answered);
    if (status >= 300 && status < 400) {
      throw nonRetryable('ConfigurationError', `${answered} (a redirect, which is not followed: set NOTIFY_WEBHOOK_URL to the final address)`);
    }
    throw nonRetryable('ConfigurationError', `${answered} (the receiver refuses the notice; check NOTIFY_WEBHOOK_URL and the receiver's settings)`);
  }
}

/** Header values must be visible ASCII; workflow IDs normally are, anything else is percent-encoded. */
function headerSafe(value: string): string {
  return /^[\x21-\x7e]+$/.test(value) ? value : encodeURIComponent(value);
}

async function readExcerpt(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
  let text = '';
  for await (const chunk of body) {
    text += chunk.toString('utf8');
    if (text.length >= ANSWER_EXCERPT_CHARS) break;
  }
  body.destroy();
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > ANSWER_EXCERPT_CHARS ? `${line.slice(0, ANSWER_EXCERPT_CHARS)}…` : line;
}

function describeNetworkError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT' || e.code === 'UND_ERR_CONNECT_TIMEOUT') {
    return `no answer within ${timeoutMs} ms`;
  }
  const code = e.code ?? e.cause?.code;
  const message = e.message || e.cause?.message || 'request failed';
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
