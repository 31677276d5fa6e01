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
 * CORS answers only the configured UI origins. What each route takes and answers, validated here
 * and listed in /openapi.json: ./codec-operations.ts.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { expressPath } from '../api/openapi/mount';
import { PROBLEM_CONTENT_TYPE, type ProblemDetails } from '../api/problem';
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

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Browser origins (the Temporal UI) allowed to call the endpoints. */
  allowedOrigins: string[];
  /** True when the Authorization header names an operator. */
  isOperator: (authorizationHeader: string | undefined) => boolean;
  /** Session lifetime for the login cookie. */
  sessionMs?: number;
  /** Secure cookies when the API is served over HTTPS. */
  secureCookie?: boolean;
}

const COOKIE = 'smime_codec_session';

export function createCodecRouter(options: CodecServerOptions): Router {
  const router = express.Router();
  const sessionKey = randomBytes(32); // per process: a restart signs everyone out, by design
  const sessionMs = options.sessionMs ?? 8 * 60 * 60 * 1000;
  const allowed = new Set(options.allowedOrigins);

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

  const json = express.json({ limit: CODEC_BODY_LIMIT });
  for (const operation of [codecEncode, codecDecode]) {
    const direction = operation === codecEncode ? 'encode' : 'decode';
    router.post(expressPath(operation), json, async (req: Request, res: Response) => {
      if (!options.isOperator(req.headers.authorization) && !validSession(req.headers.cookie)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="codec"');
        problem(res, 401, 'Authentication required', 'an operator token (Authorization: Bearer) or a codec session from /codec/login is required');
        return;
      }
      const body = CodecPayloads.safeParse(req.body);
      if (!body.success) {
        const issue = body.error.issues[0]!;
        const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
        problem(res, 400, 'Malformed request', `expected {"payloads": [...]} with at most ${MAX_PAYLOADS} entries (${where}${issue.message})`);
        return;
      }
      const decoded = body.data.payloads.map(fromJson);
      try {
        const result = direction === 'encode' ? await options.codec.encode(decoded) : await options.codec.decode(decoded);
        res.json({ payloads: result.map(toJson) });
      } catch (err) {
        // A payload under an unknown or retired key: the operator should hear which key.
        problem(res, 422, 'Payload cannot be decoded', (err as Error).message);
      }
    });
  }

  router.get(expressPath(codecLoginPage), (_req, res) => {
    res.type('html').send(LOGIN_PAGE);
  });
  router.post(expressPath(codecLogin), express.urlencoded({ extended: false, limit: '4kb' }), (req, res) => {
    const form = CodecLoginForm.safeParse(req.body);
    if (!form.success || !options.isOperator(`Bearer ${form.data.token}`)) {
      res.status(401).type('html').send(LOGIN_PAGE.replace('<!--error-->', '<p class="error">That is not an operator token.</p>'));
      return;
    }
    const expires = Date.now() + sessionMs;
    const value = `${expires}.${sign(String(expires))}`;
    res.setHeader('Set-Cookie', `${COOKIE}=${value}; Path=/codec; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(sessionMs / 1000)}${options.secureCookie ? '; Secure' : ''}`);
    res.type('html').send('<!doctype html><title>Codec session</title><p>Signed in: the Temporal UI can now decode payloads in this browser. You may close this tab.</p>');
  });
  router.post(expressPath(codecLogout), (_req, res) => {
    res.setHeader('Set-Cookie', `${COOKIE}=; Path=/codec; HttpOnly; SameSite=Strict; Max-Age=0`);
    res.status(204).end();
  });

  function sign(text: string): string {
    return createHmac('sha256', sessionKey).update(text).digest('base64url');
  }

  function validSession(cookieHeader: string | undefined): boolean {
    const value = cookieHeader
      ?.split(';')
      .map((c) => c.trim())
      .find((c) => c.startsWith(`${COOKIE}=`))
      ?.slice(COOKIE.length + 1);
    if (!value) return false;
    const [expires, mac] = value.split('.');
    if (!expires || !mac || Number(expires) < Date.now()) return false;
    const expected = Buffer.from(sign(expires));
    const presented = Buffer.from(mac);
    return expected.length === presented.length && timingSafeEqual(expected, presented);
  }

  return router;
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
