/**
 * A local Workspace ONE UEM for the dev stack and tests, speaking the contract in
 * src/activities/uem/rest-contract.ts (docs/uem-rest-contract.md) behind the same auth UEM uses —
 * `aw-tenant-code` plus Basic, or an OAuth client-credentials token from its own token endpoint.
 * Anything else → 401, as UEM does.
 *
 *   System API  user look-ups: v2 by UUID (camelCase), v1 by numeric id and v1 search (PascalCase)
 *               (users.ts); S/MIME direct upload (direct-upload.ts), checked and recorded in `uploads`
 *   MDM API     device search, the bulk read, a device by UUID, smart group devices, profile
 *               install, over the simulator's inventory (mdm.ts, inventory.ts)
 *   /sim/...    admin routes, loopback only (admin.ts): directory records, silent enrollments and
 *               departures, profile installs received, rate limits
 *
 * Every /api answer carries UEM's x-ratelimit-* headers; the budget and an optional per-second
 * limit answer 429 with Retry-After when exceeded (rate-limit.ts).
 *
 * The authenticated /api router is handed to `extend` before the built-in routes, so a test can
 * add routes behind the same checks, or answer a built-in path its own way.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { UUID_PATTERN, type CredentialKind } from '../../domain/enrollment';
import type { Logger } from '../../logging';
import { adminRouter } from './admin';
import { mountDirectUpload } from './direct-upload';
import { SimInventory, type SimDeviceInput } from './inventory';
import { mountMdm, uemError, type ProfileInstall } from './mdm';
import { SimRateLimiter } from './rate-limit';
import { loadSimUsers, SimUserDirectory, type LookUpResult, type SimUserInput, type SimUserRecord } from './users';

export type { ProfileInstall } from './mdm';

/** Something the provider uploaded straight to UEM (recorded by the direct-upload routes). */
export interface DirectUpload {
  userId: string;
  receivedAt: string;
  /** The credential kinds in the upload (set by the built-in uploadsmimecerts route). */
  kinds?: CredentialKind[];
  /** SHA-256 (hex) of each uploaded certificate, by kind. */
  thumbprints?: Partial<Record<CredentialKind, string>>;
  /** SHA-256 (hex) of each certificate in the upload's `Archived` list, in the order sent. */
  archivedThumbprints?: string[];
  [detail: string]: unknown;
}

/** A request the simulator answered: for tests that check what the client sent. */
export interface SimRequest {
  method: string;
  path: string;
  /** The query string without '?' ('' when none). */
  query: string;
  accept?: string;
  auth: 'basic' | 'bearer' | 'none' | 'other';
  status: number;
}

export interface UemSimContext {
  users: SimUserDirectory;
  inventory: SimInventory;
  uploads: DirectUpload[];
  profileInstalls: ProfileInstall[];
  rateLimiter: SimRateLimiter;
  logger?: Logger;
}

export interface UemSimulatorOptions {
  port: number;
  host?: string;
  username: string;
  password: string;
  tenantCode: string;
  /** JSON list of users (see users.ts); others are synthetic. */
  fixtureFile?: string;
  users?: SimUserInput[];
  /** Devices UEM knows from the start (as POST /sim/devices would register them). */
  devices?: SimDeviceInput[];
  /** Enables POST /oauth/token (client credentials) and Bearer auth on /api. */
  oauth?: { clientId: string; clientSecret: string; tokenLifetimeSeconds?: number };
  /** Add routes to the authenticated /api router; they are matched before the built-in ones. */
  extend?: (api: Router, context: UemSimContext) => void;
  logger?: Logger;
}

