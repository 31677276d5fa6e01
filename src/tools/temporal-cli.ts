import { ensureGoTool } from './go-tool';

/**
 * The Temporal CLI (dev server with Web UI). v1.5.1 is the newest tag `go install` accepts:
 * later tags carry a `replace` directive in go.mod, which `go install pkg@version` refuses.
 */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

export function ensureTemporalCli(): Promise<string> {
  return ensureGoTool({ binary: 'temporal', envVar: 'TEMPORAL_CLI', installTarget: TEMPORAL_CLI_MODULE, acceptFromPath: true });
}
