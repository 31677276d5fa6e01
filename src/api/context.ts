import type { Client } from '@temporalio/client';
import { causeChain } from '../domain/errors';
import type { Config } from '../config';
import type { Logger } from '../logging';
import type { CredentialReader } from './credential-reader';
import type { ApiMetrics } from './metrics';
import { temporalUnavailable } from './temporal-errors';
import { HttpProblem } from './problem';

/** What the routers share: built once by createApp from ApiDeps. */
export interface ApiContext {
  client: Client;
  config: Config;
  logger: Logger;
  metrics: ApiMetrics;
  /** Deadline for one request's Temporal calls; past it the caller hears 503 and retries. */
  temporalTimeoutMs: number;
  /** The credential register, read-side (GET /v1/credentials, the expiry gauge); absent: those answer 503. */
  credentials?: CredentialReader;
}

/**
 * Run Temporal calls under a deadline; any failure that is not already an HTTP answer becomes
 * 503 + Retry-After (logged with its cause, which the client never sees).
 */
export async function withTemporal<T>(
  ctx: ApiContext,
  log: Logger,
  what: string,
  fn: () => Promise<T>,
  /** Turns an expected Temporal answer (not found, bad page token) into its HTTP problem. */
  classify?: (err: unknown) => HttpProblem | undefined,
): Promise<T> {
  try {
    return await ctx.client.withDeadline(Date.now() + ctx.temporalTimeoutMs, fn);
  } catch (err) {
    if (err instanceof HttpProblem) throw err;
    const known = classify?.(err);
    if (known) throw known;
    log.warn({ what, error: describeError(err) }, 'Temporal call failed');
    throw temporalUnavailable();
  }
}

/** "ServiceError: Failed to describe workflow ← 14 UNAVAILABLE: No connection established": the whole cause chain, briefly. */
export function describeError(err: unknown): string {
  const parts = [...causeChain(err, 5)].map((e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e)));
  return parts.join(' ← ').slice(0, 1000);
}
