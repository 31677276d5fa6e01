import { createHash } from 'node:crypto';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import nodemailer, { type NodemailerError, type SMTPSentMessageInfo, type Transporter } from 'nodemailer';
import { nonRetryable, retryable } from '../../domain/errors';
import { isLoopbackHost } from '../settings-files';
import type { Logger } from '../../logging';
import {
  deviceLabel,
  failureSubject,
  lastErrorInWords,
  nextSteps,
  oneLine,
  reasonInWords,
} from './failure-text';
import { noticeKey, reinstallNoticeKey } from './notice-key';
import { withListedDevices, type FailureNotice, type Notifier, type ProfileReinstallNotice } from './notifier';
import { DEVICE_COLUMNS, listedInWords, reinstallIntro, reinstallSteps, reinstallSubject } from './reinstall-text';

export interface EmailNotifierOptions {
  /** smtp://host[:port] (default port 587, STARTTLS when the server offers it) or smtps://host[:port] (TLS from the start, default 465). */
  smtpUrl: string;
  user?: string;
  password?: string;
  /** Sender, `address` or `Name <address>`. */
  from: string;
  to: string[];
  /** Each SMTP wait (connect, greeting, every reply) ends after this; default 20 s. */
  timeoutMs?: number;
  /**
   * smtp:// to a host that is not loopback may send without STARTTLS when the server does not
   * offer it (NOTIFY_SMTP_ALLOW_PLAINTEXT). Default false: STARTTLS is required.
   */
  allowPlaintext?: boolean;
  /** Extra TLS settings, e.g. `ca` for a relay whose certificate comes from a private CA. */
  tls?: Pick<TlsConnectionOptions, 'ca' | 'servername' | 'minVersion'>;
  logger?: Logger;
}

export interface FailureEmail {
  subject: string;
  text: string;
  html: string;
}

/** A profile re-install email has the same parts. */
export type ProfileReinstallEmail = FailureEmail;

/** One message to send: what it is (`failure email`, ...) for logs and errors, and whose notice. */
interface Outgoing {
  email: FailureEmail;
  messageId: string;
  what: string;
  workflowId: string;
  runId: string;
}

const DEFAULT_TIMEOUT_MS = 20_000;

/**
 * Sends plain-text and HTML emails over SMTP with nodemailer: one per failed delivery, and one per
 * renewal batch whose devices need the S/MIME profile re-pushed.
 *
 * Transport security: smtps:// is TLS from the first byte; smtp:// *requires* STARTTLS, so failure
 * emails (which name users and their addresses) never cross the network in the clear — except to a
 * loopback relay, or when `allowPlaintext` (NOTIFY_SMTP_ALLOW_PLAINTEXT) names that risk, where it
 * still upgrades whenever the server offers it. A login always requires TLS, so the password never
 * travels in the clear. Certificates are verified (nodemailer's default; `tls.ca` for a private CA).
 *
 * Errors: a connection problem or a temporary (4xx) SMTP reply is `NotifierUnavailable` (retried);
 * a permanent (5xx) reply such as 550 no-such-mailbox, or a failed login, is `ConfigurationError`:
 * the same message would be refused again until an administrator fixes the setting.
 */
export class EmailNotifier implements Notifier {
  readonly type = 'email';
  private readonly transporter: Transporter<SMTPSentMessageInfo>;
  /** host:port, for messages: the URL may carry credentials. */
  private readonly server: string;

  constructor(private readonly options: EmailNotifierOptions) {
    let url: URL;
    try {
      url = new URL(options.smtpUrl);
    } catch {
      throw nonRetryable('ConfigurationError', 'the SMTP URL for failure emails is not a valid URL');
    }
    if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
      throw nonRetryable('ConfigurationError', `the SMTP URL for failure emails must be smtp:// or smtps://, not ${url.protocol.replace(/:$/, '')}`);
    }
    if (!url.hostname) throw nonRetryable('ConfigurationError', 'the SMTP URL for failure emails has no host');
    if (!options.from.trim()) throw nonRetryable('ConfigurationError', 'failure emails need a sender (NOTIFY_EMAIL_FROM)');
    if (options.to.length === 0) throw nonRetryable('ConfigurationError', 'failure emails need at least one recipient (NOTIFY_EMAIL_TO)');

