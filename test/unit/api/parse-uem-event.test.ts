import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { classifyEventType, parseUemEvent, payloadFormat, UemEventError, type NormalisedUemEvent } from '../../../src/api/webhook/parse-uem-event';
import { projectPath } from '../../../src/tools/paths';

const SAMPLES = projectPath('test', 'fixtures', 'uem-events');
const OURS = projectPath('test', 'fixtures', 'uem');

function parseFile(dir: string, file: string): NormalisedUemEvent {
  const contentType = file.endsWith('.xml') ? 'application/xml; charset=utf-8' : 'application/json';
  return parseUemEvent(contentType, readFileSync(join(dir, file)));
}

function rejection(dir: string, file: string): UemEventError {
  try {
    parseFile(dir, file);
  } catch (err) {
    assert.ok(err instanceof UemEventError, `expected UemEventError, got ${String(err)}`);
    return err;
  }
  assert.fail(`${file} was accepted`);
}

function enrollment(parsed: NormalisedUemEvent) {
  assert.equal(parsed.kind, 'enrollment');
  return (parsed as Extract<NormalisedUemEvent, { kind: 'enrollment' }>).event;
}

describe('parseUemEvent: the basic UEM samples (test/fixtures/uem-events)', () => {
  it('enrollment-full.json: every field mapped, 7 fractional digits cut to milliseconds', () => {
    const event = enrollment(parseFile(SAMPLES, 'enrollment-full.json'));
    assert.deepEqual(event, {
      enrollmentUserUuid: 'b7e8f9a0-1c2d-4e3f-8a9b-0c1d2e3f4a5b',
      deviceUuid: '3f6c2d1e-8a4b-4c7d-9e0f-1a2b3c4d5e6f',
      eventTime: '2026-11-20T09:14:03.553Z',
      enrollmentUserId: '318',
      deviceId: '4211',
      email: 'mira.kovac@example.test',
      userName: 'mkovac',
      deviceName: 'Mira iPhone iOS 17.5 QX9',
      platform: 'Apple',
      os: '17.5',
      eventId: '148',
      organizationGroup: 'Sales EMEA',
    });
  });

  it('enrollment-blank-email.json: no email, 5 fractional digits', () => {
    const event = enrollment(parseFile(SAMPLES, 'enrollment-blank-email.json'));
    assert.equal(event.email, undefined);
    assert.equal('email' in event, false, 'absent, not an empty string');
    assert.equal(event.eventTime, '2026-11-20T10:02:41.908Z');
    assert.equal(event.enrollmentUserId, '319');
  });

  it('enrollment-legacy.xml: XML root Eventlog, same field names', () => {
    const event = enrollment(parseFile(SAMPLES, 'enrollment-legacy.xml'));
    assert.equal(event.email, 'noor.haddad@example.test');
    assert.equal(event.deviceUuid, '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d');
    assert.equal(event.eventTime, '2026-11-20T11:30:00.123Z');
    assert.equal(event.deviceId, '4213');
    assert.equal(event.eventId, '148');
  });

  it('enrollment-legacy-date.json: /Date(ms)/ and ids as strings', () => {
    const event = enrollment(parseFile(SAMPLES, 'enrollment-legacy-date.json'));
    assert.equal(event.eventTime, new Date(1763630400000).toISOString());
    assert.equal(event.enrollmentUserId, '321');
    assert.equal(event.deviceId, '4214');
  });

  it('break-mdm-no-spaces.json: BreakMDMConfirmed is an unenrollment', () => {
    const parsed = parseFile(SAMPLES, 'break-mdm-no-spaces.json');
    assert.deepEqual(parsed, {
      kind: 'unenrollment',
      eventType: 'BreakMDMConfirmed',
      deviceUuid: '3f6c2d1e-8a4b-4c7d-9e0f-1a2b3c4d5e6f',
      enrollmentUserUuid: 'b7e8f9a0-1c2d-4e3f-8a9b-0c1d2e3f4a5b',
      eventTime: '2026-11-24T16:45:12.000Z',
      warnings: [],
    });
  });

  it('enterprise-wipe.json: an unenrollment', () => {
    const parsed = parseFile(SAMPLES, 'enterprise-wipe.json');
    assert.equal(parsed.kind, 'unenrollment');
  });

  it('compromised-status.json: another event type is "other"', () => {
    const parsed = parseFile(SAMPLES, 'compromised-status.json');
    assert.equal(parsed.kind, 'other');
    assert.equal(parsed.eventType, 'Compromised Status Changed');
  });
});

