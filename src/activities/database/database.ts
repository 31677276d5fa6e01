/**
 * The provider's own database: the escrow of users' keys and the credential register live here.
 * SQLite (one file, one host) or PostgreSQL (several workers on several hosts), behind one small
 * interface so every table's logic is written once:
 *
 * - SQL uses `$1 … $n` placeholders in both dialects; timestamps are written and read as ISO 8601
 *   strings, binary columns as Buffers;
 * - `transaction(lockKey, work)` runs `work` in one transaction in which no other transaction on
 *   the same `lockKey` (namespaced by the caller: `smime-escrow-provider/…`) runs, across processes (SQLite: BEGIN IMMEDIATE, which serialises every
 *   writer; PostgreSQL: a transaction-scoped advisory lock on a hash of the key), and hands it the
 *   database's clock, so processes with skewed clocks agree on lease times;
 * - `migrate(component, migrations)` applies a component's schema migrations once, in order,
 *   under a lock, recording each (components: `escrow`, `register`, ...);
 * - failures that waiting can cure become the retryable `EscrowUnavailable`; credentials, missing
 *   databases and privileges the non-retryable `ConfigurationError`. No message carries the
 *   connection string.
 */
export type Dialect = 'sqlite' | 'postgres';

export interface SqlExecutor {
  all<R extends object>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  one<R extends object>(sql: string, params?: readonly unknown[]): Promise<R | undefined>;
  /** Run a statement; the number of rows it changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
}

export interface Transaction extends SqlExecutor {
  /** The database's clock at the start of the transaction (epoch ms). */
  readonly nowMs: number;
}

/** One schema step, as each dialect spells it (several statements allowed). */
export interface Migration {
  sqlite: string;
  postgres: string;
}

export interface ProviderDatabase extends SqlExecutor {
  readonly dialect: Dialect;
  /** For messages and logs: the file, or "PostgreSQL" (never the connection string). */
  readonly description: string;
  transaction<T>(lockKey: string | undefined, work: (tx: Transaction) => Promise<T>): Promise<T>;
  migrate(component: string, migrations: readonly Migration[]): Promise<void>;
  close(): Promise<void>;
}

/** Column types per dialect, so a table is described once. */
export const COLUMN_TYPES: Record<Dialect, { text: string; time: string; bytes: string; int: string; serial: string; strict: string }> = {
  sqlite: { text: 'TEXT', time: 'TEXT', bytes: 'BLOB', int: 'INTEGER', serial: 'INTEGER PRIMARY KEY AUTOINCREMENT', strict: ' STRICT' },
  postgres: { text: 'text', time: 'timestamptz', bytes: 'bytea', int: 'bigint', serial: 'bigserial PRIMARY KEY', strict: '' },
};

/**
 * A migration written once, with `{text}`, `{time}`, `{bytes}`, `{int}`, `{serial}`, `{strict}` for
 * the column types and `{name}` for any per-dialect `extra` fragment.
 */
export function portableMigration(template: string, extra: Record<string, Record<Dialect, string>> = {}): Migration {
  const render = (dialect: Dialect) =>
    template.replace(/\{([a-zA-Z]+)\}/g, (whole, name: string) => {
      if (name in extra) return extra[name]![dialect];
      const types = COLUMN_TYPES[dialect] as Record<string, string>;
      return name in types ? types[name]! : whole;
    });
  return { sqlite: render('sqlite'), postgres: render('postgres') };
}
