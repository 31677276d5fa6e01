/**
 * Real servers on loopback for the notifier tests: an HTTP receiver, an SMTP server
 * (smtp-server), a throw-away TLS certificate (OpenSSL), a logger whose lines can be read back,
 * sample notices and an assertion for typed failures. Each starter returns a `close()` the test must call.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { FailureNotice, ProfileReinstallNotice, ReinstallDevice } from '../../src/activities/notify/notifier';
import { createLogger, type Logger } from '../../src/logging';

export function sampleNotice(overrides: Partial<FailureNotice> = {}): FailureNotice {
  return {
    workflowId: 'smime-3f2c9a1e-user/8d7e6f5a-device',
    runId: '0193a5b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b',
    enrollmentUserUuid: '3f2c9a1e-0000-4000-8000-00000000a001',
    deviceUuid: '8d7e6f5a-0000-4000-8000-00000000d001',
    userName: 'Jane Doe',
    email: 'jane.doe@example.test',
    deviceName: "Jane's iPhone",
    platform: 'Apple',
    eventTime: '2026-03-01T08:00:00.000Z',
    attempts: 75,
    reason: 'AttemptsExhausted',
    lastError: { type: 'GatewayUnavailable', message: 'gateway answered HTTP 503' },
    failedAt: '2026-03-13T20:00:00.000Z',
    workflowUrl: 'http://localhost:8233/namespaces/default/workflows/w/r/history',
    howToFind: 'Temporal workflow smime-3f2c9a1e-user/8d7e6f5a-device in namespace default',
    ...overrides,
  };
}

/** One device of a sample reinstall notice; `n` makes its identifiers unique. */
export function sampleReinstallDevice(n: number): ReinstallDevice {
  const suffix = String(n).padStart(4, '0');
  return {
    deviceUuid: `8d7e6f5a-0000-4000-8000-00000000${suffix}`,
    enrollmentUserUuid: `3f2c9a1e-0000-4000-8000-00000000${suffix}`,
    deviceId: String(1000 + n),
    serialNumber: `C02XK${suffix}`,
    email: `user${n}@example.test`,
  };
}

/** A renewal batch's profile re-install notice listing `deviceCount` devices (all of them unless `total` says more). */
export function sampleReinstallNotice(overrides: Partial<ProfileReinstallNotice> = {}, deviceCount = 3): ProfileReinstallNotice {
  const devices = Array.from({ length: deviceCount }, (_, i) => sampleReinstallDevice(i + 1));
  return {
    workflowId: 'smime-renewal-2026-03-01',
    runId: '0193a5b2-7c4d-7e8f-9a0b-1c2d3e4f5a6c',
    reason: 'expiring within 30 days',
    devices,
    total: devices.length,
    howToFind: 'GET /v1/credentials?state=active&renewalBatch=smime-renewal-2026-03-01',
    sentAt: '2026-03-01T09:00:00.000Z',
    workflowUrl: 'http://localhost:8233/namespaces/default/workflows/smime-renewal-2026-03-01/r/history',
    ...overrides,
  };
}

/** Asserts a typed Temporal failure with this type and retry verdict; returns it for more checks. */
export { failsWith } from './failures';

// --- logger -------------------------------------------------------------------------------------

/** A pino logger with the project's redaction and format, writing into memory. */
export function capturingLogger(): { logger: Logger; lines: () => Record<string, unknown>[]; raw: () => string } {
  let text = '';
  const sink = new Writable({
    write(chunk, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  const logger = createLogger({ level: 'trace' }, sink);
  return {
    logger,
    raw: () => text,
    lines: () => text.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

// --- HTTP receiver -----------------------------------------------------------------------------

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpReceiver {
  url: string;
  requests: ReceivedRequest[];
  /** How to answer the next requests (default 204). */
  answer: (req: ReceivedRequest, res: ServerResponse) => void;
  close(): Promise<void>;
}

export async function startHttpReceiver(): Promise<HttpReceiver> {
  const receiver: HttpReceiver = {
    url: '',
    requests: [],
    answer: (_req, res) => {
      res.statusCode = 204;
      res.end();
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      receiver.requests.push(received);
      receiver.answer(received, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}

// --- SMTP server -------------------------------------------------------------------------------

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: Buffer;
  parsed: ParsedMail;
  /** Whether the session had been upgraded to TLS when the message came in. */
  secure: boolean;
}

export interface SmtpFixture {
  port: number;
  url: string;
  messages: ReceivedMail[];
  close(): Promise<void>;
}

/**
 * smtp-server on 127.0.0.1, port 0. Without `key`/`cert` STARTTLS is not offered (the library's
 * built-in certificate would only fail verification). Messages are parsed with mailparser, as a
 * mail client would read them.
 */
export async function startSmtpServer(options: Partial<SMTPServerOptions> = {}): Promise<SmtpFixture> {
  const messages: ReceivedMail[] = [];
  const offersTls = !!options.key && !!options.cert;
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    disabledCommands: offersTls ? [] : ['STARTTLS'],
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        simpleParser(raw).then(
          (parsed) => {
            messages.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
              raw,
              parsed,
              secure: session.secure,
            });
            callback();
          },
          (err: Error) => callback(err),
        );
      });
    },
    ...options,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// --- TLS ---------------------------------------------------------------------------------------

/** A self-signed certificate for 127.0.0.1/localhost, made by the OpenSSL CLI. */
export function selfSignedCertificate(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'notify-tls-'));
  try {
    execFileSync('/usr/bin/openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ], { stdio: 'pipe' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
