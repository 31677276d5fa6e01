/**
 * The UEM simulator's admin routes, for tests and people, under /sim on the simulator's own port.
 * Unauthenticated, so they answer loopback callers only (by the connection's address, and by the
 * Host header, so a web page cannot reach them through DNS rebinding); input is checked with zod
 * and anything else gets a 4xx problem document.
 *
 *   POST   /sim/users            [{uuid, id?, email, userName?}] → 201 the records look-ups now answer
 *   POST   /sim/devices          [{deviceUuid, enrollmentUserUuid, email?, platform?, smartGroupIds?,
 *                                  enrollmentStatus?}] → 201 the devices as UEM now lists them; no event
 *                                  is sent; an email becomes that user's address in the directory
 *   GET    /sim/devices          the inventory
 *   DELETE /sim/devices/{uuid}   the device leaves UEM, without an event → 204
 *   GET    /sim/profile-installs every profile install received; DELETE forgets them
 *   GET    /sim/faults           the rate limits in force; POST sets them ({rateLimit}, {quota});
 *                                DELETE restores the defaults
 */
import { isIP } from 'node:net';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { UUID_PATTERN } from '../../domain/enrollment';
import { ENROLLMENT_STATUSES, type SimDevice } from './inventory';
import { rateLimitPlanSchema } from './rate-limit';
import type { UemSimContext } from './server';
import { MAX_UEM_ID, SimUserConflict } from './users';

/** A backfill benchmark registers tens of thousands of devices in one call. */
const MAX_ENTRIES = 50_000;
const MAX_BODY = '16mb';

const uuid = z.string().regex(UUID_PATTERN, 'must be a UUID').transform((v) => v.toLowerCase());
const email = z.union([z.literal(''), z.email('must be an email address').max(254)]);
const printable = (max: number) => z.string().min(1).max(max).regex(/^[^\p{Cc}]+$/u, 'must not contain control characters');

const usersSchema = z
  .array(
    z.strictObject({
      uuid,
      id: z.union([z.number().int().positive().max(MAX_UEM_ID), z.string().regex(/^\d{1,10}$/, 'must be a number').refine((v) => Number(v) >= 1 && Number(v) <= MAX_UEM_ID, 'out of range')]).optional(),
      email,
      userName: printable(256).optional(),
    }),
  )
  .min(1)
  .max(MAX_ENTRIES);

const devicesSchema = z
  .array(
    z.strictObject({
      deviceUuid: uuid,
      enrollmentUserUuid: uuid,
      email: email.optional(),
      platform: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}$/, 'must be a platform name such as Apple or Android').optional(),
      smartGroupIds: z.array(z.number().int().positive().max(MAX_UEM_ID)).max(50).optional(),
      enrollmentStatus: z.enum(ENROLLMENT_STATUSES).optional(),
    }),
  )
  .min(1)
  .max(MAX_ENTRIES);

