import { ensureGoTool, ToolUnavailable } from './go-tool';

/**
 * smallstep's step-ca, the real CA the step-ca adapter is tested against. v0.30.2 is the newest
 * release the module proxy serves whose go.mod carries no `replace` directive (which
 * `go install pkg@version` refuses) and needs no Go newer than the machine's (go 1.25).
 */
export const STEP_CA_MODULE = 'github.com/smallstep/certificates/cmd/step-ca@v0.30.2';

/**
 * Path of a step-ca executable: `STEP_CA_BIN`, then PATH, then the tool cache; else built with
 * `go install` into `.tools/bin/step-ca` (a few minutes on 2 cores, with progress on stderr).
 *
 * The build runs with CGO_ENABLED=0, as smallstep's own release builds do: with cgo, the YubiKey
 * KMS needs the libpcsclite headers, which a plain machine lacks, and the provider needs no
 * hardware key support from a test CA. A caller that sets CGO_ENABLED itself is respected.
 */
export function ensureStepCa(): Promise<string> {
  return ensureGoTool({ binary: 'step-ca', envVar: 'STEP_CA_BIN', installTarget: STEP_CA_MODULE, acceptFromPath: true, buildEnv: { CGO_ENABLED: '0' } });
}

if (require.main === module) {
  ensureStepCa()
    .then((path) => process.stdout.write(`${path}\n`))
    .catch((err) => {
      process.stderr.write(`\n${err instanceof ToolUnavailable ? err.message : (err as Error).stack}\n`);
      process.exit(1);
    });
}
