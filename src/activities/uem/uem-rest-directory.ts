/**
 * The UEM REST user look-up (Workspace ONE UEM System API):
 *   v2  GET /api/system/users/{uuid}  Accept: application/json;version=2  → email_address
 *   v1  GET /api/system/users/{id}    Accept: application/json;version=1  → Email
 * with the tenant's API key in `aw-tenant-code` and Basic auth or an OAuth client-credentials
 * token (cached until shortly before it expires).
 *
 * Errors are typed where they are born: 404 → UserNotFound; 401/403 (and any other 4xx, or a
 * 200 that is not JSON) → ConfigurationError (our settings are wrong; retrying will not help);
 * 5xx, 429, 408, timeouts and network failures → DirectoryUnavailable (retryable). No message
 * carries a credential.
 */
import { ConfigError, type Settings } from '../../config';
import { nonRetryable, retryable } from '../../domain/errors';
import type { Logger } from '../../logging';
import type { DirectoryUser, UserDirectory, UserReference } from './user-directory';

export interface UemRestDirectoryOptions {
  /** e.g. https://as1234.awmdm.com (a trailing /api is tolerated). */
  baseUrl: string;
  apiVersion: 'v1' | 'v2';
  /** The REST API key, sent as aw-tenant-code. */
  tenantCode: string;
  basic?: { username: string; password: string };
  oauth?: { tokenUrl: string; clientId: string; clientSecret: string };
  timeoutMs: number;
  logger?: Logger;
}

export const DEFAULT_UEM_TIMEOUT_MS = 15_000;
/** A cached token is renewed this long before UEM says it expires (clock skew, slow requests). */
const TOKEN_RENEW_MARGIN_MS = 60_000;

interface CachedToken {
  accessToken: string;
  expiresAt: number;
}

export class UemRestDirectory implements UserDirectory {
  readonly type = 'uem-rest';
  private readonly baseUrl: string;
  private token?: CachedToken;
  private tokenRequest?: Promise<CachedToken>;

  constructor(private readonly options: UemRestDirectoryOptions) {
    if (!options.basic && !options.oauth) throw new Error('UemRestDirectory needs Basic credentials or an OAuth client');
    this.baseUrl = options.baseUrl.replace(/\/+$/, '').replace(/\/api$/i, '');
  }

  async lookUp(user: UserReference): Promise<DirectoryUser> {
    // v1 looks users up by numeric id; an event without one can still be found by UUID (v2).
    const version = this.options.apiVersion === 'v1' && user.enrollmentUserId ? 'v1' : 'v2';
    if (this.options.apiVersion === 'v1' && version === 'v2') {
      this.options.logger?.warn({ enrollmentUserUuid: user.enrollmentUserUuid }, 'no EnrollmentUserId for a v1 look-up: using v2 by UUID');
    }
    const key = version === 'v1' ? user.enrollmentUserId! : user.enrollmentUserUuid;
    const path = `/api/system/users/${encodeURIComponent(key)}`;
    const body = await this.get(path, version === 'v1' ? 'application/json;version=1' : 'application/json;version=2', true);
    const found = version === 'v1' ? fromV1(body) : fromV2(body);
    this.options.logger?.debug({ version, user: key, hasEmail: !!found.email }, 'UEM user looked up');
    return found;
  }

  private async get(path: string, accept: string, mayRenewToken: boolean): Promise<Record<string, unknown>> {
    const url = `${this.baseUrl}${path}`;
    const response = await this.fetch(url, {
      method: 'GET',
      headers: { Accept: accept, 'aw-tenant-code': this.options.tenantCode, Authorization: await this.authorization() },
    });
    if (response.status === 401 && this.options.oauth && mayRenewToken) {
      // The token may have been revoked before its expiry: fetch a new one, once.
      await response.body?.cancel();
      this.token = undefined;
      return this.get(path, accept, false);
    }
    if (response.ok) return this.json(response, `GET ${path}`);
    await response.body?.cancel();
    throw errorForStatus(response.status, `UEM answered ${response.status} to GET ${path}`);
  }

  private async authorization(): Promise<string> {
    const { basic, oauth } = this.options;
    if (!oauth) return `Basic ${Buffer.from(`${basic!.username}:${basic!.password}`, 'utf8').toString('base64')}`;
    if (this.token && this.token.expiresAt > Date.now()) return `Bearer ${this.token.accessToken}`;
    // One token request at a time: concurrent look-ups wait for the same answer.
    this.tokenRequest ??= this.requestToken().finally(() => {
      this.tokenRequest = undefined;
    });
    this.token = await this.tokenRequest;
    return `Bearer ${this.token.accessToken}`;
  }