describe('parseUemEvent: further real-world variants', () => {
  it('DataContract XML: namespaces, i:nil email, type without spaces, braced upper-case UUIDs, entities decoded once', () => {
    const event = enrollment(parseFile(OURS, 'xml-datacontract-no-spaces.xml'));
    assert.equal(event.email, undefined);
    assert.equal(event.deviceUuid, '5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e');
    assert.equal(event.enrollmentUserUuid, '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d');
    assert.equal(event.deviceName, "Ana's Galaxy & Tab");
    assert.equal(event.eventTime, '2026-11-21T08:00:00.123Z');
  });

  it('XML Device Wipe: an unenrollment with both UUIDs', () => {
    const parsed = parseFile(OURS, 'xml-device-wipe.xml');
    assert.equal(parsed.kind, 'unenrollment');
    assert.equal((parsed as Extract<NormalisedUemEvent, { kind: 'unenrollment' }>).enrollmentUserUuid, '2c3d4e5f-6a7b-4c8d-9e0f-a1b2c3d4e5f6');
  });

  it('7 fractional digits with an offset: converted to UTC; email trimmed', () => {
    const event = enrollment(parseFile(OURS, 'json-seven-digits-offset.json'));
    assert.equal(event.eventTime, '2026-11-20T09:14:03.553Z');
    assert.equal(event.email, 'piet.devries@example.test');
  });

  it('/Date(ms+0100)/ with ids as strings and a lower-case type', () => {
    const event = enrollment(parseFile(OURS, 'json-legacy-date-offset-ids-strings.json'));
    assert.equal(event.eventTime, new Date(1763630400000).toISOString(), 'the milliseconds are UTC already');
    assert.equal(event.enrollmentUserId, '324');
    assert.equal(event.email, undefined);
  });

  it('unknown fields of any shape are ignored; names are NFC without bidi overrides', () => {
    const event = enrollment(parseFile(OURS, 'json-unknown-fields-unicode.json'));
    assert.equal(event.userName, 'Zoë Müller'.normalize('NFC'));
    assert.equal(event.userName, 'Zo\u00eb M\u00fcller');
    assert.equal(event.deviceName, 'Zoë’s iPhone 🍏 evil');
    assert.equal(event.eventTime, '2026-11-20T09:14:03.000Z');
  });

  it('a JSON event wrapped in {"Eventlog": ...} with camel-case keys', () => {
    const event = enrollment(parseFile(OURS, 'json-wrapped-eventlog-lowercase-keys.json'));
    assert.equal(event.email, 'sam.lee@example.test');
    assert.equal(event.deviceUuid, '0f1a2b3c-4d5e-4f6a-9b7c-8d9e0f1a2b3c');
  });

  it('Device Delete with only DeviceUUID: an unenrollment for the device', () => {
    const parsed = parseFile(OURS, 'json-device-delete-without-user.json');
    assert.equal(parsed.kind, 'unenrollment');
    const unenroll = parsed as Extract<NormalisedUemEvent, { kind: 'unenrollment' }>;
    assert.equal(unenroll.deviceUuid, '3f6c2d1e-8a4b-4c7d-9e0f-1a2b3c4d5e6f');
    assert.equal(unenroll.enrollmentUserUuid, undefined);
  });

  it('an email that is not one is dropped with a warning (the user is then looked up)', () => {
    const body = JSON.stringify({
      EventType: 'MDM Enrollment Complete',
      EventTime: '2026-11-20T09:14:03Z',
      EnrollmentEmailAddress: 'mkovac',
      DeviceUUID: '3f6c2d1e-8a4b-4c7d-9e0f-1a2b3c4d5e6f',
      EnrollmentUserUUID: 'b7e8f9a0-1c2d-4e3f-8a9b-0c1d2e3f4a5b',
    });
    const parsed = parseUemEvent('application/json', body);
    assert.equal(enrollment(parsed).email, undefined);
    assert.equal(parsed.warnings.length, 1);
  });

  it('UTF-16 with a charset parameter and a BOM', () => {
    const body = `\ufeff${readFileSync(join(SAMPLES, 'enrollment-full.json'), 'utf8')}`;
    const event = enrollment(parseUemEvent('application/json; charset=utf-16le', Buffer.from(body, 'utf16le')));
    assert.equal(event.email, 'mira.kovac@example.test');
  });
});

