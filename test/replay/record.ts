/**
 * `npm run replay:record`: refresh the replay corpus in test/replay/histories/ by running each
 * scenario with the *current* workflow code under the time-skipping server. Do this only for a
 * deliberate, replay-safe change of history shape (and keep the old files when old runs may still
 * be open in production: add new files instead of replacing — the `legacy-*` files are runs of the
 * first lifecycle shape, recorded before the lean lifecycle). Name scenarios to record only those:
 * `npm run replay:record -- renewal-delivered`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyToJSON } from '../../src/temporal/sdk-internals';
import { temporal } from '@temporalio/proto';
import { createTimeSkippingEnv } from '../helpers/temporal';
import { withProvisioning } from '../helpers/workflow-harness';
import { SCENARIOS, scenarioEvent } from './scenarios';

async function main(): Promise<void> {
  const env = await createTimeSkippingEnv();
  try {
    const only = process.argv.slice(2);
    for (const scenario of SCENARIOS.filter((s) => only.length === 0 || only.includes(s.name))) {
      const event = scenarioEvent(await env.currentTimeMs());
      const history = await withProvisioning(env, scenario.activities(() => env.currentTimeMs()), event, async (run) => {
        await scenario.drive(env, run);
        return run.handle.fetchHistory();
      }, undefined, scenario.renewal);
      const file = join(__dirname, 'histories', `${scenario.name}.json`);
      writeFileSync(file, `${historyToJSON(temporal.api.history.v1.History.fromObject(history))}\n`);
      process.stdout.write(`recorded ${scenario.name}: ${history.events?.length ?? 0} events → ${file}\n`);
    }
  } finally {
    await env.teardown();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
