import { join } from 'node:path';
import { nonRetryable } from '../../domain/errors';
import type { Logger } from '../../logging';
import type { Keyring } from '../crypto/sealing';
import type { EscrowStore } from './escrow-store';
import { PostgresEscrowStore } from './postgres-store';
import { SqliteEscrowStore } from './sqlite-store';

export * from './escrow-store';
export { SqliteEscrowStore, type SqliteEscrowStoreOptions } from './sqlite-store';
export { PostgresEscrowStore, type PostgresEscrowStoreOptions } from './postgres-store';

/** The settings the escrow needs (a subset of the loaded `Config`). */
export interface EscrowStoreConfig {
  /** ESCROW_STORE: sqlite (embedded, `<DATA_DIR>/escrow.db`) or postgres. */
  escrowStore: 'sqlite' | 'postgres';
  /** ESCROW_DATABASE_URL, required for postgres. */
  escrowDatabaseUrl?: string;
  dataDirAbsolute: string;
}

export const ESCROW_SQLITE_FILE = 'escrow.db';

/**
 * The escrow store the configuration asks for, opened and migrated. `keyring` is the sealing
 * keyring (SEALING_KEYS): its current key wraps new data keys, every key in it unwraps.
 */
export async function createEscrowStore(config: EscrowStoreConfig, keyring: Keyring, logger: Logger): Promise<EscrowStore> {
  switch (config.escrowStore) {
    case 'sqlite':
      return SqliteEscrowStore.open({ file: join(config.dataDirAbsolute, ESCROW_SQLITE_FILE), keyring, logger });
    case 'postgres':
      if (!config.escrowDatabaseUrl) throw nonRetryable('ConfigurationError', 'ESCROW_DATABASE_URL: required when ESCROW_STORE=postgres');
      return PostgresEscrowStore.open({ connectionString: config.escrowDatabaseUrl, keyring, logger });
    default:
      throw nonRetryable('ConfigurationError', `ESCROW_STORE: "${String((config as { escrowStore: unknown }).escrowStore)}" is not sqlite or postgres`);
  }
}