describe('parseUemEvent: refusals', () => {
  const cases: [file: string, status: number, field?: string][] = [
    ['xml-doctype-internal-entity.xml', 400],
    ['xml-external-entity.xml', 400],
    ['xml-entity-expansion.xml', 400],
    ['xml-wrong-root.xml', 400],
    ['xml-truncated.xml', 400],
    ['json-truncated.json', 400],
    ['json-array.json', 400],
    ['json-missing-device-uuid.json', 422, 'DeviceUUID'],
    ['json-bad-user-uuid.json', 422, 'EnrollmentUserUUID'],
    ['json-nil-user-uuid.json', 422, 'EnrollmentUserUUID'],
    ['json-bad-event-time.json', 422, 'EventTime'],
    ['json-missing-event-type.json', 422, 'EventType'],
  ];
  for (const [file, status, field] of cases) {
    it(`${file} → ${status}${field ? ` naming ${field}` : ''}`, () => {
      const err = rejection(OURS, file);
      assert.equal(err.status, status);
      assert.equal(err.field, field);
    });
  }

  it('the DOCTYPE refusal never shows the entity expanded', () => {
    const err = rejection(OURS, 'xml-external-entity.xml');
    assert.doesNotMatch(err.message, /root:/);
    assert.match(err.message, /DOCTYPE/);
  });

  it('a Content-Type other than JSON or XML → 415; missing → 415', () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined]) {
      assert.throws(() => parseUemEvent(contentType, '{}'), (e: unknown) => e instanceof UemEventError && e.status === 415, String(contentType));
    }
  });

  it('an unknown charset → 415; bytes that are not the charset → 400', () => {
    assert.throws(() => parseUemEvent('application/json; charset=klingon', Buffer.from('{}')), (e: unknown) => (e as UemEventError).status === 415);
    assert.throws(() => parseUemEvent('application/json; charset=utf-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), (e: unknown) => (e as UemEventError).status === 400);
  });

  it('an empty body → 400', () => {
    assert.throws(() => parseUemEvent('application/json', Buffer.alloc(0)), (e: unknown) => (e as UemEventError).status === 400);
    assert.throws(() => parseUemEvent('application/xml', '   '), (e: unknown) => (e as UemEventError).status === 400);
  });

  it('an unenrollment with an invalid EnrollmentUserUUID → 422 (not a silent device-wide cancel)', () => {
    const body = JSON.stringify({ EventType: 'Break MDM Confirmed', DeviceUUID: '3f6c2d1e-8a4b-4c7d-9e0f-1a2b3c4d5e6f', EnrollmentUserUUID: 'nope' });
    assert.throws(() => parseUemEvent('application/json', body), (e: unknown) => (e as UemEventError).status === 422 && (e as UemEventError).field === 'EnrollmentUserUUID');
  });
});

describe('event types and content types', () => {
  it('compares event types ignoring case and spaces', () => {
    for (const type of ['MDM Enrollment Complete', 'MDMEnrollmentComplete', 'mdm enrollment complete', 'Enrollment Complete', ' EnrollmentComplete ']) {
      assert.equal(classifyEventType(type), 'enrollment', type);
    }
    for (const type of ['Break MDM Confirmed', 'BreakMDMConfirmed', 'Enterprise Wipe', 'DeviceEnterpriseWipeRequested', 'Device Wipe', 'Device Delete', 'DeviceDeleted']) {
      assert.equal(classifyEventType(type), 'unenrollment', type);
    }
    for (const type of ['Compromised Status Changed', 'Compliance Status Changed', 'MDM Enrollment', 'Break MDM Requested']) {
      assert.equal(classifyEventType(type), 'other', type);
    }
  });

  it('recognises JSON and XML media types with parameters and suffixes', () => {
    assert.equal(payloadFormat('application/json; charset=utf-8'), 'json');
    assert.equal(payloadFormat('Application/JSON'), 'json');
    assert.equal(payloadFormat('text/json'), 'json');
    assert.equal(payloadFormat('application/vnd.uem.event+json'), 'json');
    assert.equal(payloadFormat('text/xml; charset="utf-8"'), 'xml');
    assert.equal(payloadFormat('application/xml'), 'xml');
    assert.equal(payloadFormat('text/plain'), undefined);
    assert.equal(payloadFormat(''), undefined);
  });
});
