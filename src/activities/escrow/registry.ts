/**
 * The escrow store (users' keys, encrypted), by ESCROW_STORE (settings checked by
 * src/config/requirements.ts):
 *
 *   sqlite    <DATA_DIR>/escrow.db: one host (the worker and the API may share the file)
 *   postgres  ESCROW_DATABASE_URL: several workers on several hosts
 *
 * Both are real databases, so the local twin is SQLite itself (and the PostgreSQL server the tests
 * start, see src/tools/postgres.ts).
 */
import { join } from 'node:path';
import { keyringFromSetting } from '../crypto/sealing';
import { defineRegistry, settingValue } from '../adapters';
import type { EscrowStore } from './escrow-store';
import { PostgresEscrowStore } from './postgres-store';
import { SqliteEscrowStore } from './sqlite-store';

export const ESCROW_SQLITE_FILE = 'escrow.db';

export const escrowRegistry = defineRegistry<EscrowStore>({
  system: 'escrow store',
  setting: 'escrowStore',
  typeOf: (config) => config.escrowStore,
  adapters: {
    sqlite: ({ config, logger }) =>
      SqliteEscrowStore.open({ file: join(config.dataDirAbsolute, ESCROW_SQLITE_FILE), keyring: keyringFromSetting(config.sealingKeys, 'SEALING_KEYS'), logger }),
    postgres: ({ config, logger }) =>
      PostgresEscrowStore.open({ connectionString: settingValue(config, 'escrowDatabaseUrl'), keyring: keyringFromSetting(config.sealingKeys, 'SEALING_KEYS'), logger }),
  },
});