  private async requestToken(): Promise<CachedToken> {
    const { tokenUrl, clientId, clientSecret } = this.options.oauth!;
    const response = await this.fetch(tokenUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }).toString(),
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw errorForStatus(response.status, `the UEM OAuth token endpoint answered ${response.status}`);
    }
    const body = await this.json(response, 'the OAuth token request');
    const accessToken = body.access_token;
    if (typeof accessToken !== 'string' || accessToken === '') throw nonRetryable('ConfigurationError', 'the UEM OAuth token endpoint returned no access_token');
    const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : Number(body.expires_in ?? 3600);
    const lifetimeMs = (Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 3600) * 1000;
    return { accessToken, expiresAt: Date.now() + Math.max(lifetimeMs - TOKEN_RENEW_MARGIN_MS, lifetimeMs / 2) };
  }

  private async fetch(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(this.options.timeoutMs) });
    } catch (err) {
      const reason = (err as Error).name === 'TimeoutError' ? `no answer within ${this.options.timeoutMs} ms` : describeNetworkError(err);
      throw retryable('DirectoryUnavailable', `UEM REST API unreachable (${new URL(url).host}): ${reason}`);
    }
  }

  private async json(response: Response, what: string): Promise<Record<string, unknown>> {
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      throw retryable('DirectoryUnavailable', `UEM REST API connection failed while reading ${what}: ${describeNetworkError(err)}`);
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    } catch {
      // fall through: not JSON
    }
    // A 200 that is not a JSON object is a login page or a proxy: the base URL is wrong.
    throw nonRetryable('ConfigurationError', `the answer to ${what} is not a JSON object (content-type ${response.headers.get('content-type') ?? 'none'}): check UEM_API_URL`);
  }
}

function errorForStatus(status: number, message: string) {
  if (status === 404) return nonRetryable('UserNotFound', message);
  if (status >= 500 || status === 429 || status === 408) return retryable('DirectoryUnavailable', message);
  if (status === 401 || status === 403) return nonRetryable('ConfigurationError', `${message}: check the UEM API credentials and aw-tenant-code`);
  return nonRetryable('ConfigurationError', message);
}

function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}

/** Field names differ in case between UEM versions; look them up without it. */
function field(body: Record<string, unknown>, ...names: string[]): string | undefined {
  const lower = new Map(Object.entries(body).map(([k, v]) => [k.toLowerCase(), v]));
  for (const name of names) {
    const value = lower.get(name.toLowerCase());
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
  }
  return undefined;
}

function fromV2(body: Record<string, unknown>): DirectoryUser {
  const first = field(body, 'first_name');
  const last = field(body, 'last_name');
  return defined({
    email: field(body, 'email_address', 'email'),
    displayName: field(body, 'display_name') ?? joinName(first, last),
    userName: field(body, 'user_name', 'username'),
  });
}

function fromV1(body: Record<string, unknown>): DirectoryUser {
  const first = field(body, 'FirstName');
  const last = field(body, 'LastName');
  return defined({
    email: field(body, 'Email', 'EmailAddress'),
    displayName: field(body, 'DisplayName') ?? joinName(first, last),
    userName: field(body, 'UserName'),
  });
}

function joinName(first?: string, last?: string): string | undefined {
  const name = [first, last].filter(Boolean).join(' ');
  return name === '' ? undefined : name;
}

function defined(user: DirectoryUser): DirectoryUser {
  return Object.fromEntries(Object.entries(user).filter(([, v]) => v !== undefined)) as DirectoryUser;
}

/**
 * The directory the configuration asks for, or undefined when UEM_API_URL is empty (then only
 * emails from events are used). A half-configured UEM API stops the process at start.
 */
export function createUserDirectory(config: Settings, logger?: Logger): UserDirectory | undefined {
  if (!config.uemApiUrl) return undefined;
  const problems: string[] = [];
  if (!config.uemApiTenantCode) problems.push('UEM_API_TENANT_CODE: required when UEM_API_URL is set');
  const oauth =
    config.uemOauthTokenUrl && config.uemOauthClientId && config.uemOauthClientSecret
      ? { tokenUrl: config.uemOauthTokenUrl, clientId: config.uemOauthClientId, clientSecret: config.uemOauthClientSecret }
      : undefined;
  const basic = config.uemApiUsername && config.uemApiPassword ? { username: config.uemApiUsername, password: config.uemApiPassword } : undefined;
  if (!oauth && !basic) problems.push('UEM_API_USERNAME and UEM_API_PASSWORD (or UEM_OAUTH_TOKEN_URL, UEM_OAUTH_CLIENT_ID, UEM_OAUTH_CLIENT_SECRET): required when UEM_API_URL is set');
  try {
    new URL(config.uemApiUrl);
  } catch {
    problems.push('UEM_API_URL: not a URL');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return new UemRestDirectory({
    baseUrl: config.uemApiUrl,
    apiVersion: config.uemApiVersion,
    tenantCode: config.uemApiTenantCode!,
    basic: oauth ? undefined : basic,
    oauth,
    timeoutMs: DEFAULT_UEM_TIMEOUT_MS,
    logger,
  });
}
