/**
 * UEM over its REST API as the provider's directory: the enrollment user's record by UUID (this
 * file) and the device inventory (./uem-rest-inventory.ts), over one shared UemRestClient. Shapes
 * in ./rest-contract.ts; sources and what is inferred in docs/uem-rest-contract.md.
 *
 * The look-up is keyed by EnrollmentUserUUID; the numeric id an event carries is a hint only:
 *
 *   v2 (default)  GET /api/system/users/{uuid} (v2; camelCase: emailAddress, userName, displayName)
 *                 has the address but no numeric id, so the id comes from a v1 record that names
 *                 the same UUID: GET /api/system/users/{hint id} (v1, taken only when its Uuid is
 *                 the one asked for), else GET /api/system/users/search?username=<v2 userName>
 *                 (v1, the entry whose Uuid matches). Two calls.
 *   v1            GET /api/system/users/{hint id} (v1) first: when its Uuid is the one asked for,
 *                 that record is the answer (one call); otherwise as v2.
 *
 * 404 on the read by UUID → UserNotFound; see ./uem-rest-answers.ts for the other classes. When no
 * v1 record names the UUID the user has no `enrollmentUserId` (logged): callers that need one
 * (direct upload) refuse, rather than trust the event's.
 */
import type { Config } from '../../config';
import { nonRetryable } from '../../domain/errors';
import type { Logger } from '../../logging';
import type { DeviceInventory, DeviceListScope, DevicePage, DevicePageRequest, ProfileTarget } from './device-inventory';
import { acceptVersion, API_VERSIONS, UEM_PATHS, uemUser, uemUserSearch, userSearchQuery, type UemUser } from './rest-contract';
import { failureFor, isEmpty, isSuccess, readBody } from './uem-rest-answers';
import { sharedUemClient, UemRestClient, type UemCredentials } from './uem-rest-client';
import { UemRestInventory } from './uem-rest-inventory';
import type { DirectoryUser, UserDirectory, UserReference } from './user-directory';

export { DEFAULT_UEM_TIMEOUT_MS } from './uem-rest-client';

/** User search pages read at most while looking for the entry with the UUID (500 users a page). */
const MAX_SEARCH_PAGES = 20;

/** Where UEM is and how to sign in, for a directory with a client of its own. */
export interface UemRestConnectionOptions extends UemCredentials {
  /** e.g. https://as1234.awmdm.com (a trailing /api is tolerated). */
  baseUrl: string;
  /** The REST API key, sent as aw-tenant-code. */
  tenantCode: string;
  timeoutMs: number;
}

export type UemRestDirectoryOptions = {
  apiVersion: 'v1' | 'v2';
  logger?: Logger;
} & (UemRestConnectionOptions | { /** A client shared with other UEM adapters (token, rate-limit budget). */ client: UemRestClient });

/** What the UEM REST adapter offers: the user directory and the device inventory. */
export type UemDirectory = UserDirectory & DeviceInventory;

export class UemRestDirectory implements UserDirectory, DeviceInventory {
  readonly type = 'uem-rest';
  private readonly client: UemRestClient;
  private readonly inventory: UemRestInventory;
  private readonly logger?: Logger;

  constructor(private readonly options: UemRestDirectoryOptions) {
    this.logger = options.logger;
    this.client = 'client' in options ? options.client : new UemRestClient({ ...options, unavailableType: 'DirectoryUnavailable' });
    this.inventory = new UemRestInventory(this.client, options.logger);
  }

  async lookUp(user: UserReference): Promise<DirectoryUser> {
    const uuid = user.enrollmentUserUuid.trim().toLowerCase();
    const hint = user.enrollmentUserId?.trim();
    const hintId = hint && /^\d+$/.test(hint) ? hint : undefined;

    if (this.options.apiVersion === 'v1' && hintId) {
      const record = await this.v1RecordNaming(hintId, uuid);
      if (record) return this.found(uuid, toDirectoryUser(record, hintId), 'v1 by id');
    }
    const path = UEM_PATHS.userByUuid(uuid);
    const what = `GET ${path}`;
    const answer = await this.client.send({ method: 'GET', path, accept: acceptVersion(API_VERSIONS.userByUuid), unavailableType: 'DirectoryUnavailable' });
    if (!isSuccess(answer)) throw failureFor(answer, what, { unavailable: 'DirectoryUnavailable', notFound: (message, details) => nonRetryable('UserNotFound', message, details) });
    if (isEmpty(answer)) throw nonRetryable('UserNotFound', `UEM answered ${answer.status} without a user to ${what}`, { httpStatus: answer.status });
    const record = readBody(answer, uemUser, what);
    if (record.Uuid && record.Uuid !== uuid) {
      throw nonRetryable('ConfigurationError', `UEM answered ${what} with another user's record (UUID ${record.Uuid}): check UEM_API_URL and UEM_API_VERSION`);
    }
    let id: string | undefined;
    if (hintId && this.options.apiVersion === 'v2' && (await this.v1RecordNaming(hintId, uuid))) id = hintId;
    id ??= await this.idFromSearch(record.UserName, uuid);
    return this.found(uuid, toDirectoryUser(record, id), id ? 'v2 by UUID, id from v1' : 'v2 by UUID');
  }

