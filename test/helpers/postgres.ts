/**
 * A real PostgreSQL server for tests (src/tools/postgres.ts: the Debian packages' initdb/pg_ctl,
 * loopback only, a generated password), with a fresh database per caller so suites sharing one
 * server cannot see each other's rows. Whoever starts it calls stop().
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { Client } from 'pg';
import { startPostgres, type PostgresServer } from '../../src/tools/postgres';

export interface TestPostgres {
  server: PostgresServer;
  /** A new, empty database; returns its connection URL. */
  createDatabase(prefix?: string): Promise<string>;
  /** Run one statement on the database at `url`; returns the rows. */
  query<R = Record<string, unknown>>(url: string, text: string, params?: unknown[]): Promise<R[]>;
  stop(): Promise<void>;
}

export async function startTestPostgres(): Promise<TestPostgres> {
  const server = await startPostgres({ dir: tmpdir() });
  const query = async <R>(url: string, text: string, params: unknown[] = []): Promise<R[]> => {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(text, params)).rows as R[];
    } finally {
      await client.end();
    }
  };
  return {
    server,
    query,
    createDatabase: async (prefix = 'test') => {
      const name = `${prefix.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
      await query(server.url, `CREATE DATABASE "${name}"`);
      const url = new URL(server.url);
      url.pathname = `/${name}`;
      return url.toString();
    },
    stop: () => server.stop(),
  };
}
