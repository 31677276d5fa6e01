/**
 * The CEG gateway simulator: a local stand-in for UEM's Credential Escrow Gateway that implements
 * the upload contract (src/activities/ceg/wire-contract.ts) and checks what it receives as
 * strictly as a real gateway would, with an independent implementation (the OpenSSL CLI).
 *
 * Two listeners:
 *   - the gateway (HTTPS, client certificate required and chained to the dev CA, SHA-256
 *     thumbprint on an allow list, else 403);
 *   - an admin API on 127.0.0.1 only, for tests and developers: what was received, fault injection.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { STATUS_CODES, createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TLSSocket } from 'node:tls';
import express, { type NextFunction, type Request, type Response } from 'express';
import {
  archivedAllowedFor,
  credentialPathSchema,
  devicePathSchema,
  MAX_UPLOAD_BODY_BYTES,
  problem,
  PROBLEM_MEDIA_TYPE,
  PROBLEMS,
  REQUEST_ID_HEADER,
  ROUTES,
  validateUploadBody,
  type CredentialUploadResponse,
  type Problem,
  type ProblemName,
} from '../../activities/ceg/wire-contract';
import type { Logger } from '../../logging';
import type { DevPki } from '../dev-pki';
import { FaultInjector, faultPlanSchema, type Fault } from './faults';
import { decryptPassword, inspectArchivedCredential, inspectCredential } from './inspect-credential';
import { CredentialStore, type ArchivedFile, type SimUploadRecord } from './store';

export interface CegSimulatorOptions {
  /** Gateway (mTLS) port; 0 picks a free one. */
  port: number;
  /** Admin port on 127.0.0.1; 0 picks a free one. */
  adminPort: number;
  /** Interface of the gateway listener (default 127.0.0.1). The admin API is always on 127.0.0.1. */
  host?: string;
  /** Received credentials go under `<dataDir>/ceg-sim/received/`. */
  dataDir: string;
  /** SHA-256 thumbprints (hex, colons allowed) of the client certificates allowed to upload. */
  allowedThumbprints: string[];
  /** Server certificate and the CA client certificates must chain to. */
  pki: DevPki;
  /** Key that opens `passwordEncrypted` (PEM); default: the dev PKI's recipient key. */
  recipientKeyPem?: string;
  logger?: Logger;
}

export interface CegSimulator {
  url: string;
  adminUrl: string;
  close(): Promise<void>;
}

