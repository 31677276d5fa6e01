import { randomUUID } from 'node:crypto';
import type { EnrollmentEvent } from '../../src/domain/enrollment';

/** A fresh enrollment event for tests: unique user and device, event time now unless given. */
export function enrollmentEvent(overrides: Partial<EnrollmentEvent> = {}): EnrollmentEvent {
  const enrollmentUserUuid = randomUUID();
  return {
    enrollmentUserUuid,
    deviceUuid: randomUUID(),
    enrollmentUserId: '318',
    deviceId: '4211',
    email: `user-${enrollmentUserUuid.slice(0, 8)}@example.test`,
    userName: 'mkovac',
    deviceName: 'Mira iPhone',
    platform: 'Apple',
    os: '17.5',
    eventTime: new Date().toISOString(),
    eventId: '148',
    organizationGroup: 'Sales EMEA',
    ...overrides,
  };
}
