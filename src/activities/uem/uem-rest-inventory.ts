/**
 * UEM's device inventory over its REST API (shapes in ./rest-contract.ts, sources in
 * docs/uem-rest-contract.md):
 *
 *   all devices      GET /api/mdm/devices/search?page=N&pagesize=S&orderby=deviceid&sortorder=ASC
 *                    (v2; S at most 500; 204 = no devices); cursor "p<N>.<S>"
 *   a smart group    GET /api/mdm/smartgroups/{id}/devices (v1, unpaged, numeric ids only), then
 *                    POST /api/mdm/devices/id { BulkValues: { Value: [ids] } } (v1) for the details
 *                    of up to 500 of them at a time; cursor "g<group>.<last id>": the next page
 *                    starts after that id, so devices joining or leaving the group between pages
 *                    shift nothing (the list is sorted by id)
 *   profile install  POST /api/mdm/profiles/{profileId}/install { DeviceId } or { SerialNumber } (v1);
 *                    with neither known, the id is read first: GET /api/mdm/devices/{uuid} (v2)
 *
 * A device record without a UUID or a user link cannot be provisioned: it is left out of the page
 * and logged (count and UEM device ids), never silently. Outages and 429 are DirectoryUnavailable
 * (retryable, Retry-After as nextRetryDelay); see ./uem-rest-answers.ts for the other classes.
 */
import { nonRetryable } from '../../domain/errors';
import type { Logger } from '../../logging';
import type { DeviceInventory, DeviceListScope, DevicePage, DevicePageRequest, InventoryDevice, ProfileTarget } from './device-inventory';
import {
  acceptVersion,
  API_VERSIONS,
  bulkInputBody,
  deviceSearchQuery,
  isEnrolledStatus,
  MAX_DEVICE_PAGE_SIZE,
  UEM_PATHS,
  uemDeviceList,
  uemDeviceV2,
  uemSmartGroupDevices,
  type DeviceInfo,
  type UemDevice,
} from './rest-contract';
import { failureFor, isEmpty, isSuccess, readBody } from './uem-rest-answers';
import type { UemRestClient } from './uem-rest-client';

/** A smart group's id list is read once per listing pass and reused for its later pages this long. */
const GROUP_LIST_REUSE_MS = 5 * 60 * 1000;
/** Id lists of this many smart groups are kept at most. */
const GROUP_LIST_CACHE_SIZE = 8;

const SEARCH_CURSOR = /^p(\d{1,9})\.(\d{1,3})$/;
const GROUP_CURSOR = /^g(\d{1,12})\.(\d{1,15})$/;

export class UemRestInventory implements DeviceInventory {
  readonly type = 'uem-rest';
  private readonly groupLists = new Map<number, { ids: number[]; readAt: number }>();

  constructor(
    private readonly client: UemRestClient,
    private readonly logger?: Logger,
  ) {}

  async listDevices(scope: DeviceListScope, page: DevicePageRequest): Promise<DevicePage> {
    const pageSize = checkedPageSize(page.pageSize);
    if (scope.smartGroupId !== undefined) return this.listSmartGroup(checkedGroupId(scope.smartGroupId), page.cursor, pageSize);
    return this.listAll(page.cursor, pageSize);
  }

  private async listAll(cursor: string | undefined, requestedSize: number): Promise<DevicePage> {
    let pageNumber = 0;
    let size = requestedSize;
    if (cursor !== undefined) {
      const match = SEARCH_CURSOR.exec(cursor);
      if (!match) throw badCursor(cursor, 'the device search');
      pageNumber = Number(match[1]);
      size = checkedPageSize(Number(match[2]));
    }
    const what = `GET ${UEM_PATHS.deviceSearch} (page ${pageNumber})`;
    const answer = await this.client.send({
      method: 'GET',
      path: UEM_PATHS.deviceSearch,
      query: deviceSearchQuery(pageNumber, size),
      accept: acceptVersion(API_VERSIONS.deviceSearch),
      unavailableType: 'DirectoryUnavailable',
    });
    if (!isSuccess(answer)) throw failureFor(answer, what, { unavailable: 'DirectoryUnavailable' });
    if (isEmpty(answer)) return { devices: [] };
    const list = readBody(answer, uemDeviceList, what);
    const devices = this.usable(list.Devices, what);
    // UEM answers with the page size it used (500 at most, whatever was asked).
    const served = list.PageSize && list.PageSize > 0 ? list.PageSize : size;
    const more = list.Devices.length > 0 && (list.Total !== undefined ? (pageNumber + 1) * served < list.Total : list.Devices.length >= served);
    this.logger?.debug({ page: pageNumber, pageSize: served, total: list.Total, devices: devices.length }, 'UEM device search page');
    return more ? { devices, nextCursor: `p${pageNumber + 1}.${size}` } : { devices };
  }

