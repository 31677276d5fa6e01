/**
 * `npm run renew`: renewal on demand — CA key compromise, a profile change, a domain rename.
 * Starts the renewal workflow (the same as POST /v1/renewals) for the devices holding active
 * credentials that one selector chooses; with --wait, follows it until every renewal run it
 * started has ended.
 *
 *   npm run renew -- --device <uuid> --reason "…"            one device
 *   npm run renew -- --user <uuid> --reason "…"              every device of one user
 *   npm run renew -- --expiring-before <ISO> --reason "…"    what expires before an instant
 *   npm run renew -- --all --reason "…"                      everything
 *   … [--rate PER_SECOND] [--wait]
 */
import { startRenewal } from '../temporal/fleet';
import type { RenewalSelector } from '../workflows/fleet-definitions';
import { StartRenewalRequest } from '../api/schemas/fleet';
import { checkedInput, main, numberFlag, parseFlags, runSweepCommand } from './sweep-cli';

export const USAGE = `usage: npm run renew -- (--device UUID | --user UUID | --expiring-before ISO-TIME | --all) --reason TEXT [--rate PER_SECOND] [--wait]
  --device UUID             one device's credentials
  --user UUID               every device of one enrollment user (the user's encryption credential is re-issued too)
  --expiring-before TIME    devices holding a credential that expires before this instant (e.g. 2027-03-01T00:00:00Z)
  --all                     every device holding an active credential (the users' encryption credentials too)
  --reason TEXT             why (one line, up to 200 characters): in every run, the register and the re-install notice
  --rate N                  renewal runs started per second at most (default and ceiling: the worker's FLEET_RATE)
  --wait                    follow it until every renewal run has ended (exit 1 if it fails or is cancelled)`;

export async function renewCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv,
    options: {
      device: { type: 'string' },
      user: { type: 'string' },
      'expiring-before': { type: 'string' },
      all: { type: 'boolean' },
      reason: { type: 'string' },
      rate: { type: 'string' },
      wait: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const request = checkedInput(
    StartRenewalRequest,
    {
      ...(values.device !== undefined ? { deviceUuid: values.device } : {}),
      ...(values.user !== undefined ? { userUuid: values.user } : {}),
      ...(values['expiring-before'] !== undefined ? { expiringBefore: values['expiring-before'] } : {}),
      ...(values.all ? { all: true } : {}),
      ...(values.reason !== undefined ? { reason: values.reason } : {}),
      ...(values.rate !== undefined ? { ratePerSecond: numberFlag(values.rate) } : {}),
    },
    { deviceUuid: '--device', userUuid: '--user', expiringBefore: '--expiring-before', all: '--all', reason: '--reason', ratePerSecond: '--rate' },
  );
  const selector: RenewalSelector =
    request.deviceUuid !== undefined
      ? { deviceUuid: request.deviceUuid }
      : request.userUuid !== undefined
        ? { userUuid: request.userUuid }
        : request.expiringBefore !== undefined
          ? { expiringBefore: request.expiringBefore }
          : { all: true };
  const what = 'deviceUuid' in selector ? `device ${selector.deviceUuid}` : 'userUuid' in selector ? `user ${selector.userUuid}` : 'expiringBefore' in selector ? `credentials expiring before ${selector.expiringBefore}` : 'every device';
  return runSweepCommand({
    kind: 'renewal',
    what: `${what}: ${request.reason}`,
    wait: values.wait,
    start: (client, config) => startRenewal(client, config.taskQueue, { selector, reason: request.reason, ...(request.ratePerSecond !== undefined ? { ratePerSecond: request.ratePerSecond } : {}) }),
  });
}

if (require.main === module) main(() => renewCommand(process.argv.slice(2)), USAGE);