export function adminRouter(context: UemSimContext): Router {
  const { users, inventory } = context;
  const admin = express.Router();
  admin.use(loopbackOnly);
  admin.use(express.json({ limit: MAX_BODY }));

  admin.post('/users', (req, res) => {
    const parsed = usersSchema.safeParse(req.body);
    if (!parsed.success) return void invalid(res, parsed.error, 'expected a JSON array of {uuid, id?, email, userName?}');
    const entries = parsed.data;
    const duplicate = firstDuplicate(entries.map((e) => e.uuid)) ?? firstDuplicate(entries.filter((e) => e.id !== undefined).map((e) => String(Number(e.id))));
    if (duplicate) return void problem(res, 400, 'Duplicate entries', `${duplicate} appears more than once`);
    for (const entry of entries) {
      if (entry.id === undefined) continue;
      const holder = users.idHolder(String(Number(entry.id)));
      if (holder && !holder.synthetic && holder.uuid !== entry.uuid) return void problem(res, 409, 'Id taken', `id ${entry.id} already belongs to user ${holder.uuid}`);
    }
    try {
      const records = entries.map((entry) => users.add({ uuid: entry.uuid, email: entry.email, ...(entry.id !== undefined ? { id: entry.id } : {}), ...(entry.userName ? { userName: entry.userName } : {}) })!);
      res.status(201).json(records.map(({ uuid: u, id, email: e, userName, displayName }) => ({ uuid: u, id, email: e, userName, displayName })));
    } catch (err) {
      if (err instanceof SimUserConflict) return void problem(res, 409, 'Id taken', err.message);
      throw err;
    }
  });

  admin.post('/devices', (req, res) => {
    const parsed = devicesSchema.safeParse(req.body);
    if (!parsed.success) return void invalid(res, parsed.error, 'expected a JSON array of {deviceUuid, enrollmentUserUuid, email?, platform?, smartGroupIds?, enrollmentStatus?}');
    const entries = parsed.data;
    const duplicate = firstDuplicate(entries.map((e) => e.deviceUuid));
    if (duplicate) return void problem(res, 400, 'Duplicate entries', `device ${duplicate} appears more than once`);
    const emails = new Map<string, string>();
    for (const entry of entries) {
      if (entry.email === undefined) continue;
      const seen = emails.get(entry.enrollmentUserUuid);
      if (seen !== undefined && seen !== entry.email) return void problem(res, 400, 'Conflicting addresses', `user ${entry.enrollmentUserUuid} is given two different email addresses`);
      emails.set(entry.enrollmentUserUuid, entry.email);
    }
    for (const [userUuid, address] of emails) users.setEmail(userUuid, address);
    const devices = entries.map((entry) => inventory.put(entry));
    context.logger?.info({ devices: devices.length, inventory: inventory.size }, 'UEM simulator: devices enrolled silently');
    res.status(201).json(devices.map((device) => view(device, context)));
  });

  admin.get('/devices', (_req, res) => void res.json(inventory.list().map((device) => view(device, context))));

  admin.delete('/devices/:uuid', (req, res) => {
    const deviceUuid = String(req.params.uuid);
    if (!UUID_PATTERN.test(deviceUuid)) return void problem(res, 400, 'Invalid device UUID', 'the path must end in a device UUID');
    if (!inventory.remove(deviceUuid)) return void problem(res, 404, 'No such device', `UEM has no device ${deviceUuid.toLowerCase()}`);
    context.logger?.info({ deviceUuid: deviceUuid.toLowerCase() }, 'UEM simulator: device left silently');
    res.status(204).end();
  });

  admin.get('/profile-installs', (_req, res) => void res.json(context.profileInstalls));
  admin.delete('/profile-installs', (_req, res) => {
    context.profileInstalls.length = 0;
    res.status(204).end();
  });

  admin.get('/faults', (_req, res) => void res.json(context.rateLimiter.current()));
  admin.post('/faults', (req, res) => {
    const parsed = rateLimitPlanSchema.safeParse(req.body);
    if (!parsed.success) return void invalid(res, parsed.error, 'expected {rateLimit?: {requestsPerSecond, retryAfterSeconds?} | null, quota?: {limit, remaining?, resetInSeconds?} | null}');
    context.rateLimiter.set(parsed.data);
    res.status(201).json(context.rateLimiter.current());
  });
  admin.delete('/faults', (_req, res) => {
    context.rateLimiter.clear();
    res.status(204).end();
  });

  admin.use((req, res) => void problem(res, 404, 'Not found', `${req.method} /sim${req.path}`));
  admin.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    const status = (err as { status?: number }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) return void problem(res, status, status === 413 ? 'Body too large' : 'Invalid body', status === 413 ? `at most ${MAX_BODY}` : 'the body must be JSON');
    next(err);
  });
  return admin;
}

/** A device as GET /sim/devices lists it: UEM's ids and the user's as the directory has them. */
function view(device: SimDevice, context: UemSimContext): Record<string, unknown> {
  const user = context.users.record(device.enrollmentUserUuid);
  return {
    deviceUuid: device.deviceUuid,
    deviceId: String(device.deviceId),
    serialNumber: device.serialNumber,
    udid: device.udid,
    enrollmentUserUuid: device.enrollmentUserUuid,
    enrollmentUserId: user.id,
    email: user.email,
    userName: user.userName,
    platform: device.platform,
    smartGroupIds: device.smartGroupIds,
    enrollmentStatus: device.enrollmentStatus,
    enrolledAt: device.enrolledAt,
  };
}

/** Loopback callers only, reaching us by a loopback name. */
function loopbackOnly(req: Request, res: Response, next: NextFunction): void {
  if (isLoopbackAddress(req.socket.remoteAddress) && isLoopbackHost(req.headers.host)) return next();
  problem(res, 403, 'Loopback only', "the UEM simulator's admin routes answer callers on this machine only");
}

export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return address === '::1';
}

/** The Host header names this machine: localhost, 127.x.y.z or [::1] (with any port); absent is allowed. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return true;
  const name = host.trim().toLowerCase().replace(/:\d+$/, '');
  if (name === 'localhost' || name === '[::1]') return true;
  return isIP(name) === 4 && name.startsWith('127.');
}

function firstDuplicate(values: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const value of values) {
    if (seen.has(value)) return value;
    seen.add(value);
  }
  return undefined;
}

function invalid(res: Response, error: z.ZodError, expected: string): void {
  problem(res, 400, 'Invalid body', expected, { errors: error.issues.slice(0, 20).map((i) => ({ path: i.path.join('.') || '(body)', message: i.message })) });
}

function problem(res: Response, status: number, title: string, detail: string, extra: Record<string, unknown> = {}): void {
  res.status(status).type('application/problem+json').send(JSON.stringify({ type: 'about:blank', title, status, detail, ...extra }));
}