  private async listSmartGroup(groupId: number, cursor: string | undefined, size: number): Promise<DevicePage> {
    let after = 0;
    if (cursor !== undefined) {
      const match = GROUP_CURSOR.exec(cursor);
      if (!match || Number(match[1]) !== groupId) throw badCursor(cursor, `smart group ${groupId}`);
      after = Number(match[2]);
    }
    // A pass starts with a fresh list; its later pages reuse it (a 100,000-device group is one
    // large answer, and UEM offers no paging for it).
    const ids = await this.groupDeviceIds(groupId, cursor === undefined);
    const start = firstAbove(ids, after);
    const slice = ids.slice(start, start + size);
    if (slice.length === 0) return { devices: [] };
    const what = `POST ${UEM_PATHS.devicesById} (${slice.length} devices of smart group ${groupId})`;
    const answer = await this.client.send({
      method: 'POST',
      path: UEM_PATHS.devicesById,
      accept: acceptVersion(API_VERSIONS.devicesById),
      json: JSON.stringify(bulkInputBody(slice)),
      unavailableType: 'DirectoryUnavailable',
    });
    if (!isSuccess(answer)) throw failureFor(answer, what, { unavailable: 'DirectoryUnavailable' });
    const found = isEmpty(answer) ? [] : readBody(answer, uemDeviceList, what).Devices;
    const devices = this.usable(found, what).sort((a, b) => Number(a.deviceId ?? 0) - Number(b.deviceId ?? 0));
    // Devices that left UEM between the two calls are simply not in the bulk answer.
    const last = slice[slice.length - 1]!;
    const more = start + slice.length < ids.length;
    this.logger?.debug({ smartGroupId: groupId, ids: ids.length, asked: slice.length, devices: devices.length }, 'UEM smart group page');
    return more ? { devices, nextCursor: `g${groupId}.${last}` } : { devices };
  }

  private async groupDeviceIds(groupId: number, fresh: boolean): Promise<number[]> {
    const cached = this.groupLists.get(groupId);
    if (!fresh && cached && Date.now() - cached.readAt < GROUP_LIST_REUSE_MS) return cached.ids;
    const path = UEM_PATHS.smartGroupDevices(groupId);
    const what = `GET ${path}`;
    const answer = await this.client.send({ method: 'GET', path, accept: acceptVersion(API_VERSIONS.smartGroupDevices), unavailableType: 'DirectoryUnavailable' });
    if (!isSuccess(answer)) {
      throw failureFor(answer, what, {
        unavailable: 'DirectoryUnavailable',
        notFound: (message, details) => nonRetryable('ConfigurationError', `${message}: UEM has no smart group ${groupId}`, details),
      });
    }
    const entries = isEmpty(answer) ? [] : readBody(answer, uemSmartGroupDevices, what).Devices;
    const ids = [...new Set(entries.map((entry) => entry.Id).filter((id): id is string => id !== undefined).map(Number))].sort((a, b) => a - b);
    const unreadable = entries.length - entries.filter((entry) => entry.Id !== undefined).length;
    if (unreadable > 0) this.logger?.warn({ smartGroupId: groupId, unreadable }, 'smart group entries without a numeric device id were left out');
    this.groupLists.delete(groupId);
    this.groupLists.set(groupId, { ids, readAt: Date.now() });
    while (this.groupLists.size > GROUP_LIST_CACHE_SIZE) this.groupLists.delete(this.groupLists.keys().next().value!);
    return ids;
  }

  /** The records that can be provisioned; the others are logged by UEM device id. */
  private usable(records: readonly UemDevice[], what: string): InventoryDevice[] {
    const devices: InventoryDevice[] = [];
    const left: string[] = [];
    for (const record of records) {
      const device = toInventoryDevice(record);
      if (device) devices.push(device);
      else left.push(record.Id ?? '?');
    }
    if (left.length > 0) this.logger?.warn({ what, count: left.length, deviceIds: left.slice(0, 20) }, 'UEM device records without a device UUID or an enrollment user were left out');
    return devices;
  }