    const user = options.user ?? (url.username ? decodeURIComponent(url.username) : undefined);
    const { secure, requireTLS } = smtpTransportSecurity(url, { login: !!user, allowPlaintext: options.allowPlaintext ?? false });
    const port = url.port ? Number(url.port) : secure ? 465 : 587;
    const password = options.password ?? (url.password ? decodeURIComponent(url.password) : undefined);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // URL hostnames of IPv6 literals keep their brackets; sockets want the bare address.
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.server = `${url.hostname}:${port}`;
    this.transporter = nodemailer.createTransport({
      host,
      port,
      secure,
      requireTLS,
      auth: user ? { user, pass: password ?? '' } : undefined,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      tls: options.tls ? { ...options.tls } : undefined,
    });
  }

  async notifyFailure(notice: FailureNotice): Promise<void> {
    await this.send({
      email: composeFailureEmail(notice),
      // The same failure gives the same Message-ID, so a repeat after a retried activity can be
      // recognised (some mail systems drop such duplicates themselves).
      messageId: stableMessageId('smime-failure', noticeKey(notice), this.options.from),
      what: 'failure email',
      workflowId: notice.workflowId,
      runId: notice.runId,
    });
  }

  async notifyProfileReinstall(notice: ProfileReinstallNotice): Promise<void> {
    await this.send({
      email: composeProfileReinstallEmail(notice),
      // One Message-ID per renewal batch, apart from any failure email of the same run.
      messageId: stableMessageId('smime-profile-reinstall', reinstallNoticeKey(notice), this.options.from),
      what: 'profile re-install email',
      workflowId: notice.workflowId,
      runId: notice.runId,
    });
  }

  private async send(outgoing: Outgoing): Promise<void> {
    const { email, workflowId, runId, what } = outgoing;
    let info: SMTPSentMessageInfo;
    try {
      info = await this.transporter.sendMail({
        from: this.options.from,
        to: this.options.to,
        subject: email.subject,
        text: email.text,
        html: email.html,
        messageId: outgoing.messageId,
      });
    } catch (err) {
      throw this.classify(err as NodemailerError, what);
    }
    const log = this.options.logger;
    if (info.rejected.length > 0) {
      // Some recipients took it; resending to all would duplicate theirs, so this counts as
      // delivered and the refused addresses are reported for an administrator to fix.
      log?.warn({ workflowId, runId, server: this.server, rejected: info.rejected.map(String) }, `${what} refused for some recipients`);
    }
    log?.info({ workflowId, runId, server: this.server, accepted: info.accepted.length }, `${what} sent`);
  }

  private classify(err: NodemailerError, kind: string) {
    const reply = err.response ? `: ${oneLine(err.response)}` : '';
    const where = `SMTP server ${this.server}`;
    if (typeof err.responseCode === 'number') {
      const permanent = err.permanent ?? (err.responseCode >= 500 && err.responseCode !== 503);
      const what = err.code === 'EAUTH' ? 'refused the login' : `refused the ${kind}${err.command ? ` at ${err.command}` : ''}`;
      const message = `${where} ${what} (${err.responseCode}${reply})`;
      if (permanent) return nonRetryable('ConfigurationError', `${message}; check NOTIFY_SMTP_USER/NOTIFY_SMTP_PASSWORD, NOTIFY_EMAIL_FROM and NOTIFY_EMAIL_TO`);
      return retryable('NotifierUnavailable', message);
    }
    if (err.code === 'EAUTH' || err.code === 'ENOAUTH') {
      return nonRetryable('ConfigurationError', `${where}: login failed (${err.message}); check NOTIFY_SMTP_USER and NOTIFY_SMTP_PASSWORD`);
    }
    if (err.code === 'EENVELOPE' || err.code === 'ECONFIG') {
      return nonRetryable('ConfigurationError', `${kind} not sendable: ${err.message}; check NOTIFY_EMAIL_FROM and NOTIFY_EMAIL_TO`);
    }
    // Connection refused, DNS, TLS handshake, timeouts, a dropped socket: the server may be back later.
    return retryable('NotifierUnavailable', `${where} unavailable: ${err.code ? `${err.code}: ` : ''}${err.message}`);
  }
}

/**
 * How the SMTP connection is protected: smtps:// is TLS from the start; smtp:// requires STARTTLS
 * unless the relay is on this machine or `allowPlaintext` names the risk; a login always requires TLS.
 */
export function smtpTransportSecurity(url: URL, options: { login: boolean; allowPlaintext: boolean }): { secure: boolean; requireTLS: boolean } {
  const secure = url.protocol === 'smtps:';
  if (secure) return { secure, requireTLS: false };
  return { secure, requireTLS: options.login || !(options.allowPlaintext || isLoopbackHost(url.hostname)) };
}