export interface UemSimulator {
  url: string;
  /** Where the admin routes are (/sim/... on the same port; loopback callers only). */
  adminUrl: string;
  /** The token endpoint, when OAuth is enabled. */
  tokenUrl?: string;
  users: SimUserDirectory;
  inventory: SimInventory;
  rateLimiter: SimRateLimiter;
  directUploads(): DirectUpload[];
  profileInstalls(): ProfileInstall[];
  requests(): SimRequest[];
  /** Tokens issued so far (to check a client caches them). */
  tokensIssued(): number;
  /** Forget every issued token, as a revocation on the UEM side would. */
  revokeTokens(): void;
  close(): Promise<void>;
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
const sameSecret = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

export async function startUemSimulator(options: UemSimulatorOptions): Promise<UemSimulator> {
  const users = new SimUserDirectory([...(options.fixtureFile ? loadSimUsers(options.fixtureFile) : []), ...(options.users ?? [])]);
  const inventory = new SimInventory();
  for (const device of options.devices ?? []) inventory.put(device);
  const rateLimiter = new SimRateLimiter();
  const context: UemSimContext = { users, inventory, uploads: [], profileInstalls: [], rateLimiter, logger: options.logger };
  const requests: SimRequest[] = [];
  const tokens = new Map<string, number>(); // token → expiry (epoch ms)
  let tokensIssued = 0;

  const app = express();
  app.disable('x-powered-by');
  app.use((req, res, next) => {
    res.on('finish', () => {
      const [path, query = ''] = req.originalUrl.split('?', 2) as [string, string?];
      // What a client of UEM sent; the admin routes are the test's own, not UEM's.
      if (path === '/sim' || path.startsWith('/sim/')) return;
      requests.push({ method: req.method, path, query, accept: req.headers.accept, auth: authScheme(req.headers.authorization), status: res.statusCode });
    });
    next();
  });
  app.use('/sim', adminRouter(context));

  if (options.oauth) {
    const { clientId, clientSecret, tokenLifetimeSeconds = 3600 } = options.oauth;
    app.post('/oauth/token', express.urlencoded({ extended: false, limit: '8kb' }), (req, res) => {
      const form = (req.body ?? {}) as Record<string, string | undefined>;
      const basic = decodeBasic(req.headers.authorization);
      const id = form.client_id ?? basic?.username ?? '';
      const secret = form.client_secret ?? basic?.password ?? '';
      if (form.grant_type !== 'client_credentials') return void res.status(400).json({ error: 'unsupported_grant_type' });
      if (!sameSecret(id, clientId) || !sameSecret(secret, clientSecret)) return void res.status(401).json({ error: 'invalid_client' });
      const token = randomBytes(24).toString('base64url');
      tokens.set(token, Date.now() + tokenLifetimeSeconds * 1000);
      tokensIssued += 1;
      res.json({ access_token: token, token_type: 'Bearer', expires_in: tokenLifetimeSeconds });
    });
  }

  const api = express.Router();
  api.use((req: Request, res: Response, next: NextFunction) => {
    const tenant = req.headers['aw-tenant-code'];
    if (typeof tenant !== 'string' || !sameSecret(tenant, options.tenantCode) || !authenticated(req.headers.authorization)) {
      res.setHeader('WWW-Authenticate', 'Basic realm="UEM simulator"');
      return void res.status(401).json({ errorCode: 1005, message: 'User credentials are invalid.' });
    }
    next();
  });
  // UEM's rate limit: every answer says what is left; a call over the limit gets 429 + Retry-After.
  api.use((_req: Request, res: Response, next: NextFunction) => {
    const admission = rateLimiter.admit();
    res.set(rateLimiter.headers());
    if (!admission.ok) {
      res.setHeader('Retry-After', String(admission.retryAfterSeconds));
      return void uemError(res, 429, admission.message);
    }
    next();
  });
  api.get('/system/users/search', (req, res) => {
    const query = lowerCaseQuery(req);
    const userName = query.username ?? '';
    const page = /^\d{1,9}$/.test(query.page ?? '0') ? Number(query.page ?? '0') : undefined;
    const pageSize = /^\d{1,9}$/.test(query.pagesize ?? '500') ? Math.max(1, Number(query.pagesize ?? '500')) : undefined;
    if (page === undefined || pageSize === undefined) return void uemError(res, 400, 'Invalid page or pagesize.');
    const found = userName ? users.searchByUserName(userName) : [];
    const slice = found.slice(page * pageSize, (page + 1) * pageSize);
    if (slice.length === 0) return void res.status(204).end();
    res.json({ Users: slice.map(toV1), Page: page, PageSize: pageSize, Total: found.length });
  });
  api.get('/system/users/:id', (req, res) => {
    const id = String(req.params.id);
    const version = /version\s*=\s*(\d+)/i.exec(req.headers.accept ?? '')?.[1] ?? '1';
    if (version === '2') {
      if (!UUID_PATTERN.test(id)) return void res.status(404).json({ errorCode: 404, message: 'User not found.' });
      return void answer(res, users.lookUpByUuid(id), toV2);
    }
    if (!/^\d+$/.test(id)) return void res.status(404).json({ errorCode: 404, message: 'User not found.' });
    answer(res, users.lookUpById(id), toV1);
  });
  options.extend?.(api, context);
  mountDirectUpload(api, context);
  mountMdm(api, context);
  app.use('/api', api);
  app.use((_req, res) => void res.status(404).json({ errorCode: 404, message: 'Not found.' }));

  function authenticated(header: string | undefined): boolean {
    const basic = decodeBasic(header);
    if (basic) return sameSecret(basic.username, options.username) && sameSecret(basic.password, options.password);
    const bearer = /^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1];
    if (!bearer || !options.oauth) return false;
    const expiry = tokens.get(bearer);
    return expiry !== undefined && expiry > Date.now();
  }

  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(options.port, options.host ?? '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host && options.host !== '0.0.0.0' && options.host !== '::' ? options.host : '127.0.0.1';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url,
    adminUrl: `${url}/sim`,
    tokenUrl: options.oauth ? `${url}/oauth/token` : undefined,
    users,
    inventory,
    rateLimiter,
    directUploads: () => [...context.uploads],
    profileInstalls: () => [...context.profileInstalls],
    requests: () => [...requests],
    tokensIssued: () => tokensIssued,
    revokeTokens: () => tokens.clear(),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function answer(res: Response, result: LookUpResult, shape: (user: SimUserRecord) => Record<string, unknown>): void {
  if ('status' in result) {
    if (result.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(result.retryAfterSeconds));
    res.status(result.status).json({ errorCode: result.status, message: result.status === 404 ? 'User not found.' : 'Simulated failure.' });
    return;
  }
  res.json(shape(result.user));
}

/** UEM REST v2 (system/users by UUID): camelCase fields, no numeric id (ReadEnrollmentUserV2Model). */
function toV2(user: SimUserRecord): Record<string, unknown> {
  return {
    uuid: user.uuid,
    externalId: '',
    domain: '',
    userName: user.userName,
    firstName: user.firstName,
    lastName: user.lastName,
    displayName: user.displayName,
    fullName: `${user.firstName} ${user.lastName}`,
    userPrincipalName: '',
    emailAddress: user.email,
    emailUserName: user.userName,
    messageType: 'Email',
    status: true,
    securityType: 'Basic',
    enrolledDeviceCount: 0,
    organizationGroupUuid: '5b1b7c0e-6a9f-4d3e-8f0a-2c4d6e8f0a1b',
  };
}

/** UEM REST v1 (system/users by id): PascalCase fields, the id wrapped the way v1 wraps it. */
function toV1(user: SimUserRecord): Record<string, unknown> {
  return {
    Id: { Value: Number(user.id) },
    Uuid: user.uuid,
    UserName: user.userName,
    FirstName: user.firstName,
    LastName: user.lastName,
    Email: user.email,
    Status: true,
    SecurityType: 1,
  };
}

/** Query parameters by lower-case name (UEM's are case-insensitive). */
function lowerCaseQuery(req: Request): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(req.query).map(([key, value]) => [key.toLowerCase(), typeof value === 'string' ? value : undefined]));
}

function decodeBasic(header: string | undefined): { username: string; password: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function authScheme(header: string | undefined): SimRequest['auth'] {
  if (!header) return 'none';
  if (/^Basic\s/i.test(header)) return 'basic';
  if (/^Bearer\s/i.test(header)) return 'bearer';
  return 'other';
}
