/**
 * The self-hosted Temporal server of `npm run cluster`: PostgreSQL for persistence and visibility
 * (the `postgres12` plugin, over TLS), schemas set up and upgraded by temporal-sql-tool, and the
 * four services — history, matching, frontend, worker — as four processes, each with a config of
 * its own (`temporal/config/<service>.yaml`, started with `--env <service>`) that differs only in
 * its metrics port.
 *
 * TLS everywhere: the frontend's gRPC port requires a client certificate signed by the cluster CA
 * (Temporal's `requireClientAuth`); the services talk to each other with mutual TLS too
 * (internode), and Temporal's system worker presents the internode certificate to the frontend.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { stringify } from 'yaml';
import { DATABASES, postgresUrl, TEMPORAL_DB_USER } from './postgres';
import { TEMPORAL_SERVICES, type ClusterPorts, type TemporalService } from './layout';
import type { ClusterPki, IssuedFiles } from './pki';

const run = promisify(execFile);

/** History shards: fixed for the life of a cluster (Temporal cannot change it later). */
export const HISTORY_SHARDS = 16;

/**
 * Dynamic config: the same per-namespace limits the dev server lifts (temporal-dev.yml), so bursts
 * compare like for like; everything else at Temporal's defaults.
 */
export const DYNAMIC_CONFIG: Record<string, unknown> = {
  'frontend.namespaceRPS': 10000,
  'frontend.namespaceCount': 10000,
  'frontend.namespaceRPS.visibility': 1000,
  'limit.maxIDLength': 255,
};

export interface TemporalTls {
  frontend: IssuedFiles;
  internode: IssuedFiles;
}

export function writeTemporalConfigs(options: { dir: string; ports: ClusterPorts; pki: ClusterPki; tls: TemporalTls; dbPassword: string; logLevel: string }): string {
  const configDir = join(options.dir, 'config');
  mkdirSync(configDir, { recursive: true });
  const { ports, pki, tls } = options;
  const sql = (database: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName: database,
      connectAddr: `127.0.0.1:${ports.postgres}`,
      connectProtocol: 'tcp',
      user: TEMPORAL_DB_USER,
      password: options.dbPassword,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
      tls: { enabled: true, caFile: pki.caFile, enableHostVerification: true, serverName: '127.0.0.1' },
    },
  });
  const internodeClient = { serverName: 'localhost', rootCaFiles: [pki.caFile] };
  const rpc = (grpcPort: number, membershipPort: number, httpPort?: number) => ({
    rpc: { grpcPort, membershipPort, bindOnIP: '127.0.0.1', ...(httpPort ? { httpPort } : {}) },
  });
  writeFileSync(join(configDir, 'dynamicconfig.yaml'), stringify(Object.fromEntries(Object.entries(DYNAMIC_CONFIG).map(([key, value]) => [key, [{ value }]]))));
  for (const service of TEMPORAL_SERVICES) {
    const config = {
      log: { stdout: true, level: options.logLevel, format: 'json' },
      persistence: {
        defaultStore: 'postgres-default',
        visibilityStore: 'postgres-visibility',
        numHistoryShards: HISTORY_SHARDS,
        datastores: { 'postgres-default': sql(DATABASES.temporal, 20), 'postgres-visibility': sql(DATABASES.visibility, 4) },
      },
      global: {
        membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
        pprof: { port: 0 },
        metrics: { prometheus: { framework: 'tally', timerType: 'histogram', listenAddress: `127.0.0.1:${ports.metrics[service]}` } },
        tls: {
          internode: {
            server: { certFile: tls.internode.cert, keyFile: tls.internode.key, requireClientAuth: true, clientCaFiles: [pki.caFile] },
            client: internodeClient,
          },
          frontend: {
            server: { certFile: tls.frontend.cert, keyFile: tls.frontend.key, requireClientAuth: true, clientCaFiles: [pki.caFile] },
            client: internodeClient,
          },
          systemWorker: { certFile: tls.internode.cert, keyFile: tls.internode.key, client: internodeClient },
          expirationChecks: { warningWindow: '720h', errorWindow: '168h', checkInterval: '1h' },
          // Certificates are re-read from their files, so they can be renewed without a restart.
          refreshInterval: '1h',
        },
      },
      services: {
        frontend: rpc(ports.frontend, ports.membership.frontend, ports.frontendHttp),
        history: rpc(ports.history, ports.membership.history),
        matching: rpc(ports.matching, ports.membership.matching),
        worker: rpc(ports.temporalWorker, ports.membership.worker),
      },
      clusterMetadata: {
        enableGlobalNamespace: false,
        failoverVersionIncrement: 10,
        masterClusterName: 'active',
        currentClusterName: 'active',
        clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `localhost:${ports.frontend}` } },
      },
      dcRedirectionPolicy: { policy: 'noop' },
      archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
      namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
      dynamicConfigClient: { filepath: join(configDir, 'dynamicconfig.yaml'), pollInterval: '10s' },
    };
    writeFileSync(join(configDir, `${service}.yaml`), stringify(config), { mode: 0o600 }); // holds the database password
  }
  return configDir;
}

