/**
 * The codec server: `POST /codec/encode` and `POST /codec/decode` in the shape the Temporal UI and
 * CLI speak (`{ payloads: [{ metadata: { key: base64 }, data: base64 }] }`), so operators see
 * decoded payloads in the UI and nobody else does.
 *
 * Who may decode: an operator. The UI either forwards the operator's bearer token (a UI with
 * single sign-on and "pass access token"), or the browser carries a session cookie the operator
 * got once at `/codec/login` by pasting an operator token (the dev UI has no sign-on). The cookie
 * is HttpOnly and SameSite=Strict: the UI (localhost:8233) and the API (localhost:3000) are the
 * same site, so the UI's fetch carries it when "include credentials" is on, and no other site can.
 * It is `Secure` whenever the request came over HTTPS: TLS to this process, or `X-Forwarded-Proto:
 * https` from a proxy listed in API_TRUST_PROXY (express's `req.secure`; other proxies' headers
 * are ignored). Sessions live server-side (codec-sessions.ts): `/codec/logout` ends one for good,
 * on every replica. Login attempts are limited per source address and per presented token (429 +
 * Retry-After). CORS answers only the configured UI origins. Credentials are checked before a
 * request body is read. What each route takes and answers, validated here and listed in
 * /openapi.json: ./codec-operations.ts.
 *
 * Encoding: the codec binds each payload to its workflow (codec.ts), and the UI does not say which
 * workflow a payload is for, so this endpoint cannot encode a payload any workflow would accept:
 * `/codec/encode` answers 422 for any payload (and an empty list with an empty list). Signals and
 * starts with arguments go through the provider's API.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { expressPath } from '../api/openapi/mount';
import { PROBLEM_CONTENT_TYPE, type ProblemDetails } from '../api/problem';
import { secretKey, TokenBuckets, type RateLimit } from '../api/rate-limit';
import {
  CODEC_BODY_LIMIT,
  CodecLoginForm,
  codecDecode,
  codecEncode,
  codecLogin,
  codecLoginPage,
  codecLogout,
  CodecPayloads,
  MAX_PAYLOADS,
  type JsonPayload,
} from './codec-operations';
import type { CodecSessionStore } from './codec-sessions';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Browser origins (the Temporal UI) allowed to call the endpoints. */
  allowedOrigins: string[];
  /** True when the Authorization header names an operator. */
  isOperator: (authorizationHeader: string | undefined) => boolean;
  /** Where sessions live (revocable, shared by every replica). */
  sessions: CodecSessionStore;
  /** Session lifetime for the login cookie. Default 8 hours. */
  sessionMs?: number;
  /** Login attempts, per source address and per presented token. Defaults: LOGIN_LIMITS. */
  loginLimits?: { perAddress: RateLimit; perToken: RateLimit };
}

export const COOKIE = 'smime_codec_session';

/** 10 login attempts per address (then one every 6 s), 5 per token (then one every 12 s). */
export const LOGIN_LIMITS = {
  perAddress: { capacity: 10, perSecond: 10 / 60 },
  perToken: { capacity: 5, perSecond: 5 / 60 },
} as const satisfies CodecServerOptions['loginLimits'];

