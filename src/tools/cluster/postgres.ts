/**
 * The cluster's PostgreSQL: a private cluster in `DATA_DIR/cluster/postgres/data`, made with the
 * machine's own initdb (Debian: /usr/lib/postgresql/<version>/bin) the first time and reused after
 * that. It runs in the foreground under the stack (so its output is prefixed like the rest), as
 * the `postgres` account when we are root (initdb and the server refuse root; src/tools/postgres.ts
 * picks the account), listening on 127.0.0.1 only, with TLS required for every TCP connection
 * (a certificate from the cluster CA) and scram-sha-256 passwords.
 *
 * Three databases: `temporal` and `temporal_visibility` (owner `temporal`, schemas by
 * temporal-sql-tool) and `escrow` (owner `escrow`, the provider's escrow and register).
 */
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { assertReachable, findPostgresBinaries, runAs, serverAccount, writeSettings, type Account } from '../postgres';
import type { ClusterPki } from './pki';
import type { ClusterSecrets } from './secrets';

export const POSTGRES_SUPERUSER = 'postgres';
export const TEMPORAL_DB_USER = 'temporal';
export const ESCROW_DB_USER = 'escrow';
export const DATABASES = { temporal: 'temporal', visibility: 'temporal_visibility', escrow: 'escrow' } as const;

export interface PreparedPostgres {
  command: string;
  args: string[];
  uid?: number;
  gid?: number;
  dataDir: string;
  /** True when initdb ran now (a new cluster). */
  created: boolean;
}

/** initdb on first use, then (every start) TLS files, pg_hba.conf and settings. Returns how to run the server. */
export async function preparePostgres(options: { dir: string; port: number; pki: ClusterPki; serverCert: { cert: string; key: string }; secrets: ClusterSecrets; settings?: Record<string, string> }): Promise<PreparedPostgres> {
  const bin = findPostgresBinaries();
  const account = serverAccount();
  const dataDir = join(options.dir, 'data');
  const socketDir = join(options.dir, 'socket');
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  if (account) {
    assertReachable(options.dir, account);
    chownSync(options.dir, account.uid, account.gid);
  }
  const created = !existsSync(join(dataDir, 'PG_VERSION'));
  if (created) {
    const passwordFile = join(options.dir, 'superuser-password');
    writeFileSync(passwordFile, `${options.secrets.postgresPassword}\n`, { mode: 0o600 });
    own(passwordFile, account);
    try {
      await runAs(account, bin.initdb, ['--pgdata', dataDir, '--username', POSTGRES_SUPERUSER, `--pwfile=${passwordFile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--locale=C'], options.dir);
    } finally {
      writeFileSync(passwordFile, '');
    }
  }
  mkdirSync(socketDir, { recursive: true, mode: 0o700 });
  own(socketDir, account);
  // The server reads its key only if it is private to the server's account.
  for (const [from, to] of [[options.serverCert.cert, 'server.crt'], [options.serverCert.key, 'server.key']] as const) {
    copyFileSync(from, join(dataDir, to));
    own(join(dataDir, to), account, 0o600);
  }
  writeFileSync(
    join(dataDir, 'pg_hba.conf'),
    [
      '# written by npm run cluster: passwords only, and only over TLS on TCP',
      'local   all  all                 scram-sha-256',
      'hostssl all  all  127.0.0.1/32   scram-sha-256',
      'hostssl all  all  ::1/128        scram-sha-256',
      '',
    ].join('\n'),
  );
  own(join(dataDir, 'pg_hba.conf'), account, 0o600);
  writeSettings(dataDir, {
    listen_addresses: '127.0.0.1',
    port: String(options.port),
    unix_socket_directories: socketDir,
    ssl: 'on',
    ssl_cert_file: 'server.crt',
    ssl_key_file: 'server.key',
    ssl_min_protocol_version: 'TLSv1.2',
    password_encryption: 'scram-sha-256',
    // Four Temporal services (up to 20 + 2 connections each), two escrow pools, tools.
    max_connections: '200',
    log_destination: 'stderr',
    logging_collector: 'off',
    log_line_prefix: '%m [%p] %q%u@%d ',
    ...options.settings,
  });
  return {
    command: join(bin.binDir, 'postgres'),
    args: ['-D', dataDir],
    ...(account ? { uid: account.uid, gid: account.gid } : {}),
    dataDir,
    created,
  };
}

/** A connection URL for node-postgres that verifies the server against the cluster CA. */
export function postgresUrl(user: string, password: string, port: number, database: string, caFile: string): string {
  return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}?sslmode=verify-full&sslrootcert=${encodeURIComponent(caFile)}`;
}

/** Wait until the server accepts a TLS login as the superuser. */
export async function waitForPostgres(options: { port: number; password: string; caFile: string; timeoutMs: number; exited?: Promise<string> }): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let gone: string | undefined;
  void options.exited?.then((how) => (gone = how));
  for (;;) {
    try {
      const client = await superuserClient(options.port, options.password, options.caFile);
      await client.end();
      return;
    } catch (err) {
      if (gone) throw new Error(`PostgreSQL exited (${gone}) while starting`);
      if (Date.now() > deadline) throw new Error(`PostgreSQL did not accept connections in ${options.timeoutMs / 1000}s: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Roles and databases, created when missing; passwords set to the cluster's secrets every start. */
export async function ensureDatabases(options: { port: number; caFile: string; secrets: ClusterSecrets }): Promise<void> {
  const client = await superuserClient(options.port, options.secrets.postgresPassword, options.caFile);
  try {
    const roles: [string, string][] = [
      [TEMPORAL_DB_USER, options.secrets.temporalDbPassword],
      [ESCROW_DB_USER, options.secrets.escrowDbPassword],
    ];
    for (const [role, password] of roles) {
      const exists = (await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount;
      const literal = (await client.query('SELECT quote_literal($1) AS q', [password])).rows[0].q as string;
      await client.query(`${exists ? 'ALTER' : 'CREATE'} ROLE ${role} LOGIN PASSWORD ${literal}`);
    }
    for (const [database, owner] of [[DATABASES.temporal, TEMPORAL_DB_USER], [DATABASES.visibility, TEMPORAL_DB_USER], [DATABASES.escrow, ESCROW_DB_USER]] as const) {
      const exists = (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])).rowCount;
      if (!exists) await client.query(`CREATE DATABASE ${database} OWNER ${owner} ENCODING 'UTF8'`);
    }
  } finally {
    await client.end();
  }
}

async function superuserClient(port: number, password: string, caFile: string): Promise<Client> {
  const client = new Client({ connectionString: postgresUrl(POSTGRES_SUPERUSER, password, port, 'postgres', caFile), connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined); // a server going away mid-session is reported by the query
  await client.connect();
  return client;
}

function own(path: string, account: Account | undefined, mode?: number): void {
  if (account) chownSync(path, account.uid, account.gid);
  if (mode !== undefined) chmodSync(path, mode);
}