export async function startCegSimulator(options: CegSimulatorOptions): Promise<CegSimulator> {
  const log = options.logger?.child({ component: 'ceg-sim' });
  const store = new CredentialStore(options.dataDir, log);
  await store.load();
  const faults = new FaultInjector();
  const allowed = new Set(options.allowedThumbprints.map(normaliseThumbprint));
  const lifetime = new AbortController();
  const stats = { tlsConnections: 0, uploadRequests: 0 };

  // pkeyutl reads the key from a file; a key given as PEM gets a private temporary one.
  let recipientKeyPath = options.pki.recipientKeyPath;
  let recipientKeyDir: string | undefined;
  if (options.recipientKeyPem) {
    recipientKeyDir = await mkdtemp(join(tmpdir(), 'ceg-sim-recipient-'));
    recipientKeyPath = join(recipientKeyDir, 'recipient.key');
    await writeFile(recipientKeyPath, options.recipientKeyPem, { mode: 0o600 });
  }

  // ---------------------------------------------------------------- gateway (mTLS)
  const app = express();
  app.disable('x-powered-by');

  app.use((req, res, next) => {
    const peer = (req.socket as TLSSocket).getPeerX509Certificate?.();
    const thumbprint = peer ? createHash('sha256').update(peer.raw).digest('hex') : undefined;
    if (!thumbprint || !allowed.has(thumbprint)) {
      log?.warn({ clientThumbprint: thumbprint, path: req.path }, 'ceg-sim: client certificate not on the allow list');
      return sendProblem(res, problem('clientNotAllowed', 'the SHA-256 thumbprint of the client certificate is not on the allow list'));
    }
    res.locals.clientThumbprint = thumbprint;
    next();
  });

  app.put(ROUTES.credential, express.json({ limit: MAX_UPLOAD_BODY_BYTES }), async (req, res) => {
    stats.uploadRequests++;
    const started = Date.now();
    const requestId = req.get(REQUEST_ID_HEADER);
    const fault = faults.take();
    if (fault && (await applyFault(fault, req, res))) return;

    const path = credentialPathSchema.safeParse(req.params);
    if (!path.success) return sendProblem(res, problem('invalidPath'));
    if (!req.is('application/json')) return sendProblem(res, problem('unsupportedMediaType'));
    const checked = validateUploadBody(req.body);
    if (!checked.ok) return sendProblem(res, problem('invalidBody', 'see errors', { errors: checked.problems }));
    const body = checked.body;
    const slot = path.data;
    if (body.archived !== undefined && !archivedAllowedFor(slot.kind)) return sendProblem(res, problem('archivedNotAllowed', `a ${slot.kind} slot has no archived credentials`));

    let password = body.password;
    if (body.passwordEncrypted) {
      const decrypted = await decryptPassword(Buffer.from(body.passwordEncrypted, 'base64'), recipientKeyPath);
      if (decrypted === undefined) return sendProblem(res, problem('passwordNotDecryptable'));
      if (password !== undefined && password !== decrypted) return sendProblem(res, problem('passwordMismatch'));
      password = decrypted;
    }
    const pkcs12 = Buffer.from(body.pkcs12, 'base64');
    const inspection = await inspectCredential({ pkcs12, password: password!, thumbprint: body.thumbprint, email: body.email, profile: body.profile });
    if (!inspection.ok) {
      log?.info({ requestId, ...slot, thumbprint: body.thumbprint, problem: inspection.problem }, 'ceg-sim: upload rejected');
      return sendProblem(res, problem(inspection.problem, inspection.detail));
    }
    // Each archived file as strictly as the main one (bar email and expiry), one after the other:
    // at most 50 OpenSSL runs, and the first failure answers.
    const archived: ArchivedFile[] = [];
    for (const [i, entry] of (body.archived ?? []).entries()) {
      const file = Buffer.from(entry.pkcs12, 'base64');
      const checkedArchive = await inspectArchivedCredential({ pkcs12: file, password: password!, thumbprint: entry.thumbprint, profile: body.profile });
      if (!checkedArchive.ok) {
        log?.info({ requestId, ...slot, thumbprint: body.thumbprint, archived: i, archivedThumbprint: entry.thumbprint, problem: checkedArchive.problem }, 'ceg-sim: upload rejected (archived credential)');
        return sendProblem(res, problem(checkedArchive.problem, `archived[${i}]: ${checkedArchive.detail}`, { errors: [{ path: `archived.${i}`, message: PROBLEMS[checkedArchive.problem].title }] }));
      }
      archived.push({ thumbprint: entry.thumbprint, pkcs12: file });
    }

    const answer = await store.withSlot(slot, async (): Promise<{ code: number; response: CredentialUploadResponse }> => {
      const held = store.get(slot);
      if (held?.thumbprint === body.thumbprint) {
        return { code: 200, response: { status: 'already-present', receiptId: held.receiptId, thumbprint: held.thumbprint, receivedAt: held.receivedAt } };
      }
      const record: SimUploadRecord = {
        ...slot,
        thumbprint: body.thumbprint,
        email: body.email,
        ...(body.enrollmentUserId ? { enrollmentUserId: body.enrollmentUserId } : {}),
        receivedAt: new Date().toISOString(),
        receiptId: randomUUID(),
        ...(inspection.credential.profile ? { profile: inspection.credential.profile } : {}),
        algorithms: inspection.credential.algorithms,
        passwordTransport: body.passwordEncrypted ? 'encrypted' : 'clear',
        uploadedBy: String(res.locals.clientThumbprint),
        ...(archived.length > 0 ? { archivedThumbprints: archived.map((a) => a.thumbprint) } : {}),
      };
      await store.put(record, pkcs12, password!, archived);
      return {
        code: 201,
        response: {
          status: held ? 'replaced' : 'created',
          receiptId: record.receiptId,
          thumbprint: record.thumbprint,
          receivedAt: record.receivedAt,
          ...(held ? { previousThumbprint: held.thumbprint } : {}),
        },
      };
    });
    log?.info({ requestId, ...slot, thumbprint: body.thumbprint, archived: archived.length, outcome: answer.response.status, profile: inspection.credential.profile, ms: Date.now() - started }, 'ceg-sim: upload');
    res.status(answer.code).json(answer.response);
  });

  app.delete(ROUTES.device, async (req, res) => {
    const path = devicePathSchema.safeParse(req.params);
    if (!path.success) return sendProblem(res, problem('invalidPath'));
    const removed = await store.removeDevice(path.data);
    log?.info({ requestId: req.get(REQUEST_ID_HEADER), ...path.data, removed }, 'ceg-sim: device credentials deleted');
    res.status(204).end();
  });

  app.use((req, res) => sendProblem(res, problem('notFound', `${req.method} ${req.path} is not part of the contract`)));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large') return sendProblem(res, problem('bodyTooLarge', `at most ${MAX_UPLOAD_BODY_BYTES} bytes`));
    if (type === 'entity.parse.failed') return sendProblem(res, problem('invalidBody', 'the body is not JSON'));
    if (type === 'encoding.unsupported' || type === 'charset.unsupported') return sendProblem(res, problem('unsupportedMediaType'));
    if (lifetime.signal.aborted) return;
    log?.error({ err: (err as Error)?.message }, 'ceg-sim: request failed');
    return sendProblem(res, problem('internal'));
  });

  /** Apply an injected fault; true when the request is finished with. */
  async function applyFault(fault: Fault, req: Request, res: Response): Promise<boolean> {
    log?.info({ fault }, 'ceg-sim: injecting a fault');
    if (fault.delayMs) await sleep(fault.delayMs, undefined, { signal: lifetime.signal });
    if (fault.dropConnection) {
      req.socket.destroy();
      return true;
    }
    if (fault.status !== undefined) {
      if (fault.retryAfterSeconds !== undefined) res.set('Retry-After', String(fault.retryAfterSeconds));
      sendProblem(res, problemForStatus(fault.status));
      return true;
    }
    return false;
  }

  const gateway: HttpsServer = createHttpsServer(
    {
      key: options.pki.serverKeyPem,
      cert: options.pki.serverCertPem,
      ca: options.pki.caCertPem,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    },
    app,
  );
  gateway.on('secureConnection', () => stats.tlsConnections++);
  gateway.on('tlsClientError', (err) => log?.info({ err: err.message }, 'ceg-sim: TLS handshake failed'));

  // ---------------------------------------------------------------- admin (loopback only)
  const admin = express();
  admin.disable('x-powered-by');
  admin.use(express.json());
  admin.get('/sim/uploads', (_req, res) => void res.json(store.list()));
  admin.delete('/sim/uploads', async (_req, res) => {
    await store.reset();
    faults.clear();
    res.status(204).end();
  });
  admin.get('/sim/deletions', (_req, res) => void res.json(store.listDeletions()));
  admin.get('/sim/faults', (_req, res) => void res.json(faults.current() ?? null));
  admin.post('/sim/faults', (req, res) => {
    const plan = faultPlanSchema.safeParse(req.body);
    if (!plan.success) {
      return sendProblem(res, problem('invalidBody', 'expected { count, status?, delayMs?, dropConnection?, retryAfterSeconds? }', {
        errors: plan.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message })),
      }));
    }
    faults.set(plan.data);
    res.status(201).json(faults.current());
  });
  admin.delete('/sim/faults', (_req, res) => {
    faults.clear();
    res.status(204).end();
  });
  admin.get('/sim/stats', (_req, res) => void res.json({ ...stats, held: store.list().length, receivedDir: store.directory }));
  admin.use((req, res) => sendProblem(res, problem('notFound', `${req.method} ${req.path}`)));
  const adminServer: HttpServer = createHttpServer(admin);

  const host = options.host ?? '127.0.0.1';
  try {
    await listen(gateway, options.port, host);
    await listen(adminServer, options.adminPort, '127.0.0.1');
  } catch (err) {
    gateway.close();
    adminServer.close();
    if (recipientKeyDir) await rm(recipientKeyDir, { recursive: true, force: true });
    throw err;
  }
  const url = `https://${urlHost(host)}:${(gateway.address() as AddressInfo).port}`;
  const adminUrl = `http://127.0.0.1:${(adminServer.address() as AddressInfo).port}`;
  log?.info({ url, adminUrl, allowedThumbprints: [...allowed], receivedDir: store.directory }, 'ceg-sim: listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    adminUrl,
    close() {
      closing ??= (async () => {
        lifetime.abort();
        const closed = Promise.all([closeServer(gateway), closeServer(adminServer)]);
        gateway.closeAllConnections();
        adminServer.closeAllConnections();
        await closed;
        if (recipientKeyDir) await rm(recipientKeyDir, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}

function sendProblem(res: Response, body: Problem & { status: number }): void {
  if (res.headersSent || res.destroyed) return;
  res.status(body.status).type(PROBLEM_MEDIA_TYPE).send(JSON.stringify(body));
}

function problemForStatus(status: number): Problem & { status: number } {
  const byStatus: Partial<Record<number, ProblemName>> = { 429: 'tooManyRequests', 500: 'internal', 503: 'unavailable' };
  const name = byStatus[status];
  if (name) return problem(name, 'injected fault');
  return { type: 'about:blank', title: STATUS_CODES[status] ?? `HTTP ${status}`, status, detail: 'injected fault' };
}

function normaliseThumbprint(text: string): string {
  return text.replace(/[:\s]/g, '').toLowerCase();
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

function listen(server: HttpServer | HttpsServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: HttpServer | HttpsServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

