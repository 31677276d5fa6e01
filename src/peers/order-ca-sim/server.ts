/**
 * A local order-and-poll CA (the contract in src/activities/ca/order-poll/contract.ts) for tests
 * and the dev stack. It issues real certificates — through `issuer`, normally the embedded CA with
 * no delay of its own — but only once an order has been pending for `issueAfterMs` by its clock
 * (`now`, injectable, so a test can let days pass), like a commercial CA whose validation takes
 * hours or days. Orders for addresses on `rejectEmails` are rejected.
 *
 * Admin API (same API key), for tests and developers:
 *   GET  /sim/orders                    every order (without CSR and certificate)
 *   PUT  /sim/settings                  {issueAfterMs?, rejectEmails?} for orders placed from now on
 *   POST /sim/orders/{id}/hold          {forMs}: pending until now + forMs
 *   POST /sim/orders/{id}/release       issue at the next look
 *   POST /sim/orders/{id}/reject        {reason}
 *   POST /sim/faults                    {status, count}: the next `count` API calls answer `status`
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { CertificateAuthority } from '../../activities/ca/certificate-authority';
import {
  API_KEY_HEADER,
  orderRequestSchema,
  PEM_CHAIN_MEDIA_TYPE,
  revokeRequestSchema,
  type ApiError,
  type Order,
} from '../../activities/ca/order-poll/contract';
import { normalizeSerial } from '../../activities/crypto/certificate-info';
import { x509 } from '../../activities/crypto/x509';
import type { Logger } from '../../logging';
import { OrderStore, type OrderRecord } from './store';

export interface OrderCaSimulatorOptions {
  /** 0 picks a free port. */
  port: number;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** The key clients must send as X-API-Key. */
  apiKey: string;
  /** Orders are kept under `<dataDir>/order-ca-sim/orders/` (default: in memory only). */
  dataDir?: string;
  /** How long a new order stays pending (by `now`). */
  issueAfterMs: number;
  /** Addresses (`alice@example.com`) or domains (`@example.com`) whose orders are rejected. */
  rejectEmails?: string[];
  /** The simulator's clock (default Date.now): tests move it to let hours or days pass. */
  now?: () => number;
  /** Signs certificates when an order comes due; must answer "issued" at once (e.g. EmbeddedCa, pendingForMs 0). */
  issuer: CertificateAuthority;
  /** Serve HTTPS with this certificate (default: plain HTTP, for loopback use). */
  tls?: { certPem: string; keyPem: string };
  logger?: Logger;
}

export interface OrderCaSimulator {
  url: string;
  port: number;
  /** Orders as the CA sees them (without CSR and certificate). */
  orders(): Order[];
  setIssueAfter(ms: number): void;
  hold(orderId: string, forMs: number): Promise<void>;
  release(orderId: string): Promise<void>;
  /** Calls that reached the public API (any answer), for idempotency checks. */
  readonly stats: { placeCalls: number; pollCalls: number; downloadCalls: number };
  close(): Promise<void>;
}

const settingsSchema = z.object({ issueAfterMs: z.number().int().nonnegative().optional(), rejectEmails: z.array(z.string()).optional() });
const holdSchema = z.object({ forMs: z.number().int().nonnegative() });
const rejectSchema = z.object({ reason: z.string().min(1).max(500) });
const faultSchema = z.object({ status: z.number().int().min(400).max(599), count: z.number().int().min(1).max(100) });

