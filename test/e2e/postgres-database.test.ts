/**
 * The PostgreSQL database when the server goes away under a transaction (a restart, a failover):
 * the connection dies between two of the transaction's queries, which pg reports as an 'error'
 * event on the client. The transaction fails, the process lives on, and the next transaction runs
 * on a fresh connection. Real PostgreSQL; the backend is ended with pg_terminate_backend, as a
 * fast shutdown ends every backend.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { PostgresDatabase } from '../../src/activities/database/postgres-database';
import { createLogger } from '../../src/logging';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres';

describe('PostgreSQL database: a connection lost inside a transaction', function () {
  this.timeout(120_000);
  let postgres: TestPostgres;
  let url: string;
  let db: PostgresDatabase;

  before(async () => {
    postgres = await startTestPostgres();
    url = await postgres.createDatabase('lost_connection');
    db = await PostgresDatabase.open({ connectionString: url, logger: createLogger({ level: 'silent' }) });
  });
  after(async () => {
    await db?.close();
    await postgres?.stop();
  });

  it('fails that transaction, does not end the process, and the next one runs', async () => {
    const outcome = db.transaction(undefined, async (tx) => {
      const [row] = await tx.all<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await postgres.query(url, 'SELECT pg_terminate_backend($1)', [row!.pid]);
      // Let the connection's end arrive while no query is running on it.
      await sleep(300);
      await tx.all('SELECT 1 AS one');
      return 'committed';
    });
    await assert.rejects(outcome);
    const [after] = await db.all<{ one: number }>('SELECT 1 AS one');
    assert.equal(after!.one, 1);
    assert.equal(await db.transaction(undefined, async (tx) => (await tx.all<{ two: number }>('SELECT 2 AS two'))[0]!.two), 2);
  });
});