/** The failure email, as text and HTML. Every value from the notice is escaped in the HTML. */
export function composeFailureEmail(notice: FailureNotice): FailureEmail {
  const user = [notice.userName, notice.email ? `<${notice.email}>` : undefined].filter(Boolean).join(' ') || '(unknown)';
  const rows: [string, string][] = [
    ['User', `${user} (enrollment user ${notice.enrollmentUserUuid})`],
    ['Device', notice.deviceName ? `${notice.deviceName} (device ${notice.deviceUuid})` : notice.deviceUuid],
    ['Platform', notice.platform || 'unknown'],
    ['Attempts', String(notice.attempts)],
    ['Reason', reasonInWords(notice)],
    ['Last error', lastErrorInWords(notice)],
    ['Enrolled at', notice.eventTime],
    ['Failed at', notice.failedAt],
    ['Workflow', notice.workflowUrl || '(no Temporal UI address configured)'],
    ['How to find it', notice.howToFind],
  ];
  const steps = nextSteps(notice);
  const intro = `The S/MIME certificate for ${oneLine(user)} could not be delivered to the device ${deviceLabel(notice)}. The provider has stopped trying.`;

  const parts = noticeParts(notice.workflowUrl, intro, rows, steps);
  const text = parts.text.join('\n');
  const html = ['<!doctype html>', '<html><body>', ...parts.html, '</body></html>', ''].join('\n');

  return { subject: failureSubject(notice), text, html };
}

/**
 * The profile re-install email, as text and HTML: what happened, the facts of the batch, what to
 * do, and the devices as a table (at most REINSTALL_NOTICE_MAX_DEVICES). Every value from the
 * notice is escaped in the HTML.
 */
export function composeProfileReinstallEmail(notice: ProfileReinstallNotice): ProfileReinstallEmail {
  const { devices } = withListedDevices(notice);
  const rows: [string, string][] = [
    ['Reason', notice.reason || '(none given)'],
    ['Devices', listedInWords(notice, devices.length)],
    ['Renewal batch', notice.workflowId],
    ['Run', notice.runId],
    ['Sent at', notice.sentAt],
    ['Workflow', notice.workflowUrl || '(no Temporal UI address configured)'],
    ['How to find them', notice.howToFind],
  ];
  const intro = reinstallIntro(notice);
  const steps = reinstallSteps(notice, devices.length);
  const table = devices.map((device) => DEVICE_COLUMNS.map(([, value]) => oneLine(value(device))));
  const headings = DEVICE_COLUMNS.map(([heading]) => heading);

  const parts = noticeParts(notice.workflowUrl, intro, rows, steps);
  // Fixed-width columns, so the list reads as a table in a plain-text mail client too.
  const columnWidths = headings.map((heading, i) => Math.max(heading.length, ...table.map((row) => (row[i] || '-').length)));
  const textRow = (cells: string[]) => cells.map((cell, i) => (cell || '-').padEnd(columnWidths[i]!)).join('  ').trimEnd();
  const text = [...parts.text, textRow(headings), textRow(columnWidths.map((w) => '-'.repeat(w))), ...table.map(textRow), ''].join('\n');
  const html = [
    '<!doctype html>',
    '<html><body>',
    ...parts.html,
    '<table border="1" cellpadding="4" cellspacing="0">',
    `<thead><tr>${headings.map((heading) => `<th align="left">${escapeHtml(heading)}</th>`).join('')}</tr></thead>`,
    `<tbody>${table.map((row) => `<tr>${row.map((value) => `<td>${escapeHtml(value)}</td>`).join('')}</tr>`).join('\n')}</tbody>`,
    '</table>',
    '</body></html>',
    '',
  ].join('\n');

  return { subject: reinstallSubject(notice), text, html };
}

/**
 * What both notices open with, as text lines and HTML lines: the intro, the facts as a label/value
 * table (the Workflow row a link when it is a URL) and the numbered next steps.
 */
function noticeParts(workflowUrl: string, intro: string, rows: [string, string][], steps: string[]): { text: string[]; html: string[] } {
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  const cell = (label: string, value: string) => {
    const shown = label === 'Workflow' && /^https?:\/\//i.test(workflowUrl) ? `<a href="${escapeHtml(workflowUrl)}">${escapeHtml(value)}</a>` : escapeHtml(value);
    return `<tr><th align="left" valign="top">${escapeHtml(label)}</th><td>${shown}</td></tr>`;
  };
  return {
    text: [intro, '', ...rows.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`), '', 'What to do next:', ...steps.map((step, i) => `  ${i + 1}. ${step}`), ''],
    html: [
      `<p>${escapeHtml(intro)}</p>`,
      `<table cellpadding="4">${rows.map(([label, value]) => cell(label, value)).join('')}</table>`,
      '<p><strong>What to do next:</strong></p>',
      `<ol>${steps.map((step) => `<li>${escapeHtml(step)}</li>`).join('')}</ol>`,
    ],
  };
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** A stable Message-ID for one notice (`<prefix>.<hash of its key>@<sender's domain>`). */
function stableMessageId(prefix: string, key: string, from: string): string {
  const domain = /@([^>\s@]+)>?\s*$/.exec(from)?.[1] ?? 'smime-escrow-provider.invalid';
  const id = createHash('sha256').update(key).digest('hex').slice(0, 32);
  return `<${prefix}.${id}@${domain}>`;
}