  async installProfile(profileId: number, device: ProfileTarget): Promise<void> {
    if (!Number.isSafeInteger(profileId) || profileId <= 0) throw nonRetryable('ConfigurationError', `${profileId} is not a UEM profile id (a positive whole number)`);
    const target = await this.installTarget(device);
    const path = UEM_PATHS.profileInstall(profileId);
    const what = `POST ${path} for device ${device.deviceUuid}`;
    const answer = await this.client.send({ method: 'POST', path, accept: acceptVersion(API_VERSIONS.profileInstall), json: JSON.stringify(target), unavailableType: 'DirectoryUnavailable' });
    if (!isSuccess(answer)) {
      throw failureFor(answer, what, {
        unavailable: 'DirectoryUnavailable',
        rejected: (message, details) => nonRetryable('ProfileInstallRejected', message, { ...details, profileId, deviceUuid: device.deviceUuid }),
      });
    }
    this.logger?.info({ profileId, deviceUuid: device.deviceUuid, ...target, httpStatus: answer.status }, 'UEM profile re-install requested');
  }

  /** The DeviceInfo body: the numeric id, else the serial number, else the id read by UUID. */
  private async installTarget(device: ProfileTarget): Promise<DeviceInfo> {
    const id = device.deviceId?.trim();
    if (id && /^\d+$/.test(id) && Number(id) > 0) return { DeviceId: Number(id) };
    const serial = device.serialNumber?.trim();
    if (serial) return { SerialNumber: serial };
    const path = UEM_PATHS.deviceByUuid(device.deviceUuid);
    const what = `GET ${path}`;
    const answer = await this.client.send({ method: 'GET', path, accept: acceptVersion(API_VERSIONS.deviceByUuid), unavailableType: 'DirectoryUnavailable' });
    const refused = (message: string, details: Record<string, unknown>) => nonRetryable('ProfileInstallRejected', message, { ...details, deviceUuid: device.deviceUuid });
    if (!isSuccess(answer)) throw failureFor(answer, what, { unavailable: 'DirectoryUnavailable', notFound: (m, d) => refused(`${m}: UEM has no such device`, d), rejected: refused });
    const record = isEmpty(answer) ? undefined : readBody(answer, uemDeviceV2, what);
    if (record?.Id) return { DeviceId: Number(record.Id) };
    if (record?.SerialNumber) return { SerialNumber: record.SerialNumber };
    throw refused(`UEM's record of device ${device.deviceUuid} has neither a device id nor a serial number`, { httpStatus: answer.status });
  }
}

export function toInventoryDevice(record: UemDevice): InventoryDevice | undefined {
  const deviceUuid = record.Uuid;
  const enrollmentUserUuid = record.UserId?.Uuid ?? record.EnrollmentUserUuid;
  if (!deviceUuid || !enrollmentUserUuid) return undefined;
  const device: InventoryDevice = { deviceUuid, enrollmentUserUuid, enrolled: isEnrolledStatus(record.EnrollmentStatus) };
  if (record.Id) device.deviceId = record.Id;
  if (record.SerialNumber) device.serialNumber = record.SerialNumber;
  if (record.UserEmailAddress) device.email = record.UserEmailAddress;
  if (record.Platform) device.platform = record.Platform;
  return device;
}

function checkedPageSize(pageSize: number): number {
  if (!Number.isInteger(pageSize) || pageSize < 1) throw nonRetryable('ConfigurationError', `a device page size must be a whole number of at least 1 (got ${pageSize})`);
  return Math.min(pageSize, MAX_DEVICE_PAGE_SIZE);
}

function checkedGroupId(smartGroupId: number): number {
  if (!Number.isSafeInteger(smartGroupId) || smartGroupId <= 0) throw nonRetryable('ConfigurationError', `${smartGroupId} is not a UEM smart group id (a positive whole number)`);
  return smartGroupId;
}

function badCursor(cursor: string, listing: string) {
  return nonRetryable('ConfigurationError', `the cursor ${JSON.stringify(cursor.slice(0, 40))} does not belong to a listing of ${listing}`);
}

/** Index of the first id above `after` in an ascending list. */
function firstAbove(ids: readonly number[], after: number): number {
  let low = 0;
  let high = ids.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (ids[mid]! <= after) low = mid + 1;
    else high = mid;
  }
  return low;
}
