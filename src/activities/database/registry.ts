/**
 * The provider's database, by ESCROW_STORE (settings checked by src/config/requirements.ts):
 *
 *   sqlite    <DATA_DIR>/escrow.db: one host (the worker and the API may share the file)
 *   postgres  ESCROW_DATABASE_URL: several workers on several hosts
 *
 * Both are real databases, so the local twin is SQLite itself (and the PostgreSQL server the tests
 * and `npm run cluster` start, see src/tools/postgres.ts).
 */
import { join } from 'node:path';
import { defineRegistry, settingValue } from '../adapters';
import type { ProviderDatabase } from './database';
import { PostgresDatabase } from './postgres-database';
import { SqliteDatabase } from './sqlite-database';

export const SQLITE_DATABASE_FILE = 'escrow.db';

export const databaseRegistry = defineRegistry<ProviderDatabase>({
  system: 'database',
  setting: 'escrowStore',
  typeOf: (config) => config.escrowStore,
  adapters: {
    sqlite: ({ config, logger }) => SqliteDatabase.open({ file: join(config.dataDirAbsolute, SQLITE_DATABASE_FILE), logger }),
    postgres: ({ config, logger }) => PostgresDatabase.open({ connectionString: settingValue(config, 'escrowDatabaseUrl'), logger }),
  },
});