/** How to start one service: `temporal-server --root <dir> --config config --env <service> start --service <service>`. */
export function serviceCommand(server: string, dir: string, service: TemporalService): { command: string; args: string[] } {
  return { command: server, args: ['--root', dir, '--config', 'config', '--env', service, '--allow-no-auth', 'start', '--service', service] };
}

/**
 * Create the schema-version tables on first use, then upgrade both databases to the schema this
 * temporal-sql-tool carries (embedded in the tool: `postgresql/v12/temporal`, `.../visibility`).
 * Idempotent: an up-to-date database is left as it is.
 */
export async function setupSchemas(options: { sqlTool: string; port: number; password: string; caFile: string; log: (line: string) => void }): Promise<void> {
  for (const [database, schema] of [[DATABASES.temporal, 'postgresql/v12/temporal'], [DATABASES.visibility, 'postgresql/v12/visibility']] as const) {
    const common = [
      '--plugin', 'postgres12', '--endpoint', '127.0.0.1', '--port', String(options.port), '--user', TEMPORAL_DB_USER, '--database', database,
      '--tls', '--tls-ca-file', options.caFile, '--tls-server-name', '127.0.0.1',
    ];
    const env = { ...process.env, SQL_PASSWORD: options.password };
    const tool = async (args: string[]) => {
      try {
        const { stdout, stderr } = await run(options.sqlTool, [...common, ...args], { env, maxBuffer: 16 * 1024 * 1024 });
        return `${stdout}${stderr}`;
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; message: string };
        throw new Error(`temporal-sql-tool ${args[0]} (${database}) failed: ${(e.stderr || e.stdout || e.message).trim().split('\n').slice(-5).join('\n')}`);
      }
    };
    // A database set up before has its version table: then only the upgrade runs (setup-schema
    // would reset the recorded version to 0.0).
    const url = postgresUrl(TEMPORAL_DB_USER, options.password, options.port, database, options.caFile);
    const before = await schemaVersion(url);
    if (before === undefined) await tool(['setup-schema', '-v', '0.0']);
    await tool(['update-schema', '--schema-name', schema]);
    const after = await schemaVersion(url);
    options.log(`${database}: ${before === undefined ? `created at version ${after}` : before === after ? `version ${after}, current` : `upgraded from ${before} to ${after}`}`);
  }
}

/** The schema version temporal-sql-tool recorded, or undefined before set-up. */
async function schemaVersion(url: string): Promise<string | undefined> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ t: string | null }>("SELECT to_regclass('schema_version')::text AS t");
    if (rows[0]?.t == null) return undefined;
    const version = await client.query<{ v: string }>('SELECT curr_version AS v FROM schema_version LIMIT 1');
    return version.rows[0]?.v ?? '0.0';
  } finally {
    await client.end();
  }
}
