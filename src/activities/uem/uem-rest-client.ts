/**
 * The Workspace ONE UEM REST API as the provider's UEM clients use it (the user directory and the
 * direct-upload gateway): the base URL, the tenant's API key in `aw-tenant-code`, and Basic auth
 * or an OAuth client-credentials token — cached until shortly before it expires, fetched once
 * for concurrent callers, and fetched again (once) when UEM answers 401 to a token it has revoked.
 *
 * It returns the HTTP status and body and leaves their meaning to the caller, except where the
 * failure is the same for every caller:
 *   - no answer (refused, reset, timeout)        → the caller's retryable "unavailable" type
 *   - a redirect                                 → ConfigurationError: UEM_API_URL points at a
 *     login page or another host (and a credential upload must never be re-sent to wherever a
 *     redirect says)
 *   - the token endpoint refusing the client     → ConfigurationError (5xx/429/408: unavailable)
 *
 * UEM's rate limit (docs/uem-rest-contract.md): every answer carries x-ratelimit-limit/remaining/
 * reset (a tenant-wide budget, about 250,000 calls a day on SaaS). The client keeps the last
 * reading and, once the budget runs low, spaces its calls so the rest lasts until the reset
 * (logged), rather than spending it on a backfill and leaving none for enrollments. A 429 holds
 * every call of this client back until its Retry-After has passed, and a spent budget until the
 * reset: such a call fails at once with the caller's retryable "unavailable" type carrying the
 * delay (nextRetryDelay), so an activity retries when UEM will take it — never a silent skip.
 *
 * One client per configuration (`sharedUemClient`) serves the directory, the device inventory and
 * the direct-upload gateway, so they share one token and one view of the budget.
 * No message carries a credential, a token or a request body.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, type Config } from '../../config';
import type { Logger } from '../../logging';
import { settingValue } from '../adapters';
import { validatedUrl } from '../settings-files';
import { errorCodes, parseJsonObject } from '../transport';
import { ApplicationFailure } from '@temporalio/common';
import { nonRetryable, retryable, type RetryableErrorType } from '../../domain/errors';
import { parseRetryAfter } from '../ceg/wire-contract';
import { readRateLimit, type UemRateLimit } from './rest-contract';

/** The retryable type a caller's outages are reported as. */
export type UemUnavailableType = Extract<RetryableErrorType, 'DirectoryUnavailable' | 'GatewayUnavailable'>;

export interface UemCredentials {
  basic?: { username: string; password: string };
  oauth?: { tokenUrl: string; clientId: string; clientSecret: string };
}

export interface UemRestClientOptions extends UemCredentials {
  /** e.g. https://as1234.awmdm.com (a trailing /api is tolerated). */
  baseUrl: string;
  /** The REST API key, sent as aw-tenant-code. */
  tenantCode: string;
  /** Upper bound of one HTTP call, connect included (a token request is a call of its own); a request may set its own. */
  timeoutMs: number;
  /** The type outages are reported as, unless a request says otherwise. */
  unavailableType: UemUnavailableType;
  logger?: Logger;
}

export interface UemRequest {
  method: 'GET' | 'POST';
  /** Path under the base URL, starting with /api. */
  path: string;
  /** Query parameters (encoded here). */
  query?: Record<string, string>;
  /** UEM picks the API version from Accept, e.g. application/json;version=1. */
  accept: string;
  /** A JSON body (sent with Content-Type application/json). */
  json?: string;
  /** The caller's type for outages (default: the client's). */
  unavailableType?: UemUnavailableType;
  /** This call's time limit (default: the client's). */
  timeoutMs?: number;
}

export interface UemAnswer {
  status: number;
  contentType: string;
  text: string;
  /** Retry-After, in milliseconds, when UEM sent one. */
  retryAfterMs?: number;
  /** UEM's x-ratelimit-* headers, when it sent them. */
  rateLimit?: UemRateLimit;
}

export const DEFAULT_UEM_TIMEOUT_MS = 15_000;
/** A cached token is renewed this long before UEM says it expires (clock skew, slow requests). */
const TOKEN_RENEW_MARGIN_MS = 60_000;
/** The budget counts as low below this share of x-ratelimit-limit (and below LOW_BUDGET_FLOOR). */
const LOW_BUDGET_SHARE = 0.02;
const LOW_BUDGET_FLOOR = 100;
/** A paced call waits at most this long in process; a longer wait is handed back as a retry delay. */
const MAX_PACING_WAIT_MS = 10_000;
/** Bounds of a retry delay taken from Retry-After or the budget's reset. */
const MIN_RETRY_DELAY_MS = 1000;
export const MAX_UEM_RETRY_DELAY_MS = 15 * 60 * 1000;
/** The low-budget warning is logged at most this often. */
const BUDGET_LOG_INTERVAL_MS = 60_000;

