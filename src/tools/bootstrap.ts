/**
 * `npm run tools` (and the first step of `npm test`): make sure the Debian packages the suite uses
 * are installed (installing them when this process may), then that the Temporal CLI, the
 * time-skipping test server and step-ca are in the tool cache, building them from the registries
 * if not. Idempotent; prints what it does.
 */
import { ensureDebianPackages } from './debian-packages';
import { ToolUnavailable } from './go-tool';
import { ensureStepCa } from './step-ca';
import { ensureTemporalCli } from './temporal-cli';
import { ensureTestServer } from './test-server';

export async function bootstrapTools(what: { temporalCli?: boolean; testServer?: boolean; stepCa?: boolean } = { temporalCli: true, testServer: true, stepCa: true }) {
  const temporalCli = what.temporalCli ? await ensureTemporalCli() : undefined;
  const testServer = what.testServer ? await ensureTestServer() : undefined;
  const stepCa = what.stepCa ? await ensureStepCa() : undefined; // the real CA the step-ca adapter is tested against
  return { temporalCli, testServer, stepCa };
}

if (require.main === module) {
  // Packages first: the test server is resolved with Maven and runs on the JDK.
  ensureDebianPackages('test')
    .then(() => bootstrapTools())
    .catch((err) => {
      process.stderr.write(`\n${err instanceof ToolUnavailable ? err.message : (err as Error).stack}\n`);
      process.exit(1);
    });
}
