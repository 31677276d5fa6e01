/**
 * Token buckets, one per key (a webhook user, a bearer token, a source address): each holds up to
 * `capacity` requests and refills at `perSecond`, so a caller may burst to the capacity and then
 * keeps the rate. A request that finds its bucket empty is told how long to wait (429 +
 * Retry-After).
 *
 * In process: each API replica counts only the requests it serves, so behind a load balancer
 * that spreads one caller over N replicas, that caller gets up to N times the configured rate.
 * The limits are there to stop a leaked credential or a runaway script from flooding Temporal,
 * not to meter exactly; set them per replica with that in mind.
 *
 * Memory is bounded: at most `maxKeys` buckets, the least recently used dropped first (a dropped
 * bucket comes back full, which only ever errs towards letting a request through).
 */
import { createHash } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { HttpProblem } from './problem';

export interface RateLimit {
  /** Requests a bucket holds (the burst). */
  capacity: number;
  /** Requests per second it refills. */
  perSecond: number;
}

export type TakeResult = { ok: true } | { ok: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

const DEFAULT_MAX_KEYS = 10_000;

export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>();

  constructor(
    readonly limit: RateLimit,
    private readonly options: { maxKeys?: number; now?: () => number } = {},
  ) {
    if (!(limit.capacity >= 1) || !(limit.perSecond > 0)) throw new Error('a rate limit needs a capacity of at least 1 and a positive rate');
  }

  /** Take one request from `key`'s bucket. */
  take(key: string): TakeResult {
    const now = (this.options.now ?? Date.now)();
    const { capacity, perSecond } = this.limit;
    const previous = this.#buckets.get(key);
    const tokens = previous ? Math.min(capacity, previous.tokens + ((now - previous.at) / 1000) * perSecond) : capacity;
    // Re-inserted on every use: the Map's order is then least recently used first.
    this.#buckets.delete(key);
    if (tokens >= 1) {
      this.#buckets.set(key, { tokens: tokens - 1, at: now });
      this.#evict();
      return { ok: true };
    }
    this.#buckets.set(key, { tokens, at: now });
    this.#evict();
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / perSecond)) };
  }

  get size(): number {
    return this.#buckets.size;
  }

  #evict(): void {
    const max = this.options.maxKeys ?? DEFAULT_MAX_KEYS;
    while (this.#buckets.size > max) this.#buckets.delete(this.#buckets.keys().next().value!);
  }
}

/** A bucket key for a secret (a token, a password): its digest, so no secret is kept in memory as a key. */
export function secretKey(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

/**
 * Express middleware after authentication: one bucket per `keyOf(req, res)` (the credential the
 * request authenticated with); 429 + Retry-After when it is empty. `limit` undefined: no limit.
 */
export function rateLimitPer(
  limit: RateLimit | undefined,
  keyOf: (req: Request, res: Response) => string | undefined,
  onLimited?: (req: Request, res: Response) => void,
): RequestHandler {
  if (!limit) return (_req, _res, next) => next();
  const buckets = new TokenBuckets(limit);
  return (req: Request, res: Response, next: NextFunction) => {
    const key = keyOf(req, res);
    if (key === undefined) return next();
    const taken = buckets.take(key);
    if (taken.ok) return next();
    onLimited?.(req, res);
    next(new HttpProblem('tooManyRequests', `more than ${limit.perSecond} requests per second with this credential; wait and repeat`, { retryAfterSeconds: taken.retryAfterSeconds }));
  };
}

/** A per-second rate from a setting, with room for two seconds' worth: 0 turns the limit off. */
export function perSecondLimit(perSecond: number): RateLimit | undefined {
  return perSecond > 0 ? { perSecond, capacity: Math.max(1, Math.ceil(perSecond * 2)) } : undefined;
}
