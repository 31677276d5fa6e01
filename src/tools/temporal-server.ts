import { ensureGoTool } from './go-tool';

/**
 * The self-hosted Temporal pieces `npm run cluster` runs, built from the Go module proxy into
 * `.tools/bin` on first use (about 5–6 minutes cold on 2 cores, with progress):
 *
 *   temporal-server     frontend, history, matching and worker services (v1.29.1, the server the
 *                       CLI's dev server embeds, so histories move between them unchanged)
 *   temporal-sql-tool   creates and upgrades the PostgreSQL schemas of that same release
 *   temporal-ui-server  the Web UI, v2.55.0
 *
 * Both the server and the UI server build as `server`: each gets its own name in the cache.
 * TEMPORAL_SERVER_BIN, TEMPORAL_SQL_TOOL and TEMPORAL_UI_SERVER_BIN point at existing builds.
 */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
export const TEMPORAL_SERVER_MODULE = `go.temporal.io/server/cmd/server@${TEMPORAL_SERVER_VERSION}`;
export const TEMPORAL_SQL_TOOL_MODULE = `go.temporal.io/server/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`;
export const TEMPORAL_UI_SERVER_MODULE = 'github.com/temporalio/ui-server/v2/cmd/server@v2.55.0';

export function ensureTemporalServer(): Promise<string> {
  return ensureGoTool({ binary: 'temporal-server', goBinary: 'server', envVar: 'TEMPORAL_SERVER_BIN', installTarget: TEMPORAL_SERVER_MODULE, acceptFromPath: false });
}

export function ensureTemporalSqlTool(): Promise<string> {
  return ensureGoTool({ binary: 'temporal-sql-tool', goBinary: 'sql', envVar: 'TEMPORAL_SQL_TOOL', installTarget: TEMPORAL_SQL_TOOL_MODULE, acceptFromPath: false });
}

export function ensureTemporalUiServer(): Promise<string> {
  return ensureGoTool({ binary: 'temporal-ui-server', goBinary: 'server', envVar: 'TEMPORAL_UI_SERVER_BIN', installTarget: TEMPORAL_UI_SERVER_MODULE, acceptFromPath: false });
}
