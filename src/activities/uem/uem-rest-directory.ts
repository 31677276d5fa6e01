/**
 * The UEM REST user look-up (Workspace ONE UEM System API):
 *   v2  GET /api/system/users/{uuid}  Accept: application/json;version=2  → email_address
 *   v1  GET /api/system/users/{id}    Accept: application/json;version=1  → Email
 * Authentication, the token cache and transport errors are the shared UemRestClient's.
 *
 * Errors are typed where they are born: 404 → UserNotFound; 401/403 (and any other 4xx, a
 * redirect, or a 200 that is not JSON) → ConfigurationError (our settings are wrong; retrying
 * will not help); 5xx, 429, 408, timeouts and network failures → DirectoryUnavailable
 * (retryable). No message carries a credential.
 */
import type { Config } from '../../config';
import { nonRetryable, retryable } from '../../domain/errors';
import type { Logger } from '../../logging';
import { DEFAULT_UEM_TIMEOUT_MS, isTransientStatus, UemRestClient, uemConnectionFromSettings, type UemCredentials } from './uem-rest-client';
import { parseJsonObject } from '../transport';
import type { DirectoryUser, UserDirectory, UserReference } from './user-directory';

export { DEFAULT_UEM_TIMEOUT_MS } from './uem-rest-client';

export interface UemRestDirectoryOptions extends UemCredentials {
  /** e.g. https://as1234.awmdm.com (a trailing /api is tolerated). */
  baseUrl: string;
  apiVersion: 'v1' | 'v2';
  /** The REST API key, sent as aw-tenant-code. */
  tenantCode: string;
  timeoutMs: number;
  logger?: Logger;
}

export class UemRestDirectory implements UserDirectory {
  readonly type = 'uem-rest';
  private readonly client: UemRestClient;

  constructor(private readonly options: UemRestDirectoryOptions) {
    this.client = new UemRestClient({ ...options, unavailableType: 'DirectoryUnavailable' });
  }

  async lookUp(user: UserReference): Promise<DirectoryUser> {
    // v1 looks users up by numeric id; an event without one can still be found by UUID (v2).
    const version = this.options.apiVersion === 'v1' && user.enrollmentUserId ? 'v1' : 'v2';
    if (this.options.apiVersion === 'v1' && version === 'v2') {
      this.options.logger?.warn({ enrollmentUserUuid: user.enrollmentUserUuid }, 'no EnrollmentUserId for a v1 look-up: using v2 by UUID');
    }
    const key = version === 'v1' ? user.enrollmentUserId! : user.enrollmentUserUuid;
    const path = `/api/system/users/${encodeURIComponent(key)}`;
    const answer = await this.client.send({ method: 'GET', path, accept: version === 'v1' ? 'application/json;version=1' : 'application/json;version=2' });
    if (answer.status < 200 || answer.status > 299) throw errorForStatus(answer.status, `UEM answered ${answer.status} to GET ${path}`);
    const body = parseJsonObject(answer.text);
    // A 200 that is not a JSON object is a login page or a proxy: the base URL is wrong.
    if (!body) throw nonRetryable('ConfigurationError', `the answer to GET ${path} is not a JSON object (content-type ${answer.contentType || 'none'}): check UEM_API_URL`);
    const found = version === 'v1' ? fromV1(body) : fromV2(body);
    this.options.logger?.debug({ version, user: key, hasEmail: !!found.email }, 'UEM user looked up');
    return found;
  }
}

function errorForStatus(status: number, message: string) {
  if (status === 404) return nonRetryable('UserNotFound', message);
  if (isTransientStatus(status)) return retryable('DirectoryUnavailable', message);
  if (status === 401 || status === 403) return nonRetryable('ConfigurationError', `${message}: check the UEM API credentials and aw-tenant-code`);
  return nonRetryable('ConfigurationError', message);
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

/** The directory for UEM_API_URL (with UEM_API_VERSION and the UEM sign-in settings). */
export function createUemRestDirectory(config: Config, logger?: Logger): UemRestDirectory {
  return new UemRestDirectory({ ...uemConnectionFromSettings(config), apiVersion: config.uemApiVersion, timeoutMs: DEFAULT_UEM_TIMEOUT_MS, logger });
}
