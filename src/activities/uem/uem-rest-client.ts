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
 * No message carries a credential, a token or a request body.
 */
import { ConfigError, type Config } from '../../config';
import { settingValue } from '../adapters';
import { validatedUrl } from '../settings-files';
import { errorCodes, parseJsonObject } from '../transport';
import { nonRetryable, retryable, type RetryableErrorType } from '../../domain/errors';
import { parseRetryAfter } from '../ceg/wire-contract';

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
  /** Upper bound of one HTTP call, connect included (a token request is a call of its own). */
  timeoutMs: number;
  unavailableType: UemUnavailableType;
}

export interface UemRequest {
  method: 'GET' | 'POST';
  /** Path under the base URL, starting with /api. */
  path: string;
  /** UEM picks the API version from Accept, e.g. application/json;version=1. */
  accept: string;
  /** A JSON body (sent with Content-Type application/json). */
  json?: string;
}

export interface UemAnswer {
  status: number;
  contentType: string;
  text: string;
  /** Retry-After, in milliseconds, when UEM sent one. */
  retryAfterMs?: number;
}

export const DEFAULT_UEM_TIMEOUT_MS = 15_000;
/** A cached token is renewed this long before UEM says it expires (clock skew, slow requests). */
const TOKEN_RENEW_MARGIN_MS = 60_000;

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

  constructor(private readonly options: UemRestClientOptions) {
    if (!options.basic && !options.oauth) throw new Error('the UEM REST client needs Basic credentials or an OAuth client');
    this.baseUrl = options.baseUrl.replace(/\/+$/, '').replace(/\/api$/i, '');
    this.host = new URL(this.baseUrl).host;
  }

  /** One call to the API, with authentication; any HTTP answer except a redirect is returned. */
  async send(request: UemRequest): Promise<UemAnswer> {
    return this.sendOnce(request, true);
  }

  private async sendOnce(request: UemRequest, mayRenewToken: boolean): Promise<UemAnswer> {
    const what = `${request.method} ${request.path}`;
    const authorization = await this.authorization();
    const response = await this.fetch(`${this.baseUrl}${request.path}`, what, {
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
    return this.answer(response, what);
  }

  private async authorization(): Promise<string> {
    const { basic, oauth } = this.options;
    if (!oauth) return `Basic ${Buffer.from(`${basic!.username}:${basic!.password}`, 'utf8').toString('base64')}`;
    if (this.token && this.token.expiresAt > Date.now()) return `Bearer ${this.token.accessToken}`;
    // One token request at a time: concurrent calls wait for the same answer.
    this.tokenRequest ??= this.requestToken().finally(() => {
      this.tokenRequest = undefined;
    });
    this.token = await this.tokenRequest;
    return `Bearer ${this.token.accessToken}`;
  }

  private async requestToken(): Promise<CachedToken> {
    const { tokenUrl, clientId, clientSecret } = this.options.oauth!;
    const what = 'the OAuth token request';
    const response = await this.fetch(tokenUrl, what, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }).toString(),
    });
    const answer = await this.answer(response, what);
    if (answer.status < 200 || answer.status > 299) {
      const message = `the UEM OAuth token endpoint answered ${answer.status}`;
      if (isTransientStatus(answer.status)) throw retryable(this.options.unavailableType, message, { httpStatus: answer.status });
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

  private async fetch(url: string, what: string, init: RequestInit): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(this.options.timeoutMs) });
    } catch (err) {
      const reason = (err as Error).name === 'TimeoutError' ? `no answer within ${this.options.timeoutMs} ms` : describeNetworkError(err);
      throw retryable(this.options.unavailableType, `UEM REST API unreachable (${new URL(url).host}) for ${what}: ${reason}`, { errorCode: reason });
    }
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      const location = response.headers.get('location');
      const target = location ? ` to ${safeHost(location, url)}` : '';
      throw nonRetryable('ConfigurationError', `UEM answered ${response.status} (a redirect${target}) to ${what}: check UEM_API_URL and UEM_OAUTH_TOKEN_URL`, { httpStatus: response.status });
    }
    return response;
  }

  private async answer(response: Response, what: string): Promise<UemAnswer> {
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      const reason = (err as Error).name === 'TimeoutError' ? `no answer within ${this.options.timeoutMs} ms` : describeNetworkError(err);
      throw retryable(this.options.unavailableType, `UEM REST API connection failed while reading the answer to ${what}: ${reason}`, { errorCode: reason });
    }
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after') ?? undefined);
    return { status: response.status, contentType: response.headers.get('content-type') ?? '', text, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }
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
