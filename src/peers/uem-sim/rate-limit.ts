/**
 * The UEM simulator's rate limits, as UEM's answers show them (docs/uem-rest-contract.md):
 *
 *   - a call budget per window, reported on every /api answer as x-ratelimit-limit,
 *     x-ratelimit-remaining and x-ratelimit-reset (epoch seconds). UEM SaaS gives about 250,000
 *     calls a day; so does the simulator by default. When it is spent: 429 with Retry-After until
 *     the reset.
 *   - optionally (`POST /sim/faults {"rateLimit": {"requestsPerSecond": 5}}`), a per-second limit:
 *     a token bucket of that rate (burst: one second's worth); a call without a token gets 429
 *     with Retry-After (the seconds until the next token, or the `retryAfterSeconds` given).
 *
 * No public source shows UEM's 429 itself; the simulator answers it the way the provider expects
 * any HTTP service to (status, Retry-After, UEM's error document).
 */
import { z } from 'zod';

export const DEFAULT_DAILY_LIMIT = 250_000;
const DAY_SECONDS = 86_400;

export const rateLimitPlanSchema = z.strictObject({
  rateLimit: z
    .strictObject({
      requestsPerSecond: z.number().positive().max(100_000),
      retryAfterSeconds: z.number().int().min(0).max(3600).optional(),
    })
    .nullable()
    .optional(),
  quota: z
    .strictObject({
      limit: z.number().int().min(1).max(1_000_000_000),
      remaining: z.number().int().min(0).max(1_000_000_000).optional(),
      resetInSeconds: z.number().int().min(1).max(2 * DAY_SECONDS).optional(),
    })
    .nullable()
    .optional(),
});
export type RateLimitPlan = z.infer<typeof rateLimitPlanSchema>;

export type Admission = { ok: true } | { ok: false; retryAfterSeconds: number; message: string };

export class SimRateLimiter {
  private rate?: { requestsPerSecond: number; retryAfterSeconds?: number };
  private tokens = 0;
  private refilledAt = 0;
  private limit = DEFAULT_DAILY_LIMIT;
  private remaining = DEFAULT_DAILY_LIMIT;
  private resetAt = Date.now() + DAY_SECONDS * 1000;
  /** Calls answered 429 since the start (or the last reset). */
  rejected = 0;

  /** Apply a plan: a given key replaces that limit (null removes the per-second one, or resets the budget). */
  set(plan: RateLimitPlan): void {
    if (plan.rateLimit !== undefined) {
      this.rate = plan.rateLimit ?? undefined;
      this.tokens = this.rate ? Math.max(1, this.rate.requestsPerSecond) : 0;
      this.refilledAt = Date.now();
    }
    if (plan.quota !== undefined) {
      const quota = plan.quota ?? { limit: DEFAULT_DAILY_LIMIT };
      this.limit = quota.limit;
      this.remaining = Math.min(quota.remaining ?? quota.limit, quota.limit);
      this.resetAt = Date.now() + (quota.resetInSeconds ?? DAY_SECONDS) * 1000;
    }
  }

  clear(): void {
    this.set({ rateLimit: null, quota: null });
    this.rejected = 0;
  }

  current(): { rateLimit: { requestsPerSecond: number; retryAfterSeconds?: number } | null; quota: { limit: number; remaining: number; resetAt: string }; rejected: number } {
    this.rollWindow();
    return { rateLimit: this.rate ? { ...this.rate } : null, quota: { limit: this.limit, remaining: this.remaining, resetAt: new Date(this.resetAt).toISOString() }, rejected: this.rejected };
  }

  /** Admit one call (spending a token and a unit of budget) or say how long to wait. */
  admit(): Admission {
    this.rollWindow();
    const now = Date.now();
    if (this.remaining <= 0) {
      this.rejected += 1;
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((this.resetAt - now) / 1000)), message: 'API call limit reached for this period.' };
    }
    if (this.rate) {
      const capacity = Math.max(1, this.rate.requestsPerSecond);
      this.tokens = Math.min(capacity, this.tokens + ((now - this.refilledAt) / 1000) * this.rate.requestsPerSecond);
      this.refilledAt = now;
      if (this.tokens < 1) {
        this.rejected += 1;
        const wait = this.rate.retryAfterSeconds ?? Math.max(1, Math.ceil((1 - this.tokens) / this.rate.requestsPerSecond));
        return { ok: false, retryAfterSeconds: wait, message: 'Too many requests.' };
      }
      this.tokens -= 1;
    }
    this.remaining -= 1;
    return { ok: true };
  }

  /** The x-ratelimit-* headers every /api answer carries. */
  headers(): Record<string, string> {
    this.rollWindow();
    return { 'x-ratelimit-limit': String(this.limit), 'x-ratelimit-remaining': String(Math.max(0, this.remaining)), 'x-ratelimit-reset': String(Math.floor(this.resetAt / 1000)) };
  }

  private rollWindow(): void {
    const now = Date.now();
    if (now < this.resetAt) return;
    this.remaining = this.limit;
    this.resetAt = now + DAY_SECONDS * 1000;
  }
}