  listDevices(scope: DeviceListScope, page: DevicePageRequest): Promise<DevicePage> {
    return this.inventory.listDevices(scope, page);
  }

  installProfile(profileId: number, device: ProfileTarget): Promise<void> {
    return this.inventory.installProfile(profileId, device);
  }

  /** The v1 record with this id, when it names this UUID (the hint is then UEM's id for the user). */
  private async v1RecordNaming(id: string, uuid: string): Promise<UemUser | undefined> {
    const path = UEM_PATHS.userById(id);
    const what = `GET ${path}`;
    const answer = await this.client.send({ method: 'GET', path, accept: acceptVersion(API_VERSIONS.userById), unavailableType: 'DirectoryUnavailable' });
    if (answer.status === 404 || answer.status === 400 || (isSuccess(answer) && isEmpty(answer))) return undefined;
    if (!isSuccess(answer)) throw failureFor(answer, what, { unavailable: 'DirectoryUnavailable' });
    const record = readBody(answer, uemUser, what);
    if (record.Uuid === uuid) return record;
    // Never the addresses: the UUIDs and ids say enough to investigate.
    if (record.Uuid) this.logger?.warn({ enrollmentUserUuid: uuid, enrollmentUserId: id, uemUuidForId: record.Uuid }, "the event's EnrollmentUserId belongs to another UEM user: ignored");
    else this.logger?.debug({ enrollmentUserUuid: uuid, enrollmentUserId: id }, "UEM's v1 record has no Uuid to check the EnrollmentUserId against: ignored");
    return undefined;
  }

  /** UEM's numeric id for the UUID, from the user search by user name (the entry with that Uuid). */
  private async idFromSearch(userName: string | undefined, uuid: string): Promise<string | undefined> {
    if (!userName) return undefined;
    for (let page = 0; page < MAX_SEARCH_PAGES; page += 1) {
      const what = `GET ${UEM_PATHS.userSearch} (page ${page})`;
      const answer = await this.client.send({
        method: 'GET',
        path: UEM_PATHS.userSearch,
        query: userSearchQuery(userName, page),
        accept: acceptVersion(API_VERSIONS.userSearch),
        unavailableType: 'DirectoryUnavailable',
      });
      if (answer.status === 404 || (isSuccess(answer) && isEmpty(answer))) return undefined;
      if (!isSuccess(answer)) throw failureFor(answer, what, { unavailable: 'DirectoryUnavailable' });
      const result = readBody(answer, uemUserSearch, what);
      const match = result.Users.find((entry) => entry.Uuid === uuid && entry.Id);
      if (match) return match.Id;
      const served = result.PageSize && result.PageSize > 0 ? result.PageSize : result.Users.length;
      const more = result.Users.length > 0 && (result.Total !== undefined ? (page + 1) * served < result.Total : false);
      if (!more) return undefined;
    }
    this.logger?.warn({ enrollmentUserUuid: uuid, pages: MAX_SEARCH_PAGES }, 'UEM user search by user name did not reach the user within the pages read');
    return undefined;
  }

  private found(uuid: string, user: DirectoryUser, how: string): DirectoryUser {
    if (!user.enrollmentUserId) this.logger?.warn({ enrollmentUserUuid: uuid }, "no UEM record gave the user's numeric id (a direct upload cannot be addressed)");
    this.logger?.debug({ enrollmentUserUuid: uuid, how, hasEmail: !!user.email, hasId: !!user.enrollmentUserId }, 'UEM user looked up');
    return user;
  }
}

function toDirectoryUser(record: UemUser, id: string | undefined): DirectoryUser {
  const user: DirectoryUser = {};
  if (record.Email) user.email = record.Email;
  if (id) user.enrollmentUserId = id;
  const displayName = record.DisplayName ?? ([record.FirstName, record.LastName].filter(Boolean).join(' ') || undefined);
  if (displayName) user.displayName = displayName;
  if (record.UserName) user.userName = record.UserName;
  return user;
}

/**
 * The directory for UEM_API_URL (with UEM_API_VERSION and the UEM sign-in settings), on the
 * client it shares with the other UEM adapters of this configuration.
 */
export function createUemRestDirectory(config: Config, logger?: Logger): UemRestDirectory {
  return new UemRestDirectory({ apiVersion: config.uemApiVersion, logger, client: sharedUemClient(config, logger) });
}
