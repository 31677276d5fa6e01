/**
 * A throw-away PostgreSQL server from the machine's own packages (Debian: `apt-get install -y
 * postgresql`), for tests and the dev stack: `initdb` into a fresh folder, a generated superuser
 * password (scram-sha-256, also on the unix socket), listening on 127.0.0.1 only, on a free port,
 * with its unix socket inside the folder; `stop()` shuts it down (fast mode) and removes the folder.
 *
 * initdb and the server refuse to run as root. When this process is root, both run as the
 * `postgres` account the Debian package creates (falling back to `nobody`), by spawning with that
 * uid/gid, and the folder is handed to that account; the parent folder must be reachable by it.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, appendFileSync, chownSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';

export interface StartPostgresOptions {
  /** Parent folder; the server's own folder (`postgres-XXXXXX`) is created inside it and removed by stop(). */
  dir: string;
  /** Extra server settings (postgresql.conf names), e.g. `{ fsync: 'off' }`. */
  settings?: Record<string, string>;
  /** How long pg_ctl waits for the server to accept connections. Default 60 s. */
  startTimeoutSeconds?: number;
}

export interface PostgresServer {
  /** postgresql://postgres:<password>@127.0.0.1:<port>/postgres */
  url: string;
  host: string;
  port: number;
  user: string;
  password: string;
  /** The cluster's data folder (for tests that inspect what is on disk). */
  dataDir: string;
  /** The folder created for this server (data, socket, log); removed by stop(). */
  folder: string;
  /** What the server has logged so far. */
  log(): string;
  stop(): Promise<void>;
}

export interface PostgresBinaries {
  binDir: string;
  initdb: string;
  pgCtl: string;
}

/** PostgreSQL's server programs are not installed (or not where we look). */
export class PostgresUnavailable extends Error {
  override name = 'PostgresUnavailable';
}

const SUPERUSER = 'postgres';
const HOST = '127.0.0.1';

/**
 * initdb and pg_ctl: `PG_BIN_DIR`, else the newest `/usr/lib/postgresql/<version>/bin` (where
 * Debian puts them, off PATH), else PATH.
 */
export function findPostgresBinaries(where: { env?: NodeJS.ProcessEnv; debianRoot?: string } = {}): PostgresBinaries {
  const env = where.env ?? process.env;
  const debianRoot = where.debianRoot ?? '/usr/lib/postgresql';
  const candidates: string[] = [];
  if (env.PG_BIN_DIR) candidates.push(env.PG_BIN_DIR);
  if (existsSync(debianRoot)) {
    const versions = readdirSync(debianRoot)
      .filter((name) => /^\d+(\.\d+)?$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => join(debianRoot, v, 'bin')));
  }
  candidates.push(...(env.PATH ?? '').split(delimiter).filter((p) => p.length > 0));
  for (const binDir of candidates) {
    const initdb = join(binDir, 'initdb');
    const pgCtl = join(binDir, 'pg_ctl');
    if (isExecutable(initdb) && isExecutable(pgCtl)) return { binDir: resolve(binDir), initdb, pgCtl };
  }
  throw new PostgresUnavailable(
    'PostgreSQL server programs (initdb, pg_ctl) were not found in PG_BIN_DIR, /usr/lib/postgresql/<version>/bin or PATH. ' +
      'Install them (Debian/Ubuntu: apt-get install -y postgresql) or set PG_BIN_DIR to the folder holding initdb and pg_ctl.',
  );
}

export async function startPostgres(options: StartPostgresOptions): Promise<PostgresServer> {
  const bin = findPostgresBinaries();
  const account = serverAccount();
  const folder = mkdtempSync(join(resolve(options.dir), 'postgres-'));
  const dataDir = join(folder, 'data');
  const socketDir = join(folder, 'socket');
  const logFile = join(folder, 'server.log');
  const password = randomBytes(24).toString('base64url');
  const run = (program: string, args: string[]) => runAs(account, program, args, folder);
  let started = false;
  try {
    if (account) {
      assertReachable(folder, account);
      chownSync(folder, account.uid, account.gid);
    }
    const passwordFile = join(folder, 'superuser-password');
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    if (account) chownSync(passwordFile, account.uid, account.gid);
    await run(bin.initdb, [
      '--pgdata', dataDir,
      '--username', SUPERUSER,
      `--pwfile=${passwordFile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync', // a throw-away cluster: no need to wait for the disk
    ]);
    rmSync(passwordFile);
    mkdirSync(socketDir, { mode: 0o700 });
    if (account) chownSync(socketDir, account.uid, account.gid);

    // A port picked now can be taken before the server binds it: try a few.
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      writeSettings(dataDir, { listen_addresses: HOST, port: String(port), unix_socket_directories: socketDir, max_connections: '50', ...options.settings });
      try {
        await run(bin.pgCtl, ['--pgdata', dataDir, '--log', logFile, '--wait', '--timeout', String(options.startTimeoutSeconds ?? 60), 'start']);
        started = true;
        break;
      } catch (error) {
        const log = readLog(logFile);
        if (attempt < 3 && /could not bind|Address already in use/i.test(log)) continue;
        throw new Error(`PostgreSQL did not start: ${(error as Error).message}\n--- server log ---\n${tail(log)}`);
      }
    }
    let stopped = false;
    return {
      url: `postgresql://${SUPERUSER}:${encodeURIComponent(password)}@${HOST}:${port}/postgres`,
      host: HOST,
      port,
      user: SUPERUSER,
      password,
      dataDir,
      folder,
      log: () => readLog(logFile),
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await stopServer(run, bin, dataDir);
        rmSync(folder, { recursive: true, force: true });
      },
    };
  } catch (error) {
    if (started) await stopServer(run, bin, dataDir);
    rmSync(folder, { recursive: true, force: true });
    throw error;
  }
}

