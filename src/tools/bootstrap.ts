/**
 * `npm run tools` (and the first step of `npm test`): make sure the Debian packages the suite uses
 * are installed (installing them when this process may), then that the Temporal CLI, the
 * time-skipping test server, step-ca and the certificate linters (pkilint, zlint) are in the tool
 * cache, building or installing them from the registries if not. Idempotent; prints what it does.
 */
import { ensurePkilint, ensureZlint } from './certificate-linters';
import { ensureDebianPackages } from './debian-packages';
import { ToolUnavailable } from './go-tool';
import { ensureStepCa } from './step-ca';
import { ensureTemporalCli } from './temporal-cli';
import { ensureTestServer } from './test-server';

export interface ToolSelection {
  temporalCli?: boolean;
  testServer?: boolean;
  stepCa?: boolean;
  /** pkilint (PyPI) and zlint (Go module proxy): the S/MIME certificate linters the tests run. */
  linters?: boolean;
}

export async function bootstrapTools(what: ToolSelection = { temporalCli: true, testServer: true, stepCa: true, linters: true }) {
  const temporalCli = what.temporalCli ? await ensureTemporalCli() : undefined;
  const testServer = what.testServer ? await ensureTestServer() : undefined;
  const stepCa = what.stepCa ? await ensureStepCa() : undefined; // the real CA the step-ca adapter is tested against
  const pkilint = what.linters ? await ensurePkilint() : undefined;
  const zlint = what.linters ? await ensureZlint() : undefined;
  return { temporalCli, testServer, stepCa, pkilint, zlint };
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
