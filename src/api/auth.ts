/**
 * Authentication for the two kinds of caller:
 * - UEM, on the webhook: HTTP Basic against UEM_WEBHOOK_USERS (several pairs, so a password can
 *   rotate: add the new pair, switch the console, remove the old pair);
 * - people and tools, on the management API: bearer tokens from API_TOKENS with a role.
 * Secrets are compared as SHA-256 digests with timingSafeEqual, against every configured entry
 * without stopping early, so neither timing nor the order of entries tells anything.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { HttpProblem } from './problem';
import { secretKey } from './rate-limit';

export interface BasicCredential {
  username: string;
  password: string;
}

export type Role = 'viewer' | 'operator';

export interface ApiToken {
  token: string;
  role: Role;
}

/** `user:password` entries (the password may itself contain ':'). Malformed entries are skipped. */
export function parseWebhookUsers(entries: readonly string[]): BasicCredential[] {
  const credentials: BasicCredential[] = [];
  for (const entry of entries) {
    const colon = entry.indexOf(':');
    if (colon <= 0 || colon === entry.length - 1) continue;
    credentials.push({ username: entry.slice(0, colon), password: entry.slice(colon + 1) });
  }
  return credentials;
}

/** `token:role` entries; role viewer or operator. Malformed entries are skipped. */
export function parseApiTokens(entries: readonly string[]): ApiToken[] {
  const tokens: ApiToken[] = [];
  for (const entry of entries) {
    const colon = entry.lastIndexOf(':');
    const role = entry.slice(colon + 1);
    if (colon <= 0 || (role !== 'viewer' && role !== 'operator')) continue;
    tokens.push({ token: entry.slice(0, colon), role });
  }
  return tokens;
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** Index of the matching secret, or -1; looks at every candidate whatever happens. */
function constantTimeMatch(presented: string, candidates: readonly Buffer[]): number {
  const presentedDigest = digest(presented);
  let match = -1;
  candidates.forEach((candidate, index) => {
    if (timingSafeEqual(presentedDigest, candidate) && match === -1) match = index;
  });
  return match;
}

/** The user:password pair of a Basic Authorization header, or undefined when there is none. */
export function decodeBasicAuthorization(header: string | undefined): BasicCredential | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export function basicAuthMatcher(credentials: readonly BasicCredential[]): (header: string | undefined) => BasicCredential | undefined {
  const candidates = credentials.map((c) => digest(`${c.username}:${c.password}`));
  return (header) => {
    const presented = decodeBasicAuthorization(header);
    if (!presented) return undefined;
    const index = constantTimeMatch(`${presented.username}:${presented.password}`, candidates);
    return index === -1 ? undefined : credentials[index];
  };
}

export const WEBHOOK_REALM = 'UEM webhook';

/** Express middleware: 401 with a Basic challenge unless the request carries one of the pairs. */
export function requireBasicAuth(credentials: readonly BasicCredential[], onRejected?: (req: Request) => void): RequestHandler {
  const match = basicAuthMatcher(credentials);
  return (req: Request, res: Response, next: NextFunction) => {
    const user = match(req.headers.authorization);
    if (!user) {
      onRejected?.(req);
      res.setHeader('WWW-Authenticate', `Basic realm="${WEBHOOK_REALM}", charset="UTF-8"`);
      return next(new HttpProblem('unauthorized', 'valid Basic credentials are required'));
    }
    res.locals.principal = user.username;
    next();
  };
}

export function bearerTokenMatcher(tokens: readonly ApiToken[]): (header: string | undefined) => ApiToken | undefined {
  const candidates = tokens.map((t) => digest(t.token));
  return (header) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!match) return undefined;
    const index = constantTimeMatch(match[1]!, candidates);
    return index === -1 ? undefined : tokens[index];
  };
}

/**
 * Express middleware for the management API: 401 for a missing or unknown token, 403 when the
 * token's role is not enough (a viewer may read, an operator may read and act).
 */
export function requireRole(tokens: readonly ApiToken[], needed: Role): RequestHandler {
  const match = bearerTokenMatcher(tokens);
  return (req: Request, res: Response, next: NextFunction) => {
    const token = match(req.headers.authorization);
    if (!token) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="management API"');
      return next(new HttpProblem('unauthorized', 'a valid bearer token is required'));
    }
    res.locals.role = token.role;
    // Which credential, for per-token rate limits: a digest, never the token itself.
    res.locals.principal = secretKey(token.token);
    if (needed === 'operator' && token.role !== 'operator') {
      return next(new HttpProblem('forbidden', 'this action needs the operator role'));
    }
    next();
  };
}
