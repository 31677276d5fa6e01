/**
 * The provider's database on PostgreSQL through `pg` (a connection pool), for several workers on
 * several hosts.
 *
 * Transactions that must not interleave take a transaction-scoped advisory lock on a hash of their
 * key before reading anything; under READ COMMITTED every later statement then sees what the
 * previous holder committed. The clock handed to a transaction is the database's, so workers with
 * skewed clocks agree on when a lease ends. Timestamps are read as ISO 8601 strings and 64-bit
 * integers as numbers (the provider's counters and sequence numbers stay far below 2^53).
 */
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { Pool, types, type PoolClient } from 'pg';
import { nonRetryable } from '../../domain/errors';
import type { Logger } from '../../logging';
import { ESCROW_ERRORS, escrowFailure } from '../escrow/escrow-store';
import type { Migration, ProviderDatabase, SqlExecutor, Transaction } from './database';

export interface PostgresDatabaseOptions {
  /** postgresql://user:password@host:port/database[?sslmode=...]. A secret: never logged. */
  connectionString: string;
  logger: Logger;
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /** How long to wait for a connection before `EscrowUnavailable`. Default 10 s. */
  connectTimeoutMs?: number;
}

const OID = { int8: 20, timestamp: 1114, timestamptz: 1184 } as const;

/** This pool's own type parsers (the pg module's global ones stay untouched). */
const TYPE_PARSERS = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === OID.timestamptz || oid === OID.timestamp) return (value: string) => new Date(oid === OID.timestamp ? `${value}Z` : value).toISOString();
    if (oid === OID.int8) return (value: string) => Number(value);
    return types.getTypeParser(oid, format as 'text');
  },
};

const NOW = 'SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS "nowMs"';
const LOCK_AND_NOW = 'SELECT pg_advisory_xact_lock($1::bigint), (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS "nowMs"';

export class PostgresDatabase implements ProviderDatabase {
  readonly dialect = 'postgres' as const;
  readonly description = 'PostgreSQL (ESCROW_DATABASE_URL)';
  readonly #pool: Pool;
  readonly #logger: Logger;
  #closed = false;

  static async open(options: PostgresDatabaseOptions): Promise<PostgresDatabase> {
    const database = new PostgresDatabase(options);
    try {
      await database.one('SELECT 1 AS ok');
    } catch (error) {
      await database.close();
      throw error;
    }
    return database;
  }

