import type { Keyring } from '../crypto/sealing';
import { PostgresDatabase, type PostgresDatabaseOptions } from '../database/postgres-database';
import { SqliteDatabase, type SqliteDatabaseOptions } from '../database/sqlite-database';
import { SqlEscrowStore } from './sql-escrow-store';

export * from './escrow-store';
export { SqlEscrowStore, type SqlEscrowStoreOptions } from './sql-escrow-store';

interface OwnDatabase {
  keyring: Keyring;
  /** Upper bound of `retryAfterMs` in a 'wait' answer. Default 5 s. */
  waitPollMs?: number;
}

/** An escrow on its own SQLite file (tools and tests; the worker shares one database between escrow and register). */
export const SqliteEscrowStore = {
  async open(options: SqliteDatabaseOptions & OwnDatabase): Promise<SqlEscrowStore> {
    return SqlEscrowStore.open(await SqliteDatabase.open(options), { ...options, ownsDatabase: true });
  },
};

/** An escrow on its own PostgreSQL pool (tools and tests). */
export const PostgresEscrowStore = {
  async open(options: PostgresDatabaseOptions & OwnDatabase): Promise<SqlEscrowStore> {
    return SqlEscrowStore.open(await PostgresDatabase.open(options), { ...options, ownsDatabase: true });
  },
};
