/**
 * The words of a profile re-install notice, for notifiers that write to people (email). Kept
 * apart from any transport, like failure-text.ts, so every human-readable channel says the same.
 */
import { oneLine } from './failure-text';
import type { ProfileReinstallNotice, ReinstallDevice } from './notifier';

export function devicesInWords(count: number): string {
  return `${count.toLocaleString('en-US')} device${count === 1 ? '' : 's'}`;
}

/** `S/MIME renewal: re-push the S/MIME profile to N devices`: a number only, so safe for a mail header. */
export function reinstallSubject(notice: ProfileReinstallNotice): string {
  return `S/MIME renewal: re-push the S/MIME profile to ${devicesInWords(notice.total)}`;
}

/** What happened and why it needs a person, as one paragraph. */
export function reinstallIntro(notice: ProfileReinstallNotice): string {
  return (
    `The S/MIME credentials of ${devicesInWords(notice.total)} were renewed (${oneLine(notice.reason) || 'no reason given'}). ` +
    'A device only fetches its renewed credential when the S/MIME profile is installed on it again, and the provider cannot ' +
    're-install the profile itself because UEM_SMIME_PROFILE_ID is not set. Until the profile is re-pushed, these devices keep using their previous credential.'
  );
}

/** How many are listed, in words: all of them, or the first N of the total. */
export function listedInWords(notice: ProfileReinstallNotice, listed: number): string {
  if (listed >= notice.total) return `${devicesInWords(notice.total)}, all listed below`;
  return `${devicesInWords(notice.total)}, the first ${listed.toLocaleString('en-US')} listed below`;
}

/** The columns of the device list, in order, with what to show for each device. */
export const DEVICE_COLUMNS: readonly [string, (device: ReinstallDevice) => string][] = [
  ['Serial number', (d) => d.serialNumber ?? ''],
  ['Device ID', (d) => d.deviceId ?? ''],
  ['User email', (d) => d.email ?? ''],
  ['Device UUID', (d) => d.deviceUuid],
  ['Enrollment user UUID', (d) => d.enrollmentUserUuid],
];

/** What to do, in order. */
export function reinstallSteps(notice: ProfileReinstallNotice, listed: number): string[] {
  const steps = [
    'In the Workspace ONE UEM console, re-push (install again) the S/MIME profile on each device listed below; each device then fetches its renewed credential.',
  ];
  if (listed < notice.total) {
    steps.push(`Only ${listed.toLocaleString('en-US')} of the ${devicesInWords(notice.total)} are listed here. Find all of them: ${oneLine(notice.howToFind)}`);
  }
  steps.push("To have the provider re-install the profile itself after future renewals, set UEM_SMIME_PROFILE_ID to the S/MIME profile's ID in UEM.");
  return steps;
}