  private constructor(options: PostgresDatabaseOptions) {
    this.#logger = options.logger;
    this.#pool = new Pool({
      connectionString: options.connectionString,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      idleTimeoutMillis: 30_000,
      application_name: 'smime-escrow-provider',
      types: TYPE_PARSERS,
    });
    // An idle connection dropped by the server must not crash the process; the next query reconnects.
    this.#pool.on('error', (error) => this.#logger.warn({ error: error.message }, 'database: an idle connection failed'));
  }

  async all<R extends object>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    try {
      return (await this.#pool.query<R & object>(sql, [...params])).rows;
    } catch (error) {
      throw classify(error);
    }
  }

  async one<R extends object>(sql: string, params: readonly unknown[] = []): Promise<R | undefined> {
    return (await this.all<R>(sql, params))[0];
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    try {
      return (await this.#pool.query(sql, [...params])).rowCount ?? 0;
    } catch (error) {
      throw classify(error);
    }
  }

  async transaction<T>(lockKey: string | undefined, work: (tx: Transaction) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect().catch((error: unknown) => {
      throw classify(error);
    });
    let discard = false;
    // A checked-out connection that dies between two queries (a server restart, a failover) is
    // reported as an 'error' event on the client, which would end the process unheard: the
    // transaction fails with the next query instead, and the connection is not reused.
    const onConnectionError = (error: Error) => {
      discard = true;
      this.#logger.warn({ error: error.message }, 'database: a connection in use failed');
    };
    client.on('error', onConnectionError);
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ nowMs: number }>(lockKey ? LOCK_AND_NOW : NOW, lockKey ? [advisoryLockId(lockKey)] : []);
      const result = await work({ ...executorOn(client), nowMs: rows[0]!.nowMs });
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        discard = true; // the connection is broken: do not hand it to the next caller
      });
      throw classify(error);
    } finally {
      client.off('error', onConnectionError);
      client.release(discard);
    }
  }

  async migrate(component: string, migrations: readonly Migration[]): Promise<void> {
    await this.transaction(SCHEMA_LOCK, async (tx) => {
      await tx.run('CREATE TABLE IF NOT EXISTS schema_migrations (component text NOT NULL, version integer NOT NULL, applied_at timestamptz NOT NULL, PRIMARY KEY (component, version))');
      await adoptLegacyEscrowVersions(tx, component);
      const row = await tx.one<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations WHERE component = $1', [component]);
      const applied = row?.version ?? 0;
      if (applied > migrations.length) {
        throw nonRetryable('ConfigurationError', `database: the ${component} schema is at version ${applied}, newer than this build knows (${migrations.length}); run a newer build`);
      }
      for (let version = applied; version < migrations.length; version++) {
        await tx.run(migrations[version]!.postgres);
        await tx.run('INSERT INTO schema_migrations (component, version, applied_at) VALUES ($1, $2, $3)', [component, version + 1, new Date(tx.nowMs).toISOString()]);
      }
      if (applied < migrations.length) this.#logger.info({ component, from: applied, to: migrations.length }, 'database schema migrated');
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}

function executorOn(client: PoolClient): SqlExecutor {
  return {
    all: async <R extends object>(sql: string, params: readonly unknown[] = []) => (await client.query<R & object>(sql, [...params])).rows,
    one: async <R extends object>(sql: string, params: readonly unknown[] = []): Promise<R | undefined> => (await client.query<R & object>(sql, [...params])).rows[0],
    run: async (sql: string, params: readonly unknown[] = []) => (await client.query(sql, [...params])).rowCount ?? 0,
  };
}

/** Databases made before schema_migrations kept the escrow schema's versions in escrow_schema_migrations. */
async function adoptLegacyEscrowVersions(tx: Transaction, component: string): Promise<void> {
  if (component !== 'escrow') return;
  const legacy = await tx.one<{ name: string | null }>("SELECT to_regclass('escrow_schema_migrations')::text AS name");
  if (!legacy?.name) return;
  await tx.run(
    "INSERT INTO schema_migrations (component, version, applied_at) SELECT 'escrow', version, applied_at FROM escrow_schema_migrations ON CONFLICT DO NOTHING",
  );
}

/**
 * A 64-bit advisory lock id from a key: a SHA-256 prefix. Callers namespace their keys
 * (`smime-escrow-provider/…`), which also keeps the ids of earlier releases, so old and new workers
 * lock alike during a rolling upgrade.
 */
function advisoryLockId(key: string): string {
  return createHash('sha256').update(key).digest().readBigInt64BE(0).toString();
}

/** The lock schema migrations take (the id earlier releases took for the escrow schema). */
const SCHEMA_LOCK = 'smime-escrow-provider/escrow-schema';

/** SQLSTATE classes and codes that waiting can cure. */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0[1-4]|40001|40P01|55P03)/;
/** SQLSTATEs an administrator must fix: authentication, missing database, missing privilege. */
const CONFIGURATION_SQLSTATE = /^(28|3D000|42501)/;
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);

/** Typed failures for the database's errors; our own (already typed) pass through. */
function classify(error: unknown): unknown {
  if (error instanceof ApplicationFailure) return error;
  const code = (error as { code?: unknown })?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string' && CONFIGURATION_SQLSTATE.test(code)) {
    return nonRetryable('ConfigurationError', `database (ESCROW_DATABASE_URL) refused us: ${message} [SQLSTATE ${code}]`);
  }
  if (
    (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_ERRNO.has(code))) ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message)
  ) {
    return escrowFailure(ESCROW_ERRORS.Unavailable, `database unavailable: ${message}${typeof code === 'string' ? ` [${code}]` : ''}`);
  }
  return error;
}
