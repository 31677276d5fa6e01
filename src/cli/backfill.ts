/**
 * `npm run backfill`: S/MIME for the devices enrolled before the provider was on — they never send
 * an enrollment event. Starts the backfill workflow (the same as POST /v1/backfills) on the
 * worker's task queue; with --wait, follows it to the end with a progress line.
 *
 *   npm run backfill -- --smart-group 42 [--rate 40] [--wait]
 *   npm run backfill -- --all [--rate 40] [--wait]
 *
 * Needs what any client of Temporal needs: TEMPORAL_ADDRESS (and its TLS settings), the namespace,
 * TASK_QUEUE and CODEC_KEYS — next to `npm run dev` the dev stack's own.
 */
import { startBackfill } from '../temporal/fleet';
import { StartBackfillRequest } from '../api/schemas/fleet';
import { checkedInput, main, numberFlag, parseFlags, runSweepCommand } from './sweep-cli';

export const USAGE = `usage: npm run backfill -- (--smart-group ID | --all) [--rate PER_SECOND] [--wait]
  --smart-group ID   the smart group the S/MIME profile is assigned to (its devices only)
  --all              every device UEM has enrolled
  --rate N           provisioning runs started per second at most (default and ceiling: the worker's FLEET_RATE)
  --wait             follow it to the end (progress on stderr, summary on stdout; exit 1 if it fails or is cancelled)`;

export async function backfillCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv,
    options: {
      'smart-group': { type: 'string' },
      all: { type: 'boolean' },
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
    StartBackfillRequest,
    {
      ...(values['smart-group'] !== undefined ? { smartGroupId: numberFlag(values['smart-group']) } : {}),
      ...(values.all ? { all: true } : {}),
      ...(values.rate !== undefined ? { ratePerSecond: numberFlag(values.rate) } : {}),
    },
    { smartGroupId: '--smart-group', all: '--all', ratePerSecond: '--rate' },
  );
  const scope = request.smartGroupId !== undefined ? { smartGroupId: request.smartGroupId } : {};
  return runSweepCommand({
    kind: 'backfill',
    what: `${scope.smartGroupId !== undefined ? `smart group ${scope.smartGroupId}` : 'all devices'}${request.ratePerSecond ? ` at ${request.ratePerSecond}/s at most` : ''}`,
    wait: values.wait,
    start: (client, config) => startBackfill(client, config.taskQueue, { scope, ...(request.ratePerSecond !== undefined ? { ratePerSecond: request.ratePerSecond } : {}) }),
  });
}

if (require.main === module) main(() => backfillCommand(process.argv.slice(2)), USAGE);
