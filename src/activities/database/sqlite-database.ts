/**
 * The provider's database in one SQLite file (`<DATA_DIR>/escrow.db`, mode 0600, folder 0700)
 * through better-sqlite3.
 *
 * Several processes may share the file (the worker and the API on one host): WAL lets readers run
 * beside a writer, every transaction is `BEGIN IMMEDIATE` (the write lock is taken before anything
 * is read, so two processes cannot decide from the same state), and a busy timeout makes a second
 * writer wait instead of failing. Escrowed keys are the only copy of a user's decryption key, so
 * every commit reaches the disk (synchronous=FULL).
 *
 * better-sqlite3 is synchronous: an in-process queue per file runs one transaction (or statement)
 * at a time, so the asynchronous work inside a transaction never interleaves with another caller's
 * statements, and a second connection to the same file in the same process waits in the queue
 * instead of blocking the event loop on the file lock its own process holds. Work inside a
 * transaction is database work only (no I/O of its own), so a transaction never holds the lock for
 * long.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { nonRetryable } from '../../domain/errors';
import type { Logger } from '../../logging';
import { ESCROW_ERRORS, escrowFailure } from '../escrow/escrow-store';
import type { Migration, ProviderDatabase, SqlExecutor, Transaction } from './database';

export interface SqliteDatabaseOptions {
  /** Created (mode 0600, folder 0700) if missing. */
  file: string;
  logger: Logger;
  /** How long a writer waits for another process's write lock before `EscrowUnavailable`. Default 5 s. */
  busyTimeoutMs?: number;
}

/** Per file: the tail of the in-process queue (each operation starts when the one before it has ended). */
const queues = new Map<string, Promise<unknown>>();

export class SqliteDatabase implements ProviderDatabase {
  readonly dialect = 'sqlite' as const;
  readonly description: string;
  readonly #db: Database.Database;
  readonly #logger: Logger;
  readonly #statements = new Map<string, Database.Statement>();

  static async open(options: SqliteDatabaseOptions): Promise<SqliteDatabase> {
    return new SqliteDatabase(options);
  }

  private constructor(options: SqliteDatabaseOptions) {
    this.description = resolve(options.file);
    this.#logger = options.logger;
    mkdirSync(dirname(options.file), { recursive: true, mode: 0o700 });
    // Create the file ourselves so it starts at 0600; SQLite gives -wal and -shm the same mode.
    closeSync(openSync(options.file, 'a', 0o600));
    this.#db = this.#guard(() => new Database(options.file, { timeout: options.busyTimeoutMs ?? 5_000 }));
    try {
      this.#guard(() => {
        this.#db.pragma('journal_mode = WAL');
        this.#db.pragma('synchronous = FULL');
        this.#db.pragma('foreign_keys = ON');
      });
    } catch (error) {
      this.#db.close();
      throw error;
    }
  }

  all<R extends object>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.#serially(() => this.#all<R>(sql, params));
  }

  async one<R extends object>(sql: string, params: readonly unknown[] = []): Promise<R | undefined> {
    return (await this.all<R>(sql, params))[0];
  }

  run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return this.#serially(() => this.#run(sql, params));
  }

  transaction<T>(_lockKey: string | undefined, work: (tx: Transaction) => Promise<T>): Promise<T> {
    // BEGIN IMMEDIATE serialises every writer of the file, whatever the key.
    return this.#serially(async () => {
      this.#guard(() => this.#db.exec('BEGIN IMMEDIATE'));
      const executor: SqlExecutor = {
        all: async <R extends object>(sql: string, params: readonly unknown[] = []) => this.#all<R>(sql, params),
        one: async <R extends object>(sql: string, params: readonly unknown[] = []): Promise<R | undefined> => this.#all<R>(sql, params)[0],
        run: async (sql: string, params: readonly unknown[] = []) => this.#run(sql, params),
      };
      try {
        const result = await work({ ...executor, nowMs: Date.now() });
        this.#guard(() => this.#db.exec('COMMIT'));
        return result;
      } catch (error) {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
        throw error;
      }
    });
  }

  async migrate(component: string, migrations: readonly Migration[]): Promise<void> {
    await this.transaction(undefined, async (tx) => {
      await tx.run('CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL, version INTEGER NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (component, version)) STRICT');
      await this.#adoptLegacyEscrowVersion(tx, component);
      const row = await tx.one<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations WHERE component = $1', [component]);
      const applied = row?.version ?? 0;
      if (applied > migrations.length) {
        throw nonRetryable('ConfigurationError', `database ${this.description}: the ${component} schema is at version ${applied}, newer than this build knows (${migrations.length}); run a newer build`);
      }
      for (let version = applied; version < migrations.length; version++) {
        this.#db.exec(migrations[version]!.sqlite);
        await tx.run('INSERT INTO schema_migrations (component, version, applied_at) VALUES ($1, $2, $3)', [component, version + 1, new Date(tx.nowMs).toISOString()]);
      }
      if (applied < migrations.length) this.#logger.info({ file: this.description, component, from: applied, to: migrations.length }, 'database schema migrated');
    });
  }

  async close(): Promise<void> {
    await this.#serially(() => {
      if (this.#db.open) this.#db.close();
    });
  }

  /** Files made before schema_migrations recorded the escrow schema's version in PRAGMA user_version. */
  async #adoptLegacyEscrowVersion(tx: Transaction, component: string): Promise<void> {
    if (component !== 'escrow') return;
    const legacy = this.#db.pragma('user_version', { simple: true }) as number;
    if (legacy === 0 || (await tx.one('SELECT 1 AS found FROM schema_migrations WHERE component = $1', [component]))) return;
    for (let version = 1; version <= legacy; version++) {
      await tx.run('INSERT INTO schema_migrations (component, version, applied_at) VALUES ($1, $2, $3)', [component, version, new Date(tx.nowMs).toISOString()]);
    }
  }

  #serially<T>(operation: () => T | Promise<T>): Promise<T> {
    const tail = queues.get(this.description) ?? Promise.resolve();
    const result = tail.then(operation, operation);
    queues.set(this.description, result.catch(() => undefined));
    return result;
  }

  #all<R>(sql: string, params: readonly unknown[]): R[] {
    return this.#guard(() => this.#statement(sql).all(bind(params)) as R[]);
  }

  #run(sql: string, params: readonly unknown[]): number {
    return this.#guard(() => this.#statement(sql).run(bind(params)).changes);
  }

  #statement(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      // $1 … $n (both dialects' spelling) is ?1 … ?n to SQLite.
      statement = this.#db.prepare(sql.replace(/\$(\d+)/g, '?$1'));
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** SQLite failures that waiting can cure become `EscrowUnavailable` (retryable); the rest stay as they are. */
  #guard<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (error instanceof Database.SqliteError && typeof code === 'string' && /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN)/.test(code)) {
        throw escrowFailure(ESCROW_ERRORS.Unavailable, `database ${this.description}: ${code} (${error.message})`);
      }
      throw error;
    }
  }
}

/** Values as SQLite binds them: by number (?1 … ?n, each usable more than once), booleans as 0/1, absent as NULL. */
function bind(params: readonly unknown[]): Record<number, unknown> {
  return Object.fromEntries(
    params.map((value, index) => [index + 1, value === undefined ? null : typeof value === 'boolean' ? Number(value) : value instanceof Date ? value.toISOString() : value]),
  );
}