interface CachedToken {
  accessToken: string;
  expiresAt: number;
}

export class UemRestClient {
  /** The base URL without a trailing slash or /api. */
  readonly baseUrl: string;
  readonly host: string;
  private token?: CachedToken;
  private tokenRequest?: Promise<CachedToken>;
  /** The last x-ratelimit-* reading. */
  private budget?: UemRateLimit;
  /** After a 429: no call before this time (epoch ms). */
  private heldUntil = 0;
  /** While the budget is low: the earliest time of the next call (epoch ms). */
  private nextSlotAt = 0;
  private budgetLoggedAt = 0;

  constructor(private readonly options: UemRestClientOptions) {
    if (!options.basic && !options.oauth) throw new Error('the UEM REST client needs Basic credentials or an OAuth client');
    this.baseUrl = options.baseUrl.replace(/\/+$/, '').replace(/\/api$/i, '');
    this.host = new URL(this.baseUrl).host;
  }

  /** One call to the API, with authentication; any HTTP answer except a redirect is returned. */
  async send(request: UemRequest): Promise<UemAnswer> {
    await this.pace(request);
    const answer = await this.sendOnce(request, true);
    this.note(answer);
    return answer;
  }

  /** The last rate-limit reading (for logs and tests). */
  rateLimit(): UemRateLimit | undefined {
    return this.budget && { ...this.budget };
  }

  /**
   * Before a call: refuse it while UEM has told us to wait (429) or the budget is spent, and space
   * calls out while the budget is low.
   */
  private async pace(request: UemRequest): Promise<void> {
    const type = request.unavailableType ?? this.options.unavailableType;
    const what = `${request.method} ${request.path}`;
    const now = Date.now();
    if (this.heldUntil > now) {
      const delay = retryDelay(this.heldUntil - now);
      throw retryable(type, `UEM asked for a pause (HTTP 429); ${what} not sent, retry in ${Math.ceil(delay / 1000)} s`, { retryAfterMs: this.heldUntil - now }, { nextRetryDelayMs: delay });
    }
    const budget = this.budget;
    if (!budget || budget.resetAt === undefined || budget.resetAt <= now) return;
    if (budget.remaining <= 0) {
      const delay = retryDelay(budget.resetAt - now);
      this.logBudget(budget, 0);
      throw retryable(type, `UEM's API budget is spent until ${new Date(budget.resetAt).toISOString()}; ${what} not sent`, { rateLimit: budget }, { nextRetryDelayMs: delay });
    }
    const low = Math.max(LOW_BUDGET_FLOOR, (budget.limit ?? 0) * LOW_BUDGET_SHARE);
    if (budget.remaining > low) return;
    const spacing = (budget.resetAt - now) / budget.remaining;
    const at = Math.max(now, this.nextSlotAt);
    const wait = at - now;
    this.logBudget(budget, spacing);
    if (wait > MAX_PACING_WAIT_MS) {
      throw retryable(type, `UEM's API budget is low (${budget.remaining} calls left until ${new Date(budget.resetAt).toISOString()}); ${what} deferred`, { rateLimit: budget }, { nextRetryDelayMs: retryDelay(wait) });
    }
    this.nextSlotAt = at + spacing;
    if (wait > 0) await sleep(wait);
  }

  /** After a call: keep the rate-limit reading; a 429 holds every call back until Retry-After. */
  private note(answer: UemAnswer): void {
    if (answer.rateLimit) this.budget = answer.rateLimit;
    if (answer.status === 429) {
      const until = Date.now() + (answer.retryAfterMs ?? (this.budget?.remaining === 0 && this.budget.resetAt ? this.budget.resetAt - Date.now() : MIN_RETRY_DELAY_MS));
      this.heldUntil = Math.max(this.heldUntil, until);
      this.options.logger?.warn({ retryAfterMs: answer.retryAfterMs, rateLimit: this.budget }, 'UEM answered 429: holding calls back');
    }
  }

