/**
 * Whose certificate this is. The provider is the registration authority for the mailbox in every
 * certificate it requests, and UEM's directory is the only authority it has: with a directory
 * configured (UEM_API_URL), the address and the numeric user id always come from UEM, looked up by
 * EnrollmentUserUUID. An event that names another address is recorded (a log line without the
 * address, a metric, the workflow's history summary) and never used — whoever can call the
 * webhook cannot choose whose certificate is issued.
 *
 * Without a directory, the event's address is all there is: the provider then trusts whoever holds
 * the webhook credentials (see the README's security model).
 */
import { Context, log } from '@temporalio/activity';
import { z } from 'zod';
import { nonRetryable } from '../../domain/errors';
import type { EnrollmentEvent } from '../../domain/enrollment';
import type { IdentifiedUser } from '../contract';
import type { UserDirectory } from '../uem/user-directory';

const emailSchema = z.email().max(320);

export async function identifyUser(event: EnrollmentEvent, directory: UserDirectory | undefined): Promise<IdentifiedUser> {
  const eventEmail = usable(event.email);
  if (!directory) {
    if (!eventEmail) {
      throw nonRetryable('UserHasNoEmail', `the event has no usable email for user ${event.enrollmentUserUuid} and no UEM directory is configured (UEM_API_URL)`);
    }
    return { email: eventEmail, displayName: event.userName, userName: event.userName, source: 'event' };
  }
  const found = await directory.lookUp({ enrollmentUserUuid: event.enrollmentUserUuid, enrollmentUserId: event.enrollmentUserId });
  const email = usable(found.email);
  if (!email) {
    throw nonRetryable('UserHasNoEmail', `UEM has no usable email address for user ${event.enrollmentUserUuid}${found.userName ? ` (${found.userName})` : ''}`);
  }
  const eventAddressIgnored = eventEmail !== undefined && eventEmail !== email;
  if (eventAddressIgnored) {
    // The address itself stays out of the log: it may be an attacker's choice, or personal data.
    log.warn('the event named another address than UEM has for this user; UEM\'s is used', { enrollmentUserUuid: event.enrollmentUserUuid });
    Context.current().metricMeter.createCounter('smime_event_address_mismatch', 'events', 'Enrollment events whose address differed from UEM\'s directory (ignored)').add(1);
  }
  if (event.enrollmentUserId && found.enrollmentUserId && event.enrollmentUserId !== found.enrollmentUserId) {
    log.warn('the event named another numeric user id than UEM has for this UUID; UEM\'s is used', { enrollmentUserUuid: event.enrollmentUserUuid });
  }
  return {
    email,
    ...(found.enrollmentUserId ? { enrollmentUserId: found.enrollmentUserId } : {}),
    displayName: found.displayName,
    userName: found.userName ?? event.userName,
    source: 'directory',
    ...(eventAddressIgnored ? { eventAddressIgnored } : {}),
  };
}

function usable(email: string | undefined): string | undefined {
  const trimmed = email?.trim().toLowerCase();
  return trimmed && emailSchema.safeParse(trimmed).success ? trimmed : undefined;
}
