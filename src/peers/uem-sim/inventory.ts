/**
 * The UEM simulator's device inventory: the devices UEM knows, registered through
 * `POST /sim/devices` (no event is sent; that is what makes them "silent"), with the numeric id,
 * serial number and UDID UEM would have given them — derived from the device UUID, so the same
 * device gets the same ones in every run (a taken id goes to the next free one) — and the smart
 * groups they are in. A smart group exists once a device has named it.
 */
import { createHash } from 'node:crypto';
import { MAX_UEM_ID } from './users';

export const ENROLLMENT_STATUSES = ['Enrolled', 'Unenrolled', 'EnterpriseWipePending', 'DeviceWipePending'] as const;
export type EnrollmentStatus = (typeof ENROLLMENT_STATUSES)[number];

export interface SimDeviceInput {
  deviceUuid: string;
  enrollmentUserUuid: string;
  platform?: string;
  smartGroupIds?: number[];
  enrollmentStatus?: EnrollmentStatus;
}

export interface SimDevice {
  deviceUuid: string;
  deviceId: number;
  serialNumber: string;
  udid: string;
  enrollmentUserUuid: string;
  platform: string;
  smartGroupIds: number[];
  enrollmentStatus: EnrollmentStatus;
  enrolledAt: string;
}

/** The id, serial number and UDID a device UUID is given (before an id clash moves the id on). */
export function deviceIdentity(deviceUuid: string): { deviceId: number; serialNumber: string; udid: string } {
  const hex = createHash('sha256').update(`uem-sim-device:${deviceUuid.toLowerCase()}`).digest('hex');
  return {
    deviceId: (parseInt(hex.slice(0, 8), 16) % 1_000_000_000) + 1,
    serialNumber: `SIM${hex.slice(8, 17).toUpperCase()}`,
    udid: hex.slice(24, 56),
  };
}

export class SimInventory {
  private readonly byUuid = new Map<string, SimDevice>();
  private readonly byId = new Map<number, SimDevice>();
  private readonly bySerial = new Map<string, SimDevice>();
  private readonly byUdid = new Map<string, SimDevice>();
  private readonly groups = new Set<number>();

  /** Add or replace a device (a device already known keeps its id, serial number and UDID). */
  put(input: SimDeviceInput): SimDevice {
    const deviceUuid = input.deviceUuid.toLowerCase();
    const existing = this.byUuid.get(deviceUuid);
    const identity = existing ?? { ...deviceIdentity(deviceUuid), deviceId: this.freeId(deviceIdentity(deviceUuid).deviceId) };
    const device: SimDevice = {
      deviceUuid,
      deviceId: identity.deviceId,
      serialNumber: identity.serialNumber,
      udid: identity.udid,
      enrollmentUserUuid: input.enrollmentUserUuid.toLowerCase(),
      platform: input.platform ?? existing?.platform ?? 'Apple',
      smartGroupIds: [...new Set(input.smartGroupIds ?? existing?.smartGroupIds ?? [])].sort((a, b) => a - b),
      enrollmentStatus: input.enrollmentStatus ?? 'Enrolled',
      enrolledAt: existing?.enrolledAt ?? new Date().toISOString(),
    };
    this.byUuid.set(deviceUuid, device);
    this.byId.set(device.deviceId, device);
    this.bySerial.set(device.serialNumber.toLowerCase(), device);
    this.byUdid.set(device.udid.toLowerCase(), device);
    for (const group of device.smartGroupIds) this.groups.add(group);
    return { ...device };
  }

  /** The device leaves UEM (no event). False when it was not there. */
  remove(deviceUuid: string): boolean {
    const device = this.byUuid.get(deviceUuid.toLowerCase());
    if (!device) return false;
    this.byUuid.delete(device.deviceUuid);
    this.byId.delete(device.deviceId);
    this.bySerial.delete(device.serialNumber.toLowerCase());
    this.byUdid.delete(device.udid.toLowerCase());
    return true;
  }

  /** Every device, in device id order (UEM's search order). */
  list(): SimDevice[] {
    return [...this.byUuid.values()].sort((a, b) => a.deviceId - b.deviceId).map((device) => ({ ...device }));
  }

  get size(): number {
    return this.byUuid.size;
  }

  byDeviceUuid(deviceUuid: string): SimDevice | undefined {
    return this.copy(this.byUuid.get(deviceUuid.toLowerCase()));
  }

  byDeviceId(deviceId: number): SimDevice | undefined {
    return this.copy(this.byId.get(deviceId));
  }

  bySerialNumber(serialNumber: string): SimDevice | undefined {
    return this.copy(this.bySerial.get(serialNumber.toLowerCase()));
  }

  byUdidValue(udid: string): SimDevice | undefined {
    return this.copy(this.byUdid.get(udid.toLowerCase()));
  }

  /** A smart group's devices in id order; undefined for a group no device ever named. */
  smartGroup(groupId: number): SimDevice[] | undefined {
    if (!this.groups.has(groupId)) return undefined;
    return this.list().filter((device) => device.smartGroupIds.includes(groupId));
  }

  private freeId(id: number): number {
    let n = id;
    while (this.byId.has(n)) n = n >= MAX_UEM_ID ? 1 : n + 1;
    return n;
  }

  private copy(device: SimDevice | undefined): SimDevice | undefined {
    return device && { ...device, smartGroupIds: [...device.smartGroupIds] };
  }
}
