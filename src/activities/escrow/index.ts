export * from './escrow-store';
export { escrowRegistry, ESCROW_SQLITE_FILE } from './registry';
export { SqliteEscrowStore, type SqliteEscrowStoreOptions } from './sqlite-store';
export { PostgresEscrowStore, type PostgresEscrowStoreOptions } from './postgres-store';