async function stopServer(run: (program: string, args: string[]) => Promise<string>, bin: PostgresBinaries, dataDir: string): Promise<void> {
  try {
    await run(bin.pgCtl, ['--pgdata', dataDir, '--mode', 'fast', '--wait', '--timeout', '30', 'stop']);
  } catch {
    // pg_ctl could not stop it (or it was gone): make sure no server outlives its folder.
    const pid = postmasterPid(dataDir);
    if (pid) {
      try {
        process.kill(pid, 'SIGQUIT'); // PostgreSQL's immediate shutdown
      } catch {
        // already gone
      }
    }
  }
}

export interface Account {
  name: string;
  uid: number;
  gid: number;
}

/** The account the server runs as when we are root (initdb refuses root); undefined otherwise. */
export function serverAccount(): Account | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    try {
      const entry = execFileSync('getent', ['passwd', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      const [, , uid, gid] = entry.split(':');
      if (uid && gid && Number(uid) !== 0) return { name, uid: Number(uid), gid: Number(gid) };
    } catch {
      // no such account; try the next
    }
  }
  throw new PostgresUnavailable('running as root, and neither a "postgres" nor a "nobody" account exists to run PostgreSQL as (initdb refuses root)');
}

/** Every folder above `folder` must let the server's account through, or initdb fails obscurely. */
export function assertReachable(folder: string, account: Account): void {
  for (let current = dirname(folder); ; current = dirname(current)) {
    const { mode, uid, gid } = statSync(current);
    const searchable = (mode & 0o001) !== 0 || (uid === account.uid && (mode & 0o100) !== 0) || (gid === account.gid && (mode & 0o010) !== 0);
    if (!searchable) {
      throw new Error(`PostgreSQL runs as "${account.name}" here (this process is root), but ${current} does not let that account through; pass a dir it can reach (e.g. os.tmpdir())`);
    }
    if (current === dirname(current)) return;
  }
}

export function runAs(account: Account | undefined, program: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      program,
      args,
      {
        cwd, // the account may not be allowed into our working directory, which initdb stats
        env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
        ...(account ? { uid: account.uid, gid: account.gid } : {}),
        timeout: 120_000,
        maxBuffer: 4 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${program.split('/').pop()} failed: ${String(stderr || error.message).trim()}`));
        else resolvePromise(stdout);
      },
    );
  });
}

export function writeSettings(dataDir: string, settings: Record<string, string>): void {
  // postgresql.auto.conf is read last, so these win over postgresql.conf; rewrite it whole on retries.
  const file = join(dataDir, 'postgresql.auto.conf');
  const lines = Object.entries(settings).map(([name, value]) => {
    if (!/^[a-z_.]+$/.test(name)) throw new Error(`not a PostgreSQL setting name: ${name}`);
    return `${name} = '${value.replace(/'/g, "''")}'`;
  });
  const header = readFileSync(file, 'utf8').split('\n').filter((line) => line.startsWith('#')).join('\n');
  writeFileSync(file, `${header}\n`);
  appendFileSync(file, `${lines.join('\n')}\n`);
}

function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePromise(port));
    });
  });
}

function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function tail(text: string, lines = 30): string {
  return text.split('\n').slice(-lines).join('\n');
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

if (require.main === module) {
  // `tsx src/tools/postgres.ts [dir]`: a server for trying things by hand; Ctrl-C stops and removes it.
  startPostgres({ dir: process.argv[2] ?? tmpdir() })
    .then((server) => {
      process.stdout.write(`${server.url}\n`);
      const stop = () => void server.stop().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    })
    .catch((error: Error) => {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    });
}