  private logBudget(budget: UemRateLimit, spacingMs: number): void {
    const now = Date.now();
    if (now - this.budgetLoggedAt < BUDGET_LOG_INTERVAL_MS) return;
    this.budgetLoggedAt = now;
    this.options.logger?.warn(
      { remaining: budget.remaining, limit: budget.limit, resetAt: budget.resetAt && new Date(budget.resetAt).toISOString(), spacingMs: Math.round(spacingMs) },
      budget.remaining <= 0 ? "UEM's API budget is spent: calls wait for the reset" : "UEM's API budget is low: spacing calls so it lasts until the reset",
    );
  }

  private async sendOnce(request: UemRequest, mayRenewToken: boolean): Promise<UemAnswer> {
    const what = `${request.method} ${request.path}`;
    const type = request.unavailableType ?? this.options.unavailableType;
    const timeoutMs = request.timeoutMs ?? this.options.timeoutMs;
    const authorization = await this.authorization(type);
    const query = request.query && Object.keys(request.query).length > 0 ? `?${new URLSearchParams(request.query).toString()}` : '';
    const response = await this.fetch(`${this.baseUrl}${request.path}${query}`, what, type, timeoutMs, {
      method: request.method,
      headers: {
        Accept: request.accept,
        'aw-tenant-code': this.options.tenantCode,
        Authorization: authorization,
        ...(request.json !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      body: request.json,
    });
    if (response.status === 401 && this.options.oauth && mayRenewToken) {
      // The token may have been revoked before its expiry: drop it (unless a concurrent call has
      // already replaced it) and try once more with a new one.
      await response.body?.cancel();
      if (this.token && authorization === `Bearer ${this.token.accessToken}`) this.token = undefined;
      return this.sendOnce(request, false);
    }
    return this.answer(response, what, type, timeoutMs);
  }

  private async authorization(type: UemUnavailableType): Promise<string> {
    const { basic, oauth } = this.options;
    if (!oauth) return `Basic ${Buffer.from(`${basic!.username}:${basic!.password}`, 'utf8').toString('base64')}`;
    if (this.token && this.token.expiresAt > Date.now()) return `Bearer ${this.token.accessToken}`;
    // One token request at a time: concurrent calls wait for the same answer.
    this.tokenRequest ??= this.requestToken().finally(() => {
      this.tokenRequest = undefined;
    });
    try {
      this.token = await this.tokenRequest;
    } catch (err) {
      throw asUnavailableType(err, type);
    }
    return `Bearer ${this.token.accessToken}`;
  }

  private async requestToken(): Promise<CachedToken> {
    const { tokenUrl, clientId, clientSecret } = this.options.oauth!;
    const what = 'the OAuth token request';
    const type = this.options.unavailableType;
    const timeoutMs = this.options.timeoutMs;
    const response = await this.fetch(tokenUrl, what, type, timeoutMs, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }).toString(),
    });
    const answer = await this.answer(response, what, type, timeoutMs);
    if (answer.status < 200 || answer.status > 299) {
      const message = `the UEM OAuth token endpoint answered ${answer.status}`;
      if (isTransientStatus(answer.status)) throw retryable(type, message, { httpStatus: answer.status });
      throw nonRetryable('ConfigurationError', `${message}: check UEM_OAUTH_TOKEN_URL, UEM_OAUTH_CLIENT_ID and UEM_OAUTH_CLIENT_SECRET`, { httpStatus: answer.status });
    }
    const body = parseJsonObject(answer.text);
    if (!body) throw nonRetryable('ConfigurationError', `the answer to ${what} is not a JSON object (content-type ${answer.contentType || 'none'}): check UEM_OAUTH_TOKEN_URL`);
    const accessToken = body.access_token;
    if (typeof accessToken !== 'string' || accessToken === '') throw nonRetryable('ConfigurationError', 'the UEM OAuth token endpoint returned no access_token');
    const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : Number(body.expires_in ?? 3600);
    const lifetimeMs = (Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 3600) * 1000;
    return { accessToken, expiresAt: Date.now() + Math.max(lifetimeMs - TOKEN_RENEW_MARGIN_MS, lifetimeMs / 2) };
  }

  private async fetch(url: string, what: string, type: UemUnavailableType, timeoutMs: number, init: RequestInit): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      const reason = (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : describeNetworkError(err);
      throw retryable(type, `UEM REST API unreachable (${new URL(url).host}) for ${what}: ${reason}`, { errorCode: reason });
    }
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      const location = response.headers.get('location');
      const target = location ? ` to ${safeHost(location, url)}` : '';
      throw nonRetryable('ConfigurationError', `UEM answered ${response.status} (a redirect${target}) to ${what}: check UEM_API_URL and UEM_OAUTH_TOKEN_URL`, { httpStatus: response.status });
    }
    return response;
  }

  private async answer(response: Response, what: string, type: UemUnavailableType, timeoutMs: number): Promise<UemAnswer> {
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      const reason = (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : describeNetworkError(err);
      throw retryable(type, `UEM REST API connection failed while reading the answer to ${what}: ${reason}`, { errorCode: reason });
    }
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after') ?? undefined);
    const rateLimit = readRateLimit((name) => response.headers.get(name));
    return {
      status: response.status,
      contentType: response.headers.get('content-type') ?? '',
      text,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      ...(rateLimit ? { rateLimit } : {}),
    };
  }
}

