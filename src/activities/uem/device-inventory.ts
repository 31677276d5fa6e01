/**
 * The devices UEM has enrolled, for the fleet workflows (backfill, reconcile, renewal): listed
 * page by page, all of them or one smart group's, and the S/MIME profile re-installed on one.
 */

/** One device as UEM knows it. */
export interface InventoryDevice {
  deviceUuid: string;
  /** The enrollment user's UUID (UEM's user link of the device record). */
  enrollmentUserUuid: string;
  /** UEM's numeric device id. */
  deviceId?: string;
  serialNumber?: string;
  /** The user's address as the device record carries it (the directory stays the authority). */
  email?: string;
  platform?: string;
  /** False when UEM keeps the record of a device that has left (Unenrolled, wipe pending...). */
  enrolled: boolean;
}

export interface DeviceListScope {
  /** One smart group's devices; all devices when absent. */
  smartGroupId?: number;
}

export interface DevicePageRequest {
  /** Where the previous page ended (opaque); absent for the first page. */
  cursor?: string;
  /** Devices wanted; UEM's cap (500) applies. A cursor keeps the page size it was made with. */
  pageSize: number;
}

export interface DevicePage {
  devices: InventoryDevice[];
  /** Absent on the last page. */
  nextCursor?: string;
}

/** A device to re-install a profile on: UEM's numeric id or serial number, else its UUID. */
export interface ProfileTarget {
  deviceUuid: string;
  deviceId?: string;
  serialNumber?: string;
}

export interface DeviceInventory {
  readonly type: string;
  /**
   * One page of the devices UEM has enrolled: all of them (device search) or one smart group's.
   * The cursor is opaque (page number, or a position in a smart group's id list); undefined
   * nextCursor = last page. Honors UEM's page-size cap and 429/Retry-After (a typed retryable
   * `DirectoryUnavailable` with nextRetryDelay, never a silent skip).
   */
  listDevices(scope: DeviceListScope, page: DevicePageRequest): Promise<DevicePage>;
  /**
   * Re-install a device's S/MIME profile so the phone fetches its new credential:
   * POST /api/mdm/profiles/{profileId}/install with the device's id (or serial).
   * `ProfileInstallRejected` (non-retryable) when UEM refuses (no such device or profile);
   * `DirectoryUnavailable` (retryable) on outages and 429.
   */
  installProfile(profileId: number, device: ProfileTarget): Promise<void>;
}
