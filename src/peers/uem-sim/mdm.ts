/**
 * The UEM simulator's MDM API (mounted on the authenticated /api router), answering as UEM does
 * (src/activities/uem/rest-contract.ts, docs/uem-rest-contract.md):
 *
 *   GET  /mdm/devices/search?page&pagesize       v1/v2 { Devices, Page, PageSize, Total }, device id
 *                                                order, pagesize at most 500, 204 when a page is empty
 *   POST /mdm/devices/id  { BulkValues }         v1 the same shape for the ids given (unknown ids
 *                                                left out; 204 when none is known)
 *   GET  /mdm/devices/{uuid}                     v2 camelCase record, 404 when unknown
 *   GET  /mdm/smartgroups/{id}/devices           v1 { Devices: [{ Id: "123", Name, ... }] }, unpaged;
 *                                                404 for a group no device named, 204 when empty
 *   POST /mdm/profiles/{id}/install  DeviceInfo  v1 200 with no body; recorded in profileInstalls
 *
 * Device records carry the user link the way recorded answers do: UserId { Id, Name, Uuid } and
 * UserEmailAddress, with EnrollmentUserUuid the all-zero GUID — so a client that reads the wrong
 * field finds no user here either.
 */
import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { UUID_PATTERN } from '../../domain/enrollment';
import { bulkInput, deviceInfo, MAX_DEVICE_PAGE_SIZE } from '../../activities/uem/rest-contract';
import type { SimDevice } from './inventory';
import type { UemSimContext } from './server';
import type { SimUserRecord } from './users';

const ZERO_GUID = '00000000-0000-0000-0000-000000000000';

/** A profile install the simulator received. */
export interface ProfileInstall {
  profileId: number;
  /** Which identifier the body used. */
  by: 'DeviceId' | 'SerialNumber' | 'Udid';
  deviceId: number;
  serialNumber: string;
  deviceUuid: string;
  receivedAt: string;
}

export function mountMdm(api: Router, context: UemSimContext): void {
  const { inventory, users } = context;

  api.get('/mdm/devices/search', (req, res) => {
    const page = queryInt(req, 'page', 0);
    const pageSize = queryInt(req, 'pagesize', MAX_DEVICE_PAGE_SIZE);
    if (page === undefined || pageSize === undefined || pageSize < 1) return void uemError(res, 400, 'Invalid page or pagesize.');
    const served = Math.min(pageSize, MAX_DEVICE_PAGE_SIZE);
    const all = inventory.list();
    const devices = all.slice(page * served, (page + 1) * served);
    if (devices.length === 0) return void res.status(204).end();
    res.json({ Devices: devices.map((d) => deviceRecord(d, users.record(d.enrollmentUserUuid))), Page: page, PageSize: served, Total: all.length });
  });

  api.post('/mdm/devices/id', express.json({ limit: '1mb' }), (req, res) => {
    const parsed = bulkInput.safeParse(req.body);
    if (!parsed.success) return void uemError(res, 400, 'Invalid request: BulkValues.Value must be a list of device ids.');
    const devices = parsed.data.BulkValues.Value.filter((value) => /^\d{1,10}$/.test(value))
      .map((value) => inventory.byDeviceId(Number(value)))
      .filter((device): device is SimDevice => device !== undefined);
    if (devices.length === 0) return void res.status(204).end();
    res.json({ Devices: devices.map((d) => deviceRecord(d, users.record(d.enrollmentUserUuid))), Page: 0, PageSize: devices.length, Total: devices.length });
  });

  api.get('/mdm/devices/:uuid', (req, res) => {
    const uuid = String(req.params.uuid);
    const device = UUID_PATTERN.test(uuid) ? inventory.byDeviceUuid(uuid) : undefined;
    if (!device) return void uemError(res, 404, 'Device not found for this request.', 5061);
    res.json(deviceRecordV2(device, users.record(device.enrollmentUserUuid)));
  });

  api.get('/mdm/smartgroups/:id/devices', (req, res) => {
    const id = String(req.params.id);
    const devices = /^\d{1,10}$/.test(id) ? inventory.smartGroup(Number(id)) : undefined;
    if (!devices) return void uemError(res, 404, 'Smart group not found.');
    if (devices.length === 0) return void res.status(204).end();
    res.json({
      Devices: devices.map((d) => {
        const user = users.record(d.enrollmentUserUuid);
        return { Id: String(d.deviceId), Name: friendlyName(d, user), Model: model(d), OSVersion: osVersion(d), Username: user.userName, Platform: d.platform, Ownership: 'C' };
      }),
    });
  });

  api.post('/mdm/profiles/:id/install', express.json({ limit: '16kb' }), (req, res) => {
    const id = String(req.params.id);
    if (!/^\d{1,10}$/.test(id) || Number(id) < 1) return void uemError(res, 404, 'Profile not found.');
    const parsed = deviceInfo.safeParse(req.body);
    if (!parsed.success) return void uemError(res, 400, 'Invalid request body.');
    const { DeviceId, SerialNumber, Udid } = parsed.data;
    const by = DeviceId !== undefined ? 'DeviceId' : SerialNumber !== undefined ? 'SerialNumber' : Udid !== undefined ? 'Udid' : undefined;
    if (!by) return void uemError(res, 400, 'A device identifier (DeviceId, SerialNumber or Udid) is required.');
    const device = by === 'DeviceId' ? inventory.byDeviceId(DeviceId!) : by === 'SerialNumber' ? inventory.bySerialNumber(SerialNumber!) : inventory.byUdidValue(Udid!);
    if (!device) return void uemError(res, 404, 'Device not found for this request.', 5061);
    const install: ProfileInstall = { profileId: Number(id), by, deviceId: device.deviceId, serialNumber: device.serialNumber, deviceUuid: device.deviceUuid, receivedAt: new Date().toISOString() };
    context.profileInstalls.push(install);
    context.logger?.info({ profileId: install.profileId, deviceUuid: device.deviceUuid, by }, 'UEM simulator: profile install requested');
    res.status(200).end();
  });

  api.use('/mdm', answerBodyErrors);
}

