/**
 * `npm run tools` (and the first step of `npm test` and `npm run dev`): make sure the Temporal CLI
 * and the time-skipping test server are in the tool cache, building them from the registries if
 * not. Idempotent; prints what it does.
 */
import { ToolUnavailable } from './go-tool';
import { ensureTemporalCli } from './temporal-cli';
import { ensureTestServer } from './test-server';

export async function bootstrapTools(what: { temporalCli?: boolean; testServer?: boolean } = { temporalCli: true, testServer: true }) {
  const temporalCli = what.temporalCli ? await ensureTemporalCli() : undefined;
  const testServer = what.testServer ? await ensureTestServer() : undefined;
  return { temporalCli, testServer };
}

if (require.main === module) {
  bootstrapTools().catch((err) => {
    process.stderr.write(`\n${err instanceof ToolUnavailable ? err.message : (err as Error).stack}\n`);
    process.exit(1);
  });
}