export async function startOrderCaSimulator(options: OrderCaSimulatorOptions): Promise<OrderCaSimulator> {
  const log = options.logger?.child({ component: 'order-ca-sim' });
  const now = options.now ?? Date.now;
  const store = new OrderStore(options.dataDir ? join(options.dataDir, 'order-ca-sim', 'orders') : undefined);
  const state = { issueAfterMs: options.issueAfterMs, rejectEmails: (options.rejectEmails ?? []).map((e) => e.toLowerCase()) };
  const faults = { status: 0, count: 0 };
  const stats = { placeCalls: 0, pollCalls: 0, downloadCalls: 0 };
  const expectedKey = createHash('sha256').update(options.apiKey).digest();
  const locks = new Map<string, Promise<unknown>>();

  /** One change to an order at a time: issuing twice would sign two certificates. */
  function exclusive<T>(orderId: string, work: () => Promise<T>): Promise<T> {
    const result = (locks.get(orderId) ?? Promise.resolve()).then(work, work);
    locks.set(orderId, result.catch(() => undefined));
    return result;
  }

  /** Bring an order up to date with the clock: a pending order that is due gets its certificate. */
  function refresh(orderId: string): Promise<OrderRecord | undefined> {
    return exclusive(orderId, async () => {
      const record = store.get(orderId);
      if (!record || record.status !== 'pending' || now() < record.issueAtMs) return record;
      let updated: OrderRecord;
      try {
        const answer = await options.issuer.submit({
          idempotencyKey: `order-ca-sim/${record.orderId}`,
          kind: record.usage,
          csrPem: record.csrPem,
          email: record.email,
          displayName: record.displayName,
          validityDays: record.validityDays,
          ...(record.profile ? { profile: record.profile } : {}),
        });
        if (answer.status !== 'issued') return record; // the issuer is slow itself: still pending
        updated = {
          ...record,
          status: 'issued',
          certificatePem: answer.certificatePem,
          chainPem: answer.chainPem,
          serial: normalizeSerial(new x509.X509Certificate(answer.certificatePem).serialNumber),
          issuedAtMs: now(),
        };
        log?.info({ orderId, serial: updated.serial }, 'order issued');
      } catch (err) {
        if (!(err instanceof ApplicationFailure) || !err.nonRetryable) throw err;
        updated = { ...record, status: 'rejected', rejectionReason: err.message };
        log?.info({ orderId, reason: err.message }, 'order rejected by the issuer');
      }
      await store.save(updated);
      return updated;
    });
  }

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '64kb' }));

  app.use((req: Request, res: Response, next: NextFunction) => {
    const given = req.get(API_KEY_HEADER);
    if (!given || !timingSafeEqual(createHash('sha256').update(given).digest(), expectedKey)) {
      sendError(res, 401, 'unauthorized', 'missing or invalid API key');
      return;
    }
    if (!req.path.startsWith('/sim/') && faults.count > 0) {
      faults.count -= 1;
      sendError(res, faults.status, 'injected_fault', 'simulated CA failure');
      return;
    }
    next();
  });

  app.post('/v1/orders', async (req: Request, res: Response) => {
    stats.placeCalls += 1;
    const parsed = orderRequestSchema.safeParse(req.body);
    if (!parsed.success) {
      sendError(res, 400, 'invalid_order', parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
      return;
    }
    const order = parsed.data;
    const csr = await parseCsr(order.csr);
    if (!csr) {
      sendError(res, 400, 'invalid_csr', 'csr is not a PEM PKCS#10 request with a valid signature');
      return;
    }
    const result = await exclusive(`external:${order.externalId}`, async () => {
      const existing = store.findByExternalId(order.externalId);
      if (existing) return existing.csrSha256 === csr.sha256 ? { record: existing, created: false } : undefined;
      const email = order.email.toLowerCase();
      const rejected = state.rejectEmails.some((rule) => (rule.startsWith('@') ? email.endsWith(rule) : email === rule));
      const record: OrderRecord = {
        orderId: `ord_${randomBytes(12).toString('hex')}`,
        externalId: order.externalId,
        csrSha256: csr.sha256,
        csrPem: order.csr,
        email,
        ...(order.displayName ? { displayName: order.displayName } : {}),
        usage: order.usage,
        ...(order.profile ? { profile: order.profile } : {}),
        validityDays: order.validityDays,
        product: order.product,
        createdAtMs: now(),
        issueAtMs: now() + state.issueAfterMs,
        status: rejected ? 'rejected' : 'pending',
        ...(rejected ? { rejectionReason: `domain control validation failed for ${email}` } : {}),
      };
      await store.save(record);
      log?.info({ orderId: record.orderId, status: record.status }, 'order placed');
      return { record, created: true };
    });
    if (!result) {
      sendError(res, 409, 'external_id_conflict', `externalId ${order.externalId} already names an order for another CSR`);
      return;
    }
    const current = (await refresh(result.record.orderId)) ?? result.record;
    res.status(result.created ? 201 : 200).json(publicOrder(current));
  });

  app.get('/v1/orders/:orderId', async (req: Request, res: Response) => {
    stats.pollCalls += 1;
    const record = await refresh(String(req.params.orderId));
    if (!record) {
      sendError(res, 404, 'order_not_found', `no order ${String(req.params.orderId)}`);
      return;
    }
    res.json(publicOrder(record));
  });

  app.get('/v1/orders/:orderId/certificate', async (req: Request, res: Response) => {
    stats.downloadCalls += 1;
    const record = await refresh(String(req.params.orderId));
    if (!record) {
      sendError(res, 404, 'order_not_found', `no order ${String(req.params.orderId)}`);
      return;
    }
    if (record.status !== 'issued' || !record.certificatePem) {
      sendError(res, 409, 'not_issued', `order ${record.orderId} is ${record.status}`);
      return;
    }
    res.type(PEM_CHAIN_MEDIA_TYPE).send([record.certificatePem, ...(record.chainPem ?? [])].map((p) => p.trim()).join('\n') + '\n');
  });

  app.post('/v1/certificates/:serial/revoke', async (req: Request, res: Response) => {
    const parsed = revokeRequestSchema.safeParse(req.body);
    let serial: string;
    try {
      serial = normalizeSerial(String(req.params.serial));
    } catch {
      sendError(res, 400, 'invalid_serial', 'serial must be hexadecimal');
      return;
    }
    if (!parsed.success) {
      sendError(res, 400, 'invalid_reason', parsed.error.issues.map((i) => i.message).join('; '));
      return;
    }
    const found = store.findBySerial(serial);
    if (!found) {
      sendError(res, 404, 'certificate_not_found', `no certificate with serial ${serial}`);
      return;
    }
    const record = await exclusive(found.orderId, async () => {
      const current = store.get(found.orderId)!;
      if (current.revokedAtMs !== undefined) return current;
      if (options.issuer.revoke) await options.issuer.revoke(serial, parsed.data.reason === 'superseded' ? 'superseded' : parsed.data.reason);
      const revoked = { ...current, revokedAtMs: now() };
      await store.save(revoked);
      return revoked;
    });
    res.json({ serial, revokedAt: new Date(record.revokedAtMs!).toISOString() });
  });

  // --- admin ----------------------------------------------------------------------------------
  app.get('/sim/orders', (_req: Request, res: Response) => {
    res.json(store.all().map(publicOrder));
  });
  app.put('/sim/settings', (req: Request, res: Response) => {
    const parsed = settingsSchema.safeParse(req.body);
    if (!parsed.success) return sendError(res, 400, 'invalid_settings', parsed.error.message);
    if (parsed.data.issueAfterMs !== undefined) state.issueAfterMs = parsed.data.issueAfterMs;
    if (parsed.data.rejectEmails) state.rejectEmails = parsed.data.rejectEmails.map((e) => e.toLowerCase());
    res.json(state);
  });
  app.post('/sim/orders/:orderId/hold', async (req: Request, res: Response) => {
    const parsed = holdSchema.safeParse(req.body);
    if (!parsed.success) return sendError(res, 400, 'invalid_hold', parsed.error.message);
    const record = await setIssueAt(String(req.params.orderId), now() + parsed.data.forMs);
    return record ? res.json(publicOrder(record)) : sendError(res, 404, 'order_not_found', 'no such order');
  });
  app.post('/sim/orders/:orderId/release', async (req: Request, res: Response) => {
    const record = await setIssueAt(String(req.params.orderId), now());
    return record ? res.json(publicOrder((await refresh(record.orderId)) ?? record)) : sendError(res, 404, 'order_not_found', 'no such order');
  });
  app.post('/sim/orders/:orderId/reject', async (req: Request, res: Response) => {
    const parsed = rejectSchema.safeParse(req.body);
    if (!parsed.success) return sendError(res, 400, 'invalid_reject', parsed.error.message);
    const record = await exclusive(String(req.params.orderId), async () => {
      const current = store.get(String(req.params.orderId));
      if (!current || current.status !== 'pending') return current;
      const rejected: OrderRecord = { ...current, status: 'rejected', rejectionReason: parsed.data.reason };
      await store.save(rejected);
      return rejected;
    });
    return record ? res.json(publicOrder(record)) : sendError(res, 404, 'order_not_found', 'no such order');
  });
  app.post('/sim/faults', (req: Request, res: Response) => {
    const parsed = faultSchema.safeParse(req.body);
    if (!parsed.success) return sendError(res, 400, 'invalid_fault', parsed.error.message);
    faults.status = parsed.data.status;
    faults.count = parsed.data.count;
    return res.json(faults);
  });

  app.use((_req: Request, res: Response) => sendError(res, 404, 'not_found', 'no such endpoint'));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: number }).status;
    if (status && status >= 400 && status < 500) {
      sendError(res, status, 'bad_request', (err as Error).message);
      return;
    }
    log?.error({ err: (err as Error).message }, 'order-ca-sim: internal error');
    sendError(res, 500, 'internal_error', 'the simulator failed; see its log');
  });

  function setIssueAt(orderId: string, issueAtMs: number): Promise<OrderRecord | undefined> {
    return exclusive(orderId, async () => {
      const current = store.get(orderId);
      if (!current || current.status !== 'pending') return current;
      const updated = { ...current, issueAtMs };
      await store.save(updated);
      return updated;
    });
  }

  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.certPem, key: options.tls.keyPem }, app) : createHttpServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1';
  const url = `${options.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log?.info({ url, issueAfterMs: state.issueAfterMs }, 'order-and-poll CA simulator listening');

  return {
    url,
    port,
    stats,
    orders: () => store.all().map(publicOrder),
    setIssueAfter: (ms) => {
      state.issueAfterMs = ms;
    },
    hold: async (orderId, forMs) => {
      await setIssueAt(orderId, now() + forMs);
    },
    release: async (orderId) => {
      await setIssueAt(orderId, now());
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function publicOrder(record: OrderRecord): Order {
  return {
    orderId: record.orderId,
    externalId: record.externalId,
    status: record.status,
    email: record.email,
    product: record.product,
    createdAt: new Date(record.createdAtMs).toISOString(),
    ...(record.serial ? { serial: record.serial } : {}),
    ...(record.issuedAtMs !== undefined ? { issuedAt: new Date(record.issuedAtMs).toISOString() } : {}),
    ...(record.rejectionReason ? { rejectionReason: record.rejectionReason } : {}),
  };
}

function sendError(res: Response, status: number, code: string, message: string): void {
  const body: ApiError = { error: { code, message } };
  res.status(status).json(body);
}

async function parseCsr(pem: string): Promise<{ sha256: string } | undefined> {
  try {
    const csr = new x509.Pkcs10CertificateRequest(pem);
    if (!(await csr.verify())) return undefined;
    return { sha256: createHash('sha256').update(Buffer.from(csr.rawData)).digest('hex') };
  } catch {
    return undefined;
  }
}