/** A retry delay within bounds: at least a second, at most MAX_UEM_RETRY_DELAY_MS (longer waits are retried later again). */
export function retryDelay(ms: number): number {
  return Math.min(Math.max(Math.ceil(ms), MIN_RETRY_DELAY_MS), MAX_UEM_RETRY_DELAY_MS);
}

/**
 * The retry delay for a transient answer: its Retry-After, else (budget spent) the time until the
 * reset, else none (the caller's retry policy decides).
 */
export function retryDelayFor(answer: UemAnswer): number | undefined {
  if (answer.retryAfterMs !== undefined) return retryDelay(answer.retryAfterMs);
  const { rateLimit } = answer;
  if (answer.status === 429 && rateLimit && rateLimit.remaining === 0 && rateLimit.resetAt !== undefined) return retryDelay(rateLimit.resetAt - Date.now());
  return undefined;
}

/** A shared token request failed: report it as this caller's unavailable type. */
function asUnavailableType(err: unknown, type: UemUnavailableType): unknown {
  if (!(err instanceof ApplicationFailure) || err.nonRetryable || err.type === type) return err;
  return retryable(type, err.message, err.details?.[0], { nextRetryDelayMs: undefined });
}

/** 5xx, 429 and 408: UEM (or a proxy in front of it) is busy or down; later may work. */
export function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/** Where to reach UEM and how to sign in, from the UEM_API_* and UEM_OAUTH_* settings. */
export interface UemConnection extends UemCredentials {
  baseUrl: string;
  tenantCode: string;
}

/**
 * The UEM connection the settings describe (their presence is checked by the requirements; here
 * the URLs must be https, plain http only to loopback). OAuth wins when both it and Basic
 * credentials are configured.
 */
export function uemConnectionFromSettings(config: Config): UemConnection {
  const baseUrl = validatedUrl(config, 'uemApiUrl', { https: 'unless-loopback' });
  const oauth =
    config.uemOauthTokenUrl && config.uemOauthClientId && config.uemOauthClientSecret
      ? { tokenUrl: validatedUrl(config, 'uemOauthTokenUrl', { https: 'unless-loopback' }), clientId: config.uemOauthClientId, clientSecret: config.uemOauthClientSecret }
      : undefined;
  const basic = config.uemApiUsername && config.uemApiPassword ? { username: config.uemApiUsername, password: config.uemApiPassword } : undefined;
  if (!oauth && !basic) throw new ConfigError(['UEM_API_USERNAME and UEM_API_PASSWORD (or UEM_OAUTH_TOKEN_URL, UEM_OAUTH_CLIENT_ID, UEM_OAUTH_CLIENT_SECRET): required when UEM_API_URL is set']);
  return { baseUrl, tenantCode: settingValue(config, 'uemApiTenantCode'), ...(oauth ? { oauth } : { basic }) };
}

const sharedClients = new WeakMap<Config, UemRestClient>();

/**
 * The one client for this configuration's UEM connection: the directory, the device inventory and
 * the direct-upload gateway built from the same settings share its token and its budget.
 */
export function sharedUemClient(config: Config, logger?: Logger): UemRestClient {
  let client = sharedClients.get(config);
  if (!client) {
    client = new UemRestClient({ ...uemConnectionFromSettings(config), timeoutMs: DEFAULT_UEM_TIMEOUT_MS, unavailableType: 'DirectoryUnavailable', logger });
    sharedClients.set(config, client);
  }
  return client;
}

function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { message?: string } }).cause;
  return errorCodes(err)[0] ?? cause?.message ?? (err as Error).message;
}

/** Only the host of a redirect target: its path or query could carry a session or a token. */
function safeHost(location: string, base: string): string {
  try {
    return new URL(location, base).host;
  } catch {
    return 'an unreadable location';
  }
}