export function createCodecRouter(options: CodecServerOptions): Router {
  const router = express.Router();
  const sessionMs = options.sessionMs ?? 8 * 60 * 60 * 1000;
  const allowed = new Set(options.allowedOrigins);
  const limits = options.loginLimits ?? LOGIN_LIMITS;
  const perAddress = new TokenBuckets(limits.perAddress);
  const perToken = new TokenBuckets(limits.perToken);

  router.use('/codec', (req, res, next) => {
    const origin = req.headers.origin;
    if (origin && allowed.has(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Access-Control-Allow-Headers', 'content-type, x-namespace, authorization');
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Max-Age', '600');
    }
    res.setHeader('Vary', 'Origin');
    res.setHeader('Cache-Control', 'no-store');
    if (req.method === 'OPTIONS') {
      res.status(origin && allowed.has(origin) ? 204 : 403).end();
      return;
    }
    next();
  });

  /** Before the body is read: an operator token, or a live session. */
  async function requireOperator(req: Request, res: Response, next: NextFunction): Promise<void> {
    if (options.isOperator(req.headers.authorization)) return next();
    const token = sessionToken(req.headers.cookie);
    let active = false;
    if (token) {
      try {
        active = await options.sessions.isActive(token);
      } catch {
        res.setHeader('Retry-After', '5');
        problem(res, 503, 'Session store unavailable', 'codec sessions cannot be checked right now (the provider database is unreachable); an operator token still works');
        return;
      }
    }
    if (active) return next();
    res.setHeader('WWW-Authenticate', 'Bearer realm="codec"');
    problem(res, 401, 'Authentication required', 'an operator token (Authorization: Bearer) or a codec session from /codec/login is required');
  }

  const json = express.json({ limit: CODEC_BODY_LIMIT });
  for (const operation of [codecEncode, codecDecode]) {
    const direction = operation === codecEncode ? 'encode' : 'decode';
    router.post(expressPath(operation), requireOperator, json, async (req: Request, res: Response) => {
      const body = CodecPayloads.safeParse(req.body);
      if (!body.success) {
        const issue = body.error.issues[0]!;
        const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
        problem(res, 400, 'Malformed request', `expected {"payloads": [...]} with at most ${MAX_PAYLOADS} entries (${where}${issue.message})`);
        return;
      }
      if (direction === 'encode') {
        if (body.data.payloads.length === 0) {
          res.json({ payloads: [] });
          return;
        }
        problem(
          res,
          422,
          'Payloads are not encoded here',
          'payloads are bound to the workflow they belong to, which this endpoint is not told; a payload encoded here would be refused by the worker. Send signals and starts with arguments through the management API',
        );
        return;
      }
      try {
        res.json({ payloads: (await options.codec.decode(body.data.payloads.map(fromJson))).map(toJson) });
      } catch (err) {
        // A payload under an unknown or retired key, or tampered: the operator should hear which.
        problem(res, 422, 'Payload cannot be decoded', (err as Error).message);
      }
    });
  }

  router.get(expressPath(codecLoginPage), (_req, res) => {
    res.type('html').send(LOGIN_PAGE);
  });
  router.post(
    expressPath(codecLogin),
    (req, res, next) => {
      // Per source address before the body is read; per token once it is.
      if (limited(res, perAddress, `address:${req.ip ?? 'unknown'}`)) return;
      next();
    },
    express.urlencoded({ extended: false, limit: '4kb' }),
    async (req, res) => {
      const form = CodecLoginForm.safeParse(req.body);
      if (form.success && limited(res, perToken, `token:${secretKey(form.data.token)}`)) return;
      if (!form.success || !options.isOperator(`Bearer ${form.data.token}`)) {
        res.status(401).type('html').send(LOGIN_PAGE.replace('<!--error-->', '<p class="error">That is not an operator token.</p>'));
        return;
      }
      let token: string;
      try {
        token = await options.sessions.create(Date.now() + sessionMs);
      } catch {
        res.status(503).setHeader('Retry-After', '5');
        res.type('html').send(LOGIN_PAGE.replace('<!--error-->', '<p class="error">Sessions cannot be stored right now (the provider database is unreachable). Try again shortly.</p>'));
        return;
      }
      res.setHeader('Set-Cookie', cookie(token, Math.floor(sessionMs / 1000), req.secure));
      res.type('html').send('<!doctype html><title>Codec session</title><p>Signed in: the Temporal UI can now decode payloads in this browser. You may close this tab.</p>');
    },
  );
  router.post(expressPath(codecLogout), async (req, res) => {
    const token = sessionToken(req.headers.cookie);
    if (token) {
      try {
        await options.sessions.revoke(token);
      } catch {
        res.setHeader('Retry-After', '5');
        problem(res, 503, 'Session store unavailable', 'the session could not be ended (the provider database is unreachable); try again');
        return;
      }
    }
    res.setHeader('Set-Cookie', cookie('', 0, req.secure));
    res.status(204).end();
  });

  return router;
}

function cookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${COOKIE}=${value}; Path=/codec; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}

function sessionToken(cookieHeader: string | undefined): string | undefined {
  const value = cookieHeader
    ?.split(';')
    .map((c) => c.trim())
    .find((c) => c.startsWith(`${COOKIE}=`))
    ?.slice(COOKIE.length + 1);
  return value || undefined;
}

/** True (and 429 sent) when the bucket is empty. */
function limited(res: Response, buckets: TokenBuckets, key: string): boolean {
  const taken = buckets.take(key);
  if (taken.ok) return false;
  res.status(429).setHeader('Retry-After', String(taken.retryAfterSeconds));
  res.type('html').send(LOGIN_PAGE.replace('<!--error-->', `<p class="error">Too many sign-in attempts. Try again in ${taken.retryAfterSeconds} seconds.</p>`));
  return true;
}

function fromJson({ metadata, data }: JsonPayload): Payload {
  const meta: Record<string, Uint8Array> = {};
  for (const [key, value] of Object.entries(metadata ?? {})) meta[key] = Buffer.from(value, 'base64');
  return { metadata: meta, data: data === undefined ? undefined : Buffer.from(data, 'base64') };
}

function toJson(payload: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(payload.metadata ?? {})) metadata[key] = Buffer.from(value).toString('base64');
  return { metadata, data: payload.data ? Buffer.from(payload.data).toString('base64') : undefined };
}

function problem(res: Response, status: number, title: string, detail: string): void {
  const body: ProblemDetails = { type: `urn:smime-escrow-provider:problem:codec-${status}`, title, status, detail };
  res.status(status).type(PROBLEM_CONTENT_TYPE).json(body);
}

const LOGIN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Codec session — smime-escrow-provider</title>
<style>body{font:15px system-ui;max-width:36rem;margin:3rem auto}input{width:100%;padding:.4rem}.error{color:#b00}</style></head>
<body><h1>Decode payloads in the Temporal UI</h1>
<p>Paste an <strong>operator</strong> API token. This browser then gets an 8-hour session that lets the
Temporal UI decode workflow payloads through this codec endpoint. In the UI's codec settings,
turn on <em>Include cross-origin credentials</em>.</p>
<!--error-->
<form method="post" action="/codec/login"><input type="password" name="token" autocomplete="off" autofocus>
<p><button type="submit">Start session</button></p></form></body></html>`;
