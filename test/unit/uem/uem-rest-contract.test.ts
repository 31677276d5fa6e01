/**
 * The UEM REST contract module read against the answer shapes UEM's versions write (recorded
 * answers and the published models, docs/uem-rest-contract.md): field case, id forms, the
 * all-zero GUID, rate-limit headers, the request bodies.
 */
import assert from 'node:assert/strict';
import {
  bulkInput,
  bulkInputBody,
  deviceInfo,
  deviceSearchQuery,
  isEnrolledStatus,
  readRateLimit,
  uemDevice,
  uemDeviceList,
  uemErrorBody,
  uemSmartGroupDevices,
  uemUser,
  uemUserSearch,
} from '../../../src/activities/uem/rest-contract';
import { toInventoryDevice } from '../../../src/activities/uem/uem-rest-inventory';

const USER_UUID = 'da6d08af-1c2d-4e3f-8a9b-0c1d2e3f4a5b';
const DEVICE_UUID = '4338a0a4-38e8-409d-9f72-fd3d5502f3c3';

describe('UEM REST contract', () => {
  describe('users', () => {
    it('reads the v2 user in camelCase (emailAddress, userName, displayName) with no numeric id', () => {
      const user = uemUser.parse({ uuid: USER_UUID, userName: 'jsmith', firstName: 'John', lastName: 'Smith', displayName: 'John Smith', emailAddress: 'john@example.test', status: true });
      assert.deepEqual(user, { Uuid: USER_UUID, UserName: 'jsmith', FirstName: 'John', LastName: 'Smith', DisplayName: 'John Smith', Email: 'john@example.test' });
    });

    it('reads the same fields in snake_case and PascalCase, and v1 Email with Id.Value', () => {
      assert.equal(uemUser.parse({ email_address: 'a@example.test' }).Email, 'a@example.test');
      assert.equal(uemUser.parse({ EmailAddress: 'b@example.test' }).Email, 'b@example.test');
      assert.deepEqual(uemUser.parse({ Id: { Value: 781393 }, Uuid: USER_UUID.toUpperCase(), Email: 'c@example.test', UserName: 'c' }), { Id: '781393', Uuid: USER_UUID, Email: 'c@example.test', UserName: 'c' });
    });

    it('a blank value never hides a filled one, and blanks read as absent', () => {
      assert.equal(uemUser.parse({ email: 'x@example.test', emailAddress: '' }).Email, 'x@example.test');
      assert.equal(uemUser.parse({ emailAddress: '  ' }).Email, undefined);
    });

    it('reads the v1 user search envelope; a missing Users list reads as empty', () => {
      const result = uemUserSearch.parse({ Users: [{ Id: { Value: 5 }, Uuid: USER_UUID }], Page: 0, PageSize: 500, Total: 1 });
      assert.equal(result.Users[0]!.Id, '5');
      assert.equal(result.Total, 1);
      assert.deepEqual(uemUserSearch.parse({}).Users, []);
    });
  });

  describe('devices', () => {
    /** A device record as recorded from a real tenant's v2 search (JupiterOne/graph-airwatch, 2020). */
    const recorded = {
      Id: { Value: 66523 },
      Uuid: DEVICE_UUID,
      Udid: '01b37d06a5',
      SerialNumber: 'R58MB3K5VWH',
      UserName: 'john',
      UserEmailAddress: 'john@testemail.com',
      UserId: { Id: { Value: 781393 }, Name: 'John  Smith', Uuid: USER_UUID },
      EnrollmentUserUuid: '00000000-0000-0000-0000-000000000000',
      Platform: 'Android',
      EnrollmentStatus: 'Enrolled',
      LastSeen: '2020-10-16T15:08:03.387',
    };

    it("takes the enrollment user from UserId.Uuid, not the all-zero EnrollmentUserUuid search answers carry", () => {
      const record = uemDevice.parse(recorded);
      assert.equal(record.EnrollmentUserUuid, undefined);
      assert.deepEqual(toInventoryDevice(record), {
        deviceUuid: DEVICE_UUID,
        enrollmentUserUuid: USER_UUID,
        deviceId: '66523',
        serialNumber: 'R58MB3K5VWH',
        email: 'john@testemail.com',
        platform: 'Android',
        enrolled: true,
      });
    });

    it('reads v3 snake_case names, where enrollment_user_uuid is the link', () => {
      const record = uemDevice.parse({ Id: { Value: 7 }, Uuid: DEVICE_UUID, serial_number: 'S1', enrollment_user_uuid: USER_UUID, enrollment_user_email_address: 'v3@example.test', platform_name: 'Apple' });
      assert.deepEqual(toInventoryDevice(record), { deviceUuid: DEVICE_UUID, enrollmentUserUuid: USER_UUID, deviceId: '7', serialNumber: 'S1', email: 'v3@example.test', platform: 'Apple', enrolled: true });
    });

    it('a record without a device UUID or a user link cannot be provisioned', () => {
      assert.equal(toInventoryDevice(uemDevice.parse({ ...recorded, Uuid: '' })), undefined);
      assert.equal(toInventoryDevice(uemDevice.parse({ ...recorded, UserId: { Id: { Value: 1 } } })), undefined);
    });

    it('enrolled only when the status says Enrolled; a status that cannot be read counts as enrolled', () => {
      assert.equal(isEnrolledStatus('Enrolled'), true);
      assert.equal(isEnrolledStatus('ENROLLED'), true);
      for (const gone of ['Unenrolled', 'EnterpriseWipePending', 'DeviceWipePending']) assert.equal(isEnrolledStatus(gone), false, gone);
      assert.equal(isEnrolledStatus(undefined), true);
      assert.equal(isEnrolledStatus(1), true);
    });

    it('reads the search envelope in either case; anything that is not one reads as no devices', () => {
      assert.deepEqual(uemDeviceList.parse({ Devices: [], Page: 2, PageSize: 500, Total: 1200 }), { Devices: [], Page: 2, PageSize: 500, Total: 1200 });
      assert.equal(uemDeviceList.parse({ devices: [{}], page_size: '100', total: 3 }).PageSize, 100);
      assert.deepEqual(uemDeviceList.parse('<html>').Devices, []);
    });

    it('reads smart group device ids, which are strings there', () => {
      const group = uemSmartGroupDevices.parse({ Devices: [{ Id: '12', Name: 'iPad', Username: 'jane' }, { Id: 'x' }, { Id: 13 }] });
      assert.deepEqual(group.Devices.map((d) => d.Id), ['12', undefined, '13']);
    });

    it('asks device search for at most 500 a page, in device id order', () => {
      assert.deepEqual(deviceSearchQuery(3, 10_000), { page: '3', pagesize: '500', orderby: 'deviceid', sortorder: 'ASC' });
      assert.equal(deviceSearchQuery(0, 50).pagesize, '50');
    });
  });

  describe('request bodies', () => {
    it('BulkInput carries the ids as strings under BulkValues.Value, read in any case', () => {
      assert.deepEqual(bulkInputBody([1, '2']), { BulkValues: { Value: ['1', '2'] } });
      assert.deepEqual(bulkInput.parse({ bulkvalues: { value: [3, '4'] } }), { BulkValues: { Value: ['3', '4'] } });
      assert.equal(bulkInput.safeParse({ BulkValues: { Value: [{}] } }).success, false);
    });

    it('DeviceInfo takes one identifier; a negative or non-numeric DeviceId is refused', () => {
      assert.deepEqual(deviceInfo.parse({ deviceId: '7' }), { DeviceId: 7 });
      assert.deepEqual(deviceInfo.parse({ SerialNumber: 'R58MB3K5VWH' }), { SerialNumber: 'R58MB3K5VWH' });
      assert.equal(deviceInfo.safeParse({ DeviceId: -1 }).success, false);
      assert.equal(deviceInfo.safeParse({ DeviceId: 'seven' }).success, false);
    });
  });

  describe('errors and rate limits', () => {
    it("reads UEM's error document in any case", () => {
      assert.deepEqual(uemErrorBody.parse({ errorCode: 5061, message: 'Device not found for this request.', activityId: 'a1' }), { errorCode: 5061, message: 'Device not found for this request.', activityId: 'a1' });
      assert.deepEqual(uemErrorBody.parse({ ErrorCode: '1013', Message: 'Tenant code XYZ does not identify an Organization Group.' }).errorCode, '1013');
    });

    it('reads x-ratelimit-* as recorded: a daily budget and the reset in epoch seconds', () => {
      const headers: Record<string, string> = { 'x-ratelimit-limit': '250000', 'x-ratelimit-remaining': '249972', 'x-ratelimit-reset': '1698754208' };
      assert.deepEqual(readRateLimit((name) => headers[name]), { limit: 250000, remaining: 249972, resetAt: 1698754208000 });
      assert.equal(readRateLimit(() => undefined), undefined);
      const now = 1_700_000_000_000;
      assert.equal(readRateLimit((name) => ({ 'x-ratelimit-remaining': '5', 'x-ratelimit-reset': '60' })[name], now)!.resetAt, now + 60_000, 'a small reset is read as seconds from now');
    });
  });
});