/** A body that is not JSON, or too large: answered the way UEM answers, not with an HTML page. */
export function answerBodyErrors(err: unknown, _req: Request, res: Response, next: NextFunction): void {
  const status = (err as { status?: number }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) return void uemError(res, status, 'Invalid request body.');
  next(err);
}

/** A device as search and the bulk read answer it (v1/v2, PascalCase). */
export function deviceRecord(device: SimDevice, user: SimUserRecord): Record<string, unknown> {
  return {
    Id: { Value: device.deviceId },
    Uuid: device.deviceUuid,
    Udid: device.udid,
    SerialNumber: device.serialNumber,
    MacAddress: '',
    Imei: '',
    EasId: '',
    AssetNumber: device.udid,
    DeviceFriendlyName: friendlyName(device, user),
    DeviceReportedName: model(device),
    LocationGroupId: { Id: { Value: 570 }, Name: 'Simulation', Uuid: '5b1b7c0e-6a9f-4d3e-8f0a-2c4d6e8f0a1b' },
    LocationGroupName: 'Simulation',
    UserId: { Id: { Value: Number(user.id) }, Name: user.displayName, Uuid: user.uuid },
    UserName: user.userName,
    DataProtectionStatus: 0,
    UserEmailAddress: user.email,
    Ownership: 'C',
    PlatformId: { Id: { Value: device.platform === 'Android' ? 5 : 2 }, Name: device.platform },
    Platform: device.platform,
    ModelId: { Id: { Value: 1 }, Name: model(device) },
    Model: model(device),
    OperatingSystem: osVersion(device),
    PhoneNumber: '',
    LastSeen: dotNetLocal(new Date()),
    EnrollmentStatus: device.enrollmentStatus,
    ComplianceStatus: 'Compliant',
    CompromisedStatus: false,
    LastEnrolledOn: dotNetLocal(new Date(device.enrolledAt)),
    LastComplianceCheckOn: '0001-01-01T00:00:00.000',
    LastCompromisedCheckOn: '0001-01-01T00:00:00.000',
    IsSupervised: false,
    DeviceMCC: { SIMMCC: '', CurrentMCC: '' },
    AcLineStatus: 0,
    VirtualMemory: 0,
    EnrollmentUserUuid: ZERO_GUID,
    ManagedBy: 1,
  };
}

/** A device as the v2 read by UUID answers it (camelCase, the user link in enrollmentInfo). */
function deviceRecordV2(device: SimDevice, user: SimUserRecord): Record<string, unknown> {
  return {
    uuid: device.deviceUuid,
    id: device.deviceId,
    udid: device.udid,
    serialNumber: device.serialNumber,
    macAddress: '',
    friendlyName: friendlyName(device, user),
    organizationGroupName: 'Simulation',
    platformInfo: { deviceType: device.platform === 'Android' ? 5 : 2, platformName: device.platform, modelName: model(device), osVersion: osVersion(device) },
    enrollmentInfo: {
      enrollmentStatus: device.enrollmentStatus === 'Enrolled' ? 'ENROLLED' : device.enrollmentStatus.toUpperCase(),
      compliant: true,
      enrollmentTimestamp: device.enrolledAt,
      lastSeenTimestamp: new Date().toISOString(),
      ownership: 'CORPORATE',
      organizationGroupName: 'Simulation',
      userName: user.userName,
      userEmailAddress: user.email,
      enrollmentUserUuid: user.uuid,
      managedBy: 'MDM',
    },
  };
}

const android = (device: SimDevice) => /android/i.test(device.platform);
const model = (device: SimDevice) => (android(device) ? 'Pixel 8' : 'iPhone 15');
const osVersion = (device: SimDevice) => (android(device) ? '14.0.0' : '17.5');
const friendlyName = (device: SimDevice, user: SimUserRecord) => `${user.userName} ${device.platform} ${osVersion(device)} ${device.serialNumber.slice(-4)}`;

/** UEM's search timestamps: no zone designator, milliseconds (UTC). */
function dotNetLocal(date: Date): string {
  return date.toISOString().replace(/Z$/, '');
}

/** A query parameter by name, whatever its case (UEM's are case-insensitive); undefined when not a whole number. */
function queryInt(req: Request, name: string, fallback: number): number | undefined {
  const entry = Object.entries(req.query).find(([key]) => key.toLowerCase() === name);
  if (!entry || entry[1] === undefined || entry[1] === '') return fallback;
  const value = entry[1];
  return typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : undefined;
}

export function uemError(res: Response, status: number, message: string, errorCode: number = status): void {
  res.status(status).json({ errorCode, message, activityId: randomUUID() });
}
