/**
 * The cluster's TLS is enforced, not decorative: Temporal's frontend refuses a client whose
 * certificate another CA signed (a worker included), and one without a certificate; PostgreSQL
 * refuses a connection without TLS; the proxy serves the API only over TLS.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { freePort } from '../../bench/stack';
import { issue, makeCa } from '../../src/tools/cluster/pki';
import { POSTGRES_SUPERUSER } from '../../src/tools/cluster/postgres';
import type { Cluster } from '../../src/tools/cluster/stack';
import { report, sharedCluster } from './support';

describe('cluster security: TLS that is enforced', function () {
  this.timeout(300_000);
  let cluster: Cluster;
  let dir: string;

  before(async () => {
    cluster = await sharedCluster();
    dir = mkdtempSync(join(tmpdir(), 'rogue-'));
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a worker whose client certificate another CA signed is refused by Temporal and stops', async () => {
    const rogue = await makeCa(join(dir, 'rogue-ca'), 'Rogue CA');
    const files = { cert: join(dir, 'rogue-worker.pem'), key: join(dir, 'rogue-worker-key.pem') };
    // Same subject, same usage as a real worker certificate: only the issuer differs.
    await issue({ dir }, files, { use: 'client', commonName: 'smime-worker-1', ...rogue });
    const worker = await cluster
      .startWorker(1, { TEMPORAL_TLS_CLIENT_CERT: files.cert, TEMPORAL_TLS_CLIENT_KEY: files.key, WORKER_METRICS_PORT: String(await freePort()), WORKER_HEALTH_PORT: '' }, 'rogue-worker')
      .then(
        () => assert.fail('the rogue worker started polling'),
        (err: Error) => err,
      );
    assert.match(worker.message, /rogue-worker exited \(code 1\)/);
    const log = readFileSync(cluster.logFile('rogue-worker'), 'utf8');
    assert.match(log, /"msg":"worker failed"/);
    assert.doesNotMatch(log, /"msg":"worker polling"/);
    const serverSide = readFileSync(cluster.logFile('temporal-frontend'), 'utf8');

    // The same for a plain client, and for one with no certificate at all.
    const refused = async (tls: object) => {
      try {
        const connection = await Connection.connect({ address: cluster.temporalAddress, tls, connectTimeout: 5000 });
        await connection.workflowService.getSystemInfo({}).finally(() => connection.close());
        return 'accepted';
      } catch (err) {
        return (err as Error).message;
      }
    };
    const ca = readFileSync(cluster.pki.caFile);
    const rogueClient = await refused({ serverRootCACertificate: ca, serverNameOverride: 'localhost', clientCertPair: { crt: readFileSync(files.cert), key: readFileSync(files.key) } });
    const noCertificate = await refused({ serverRootCACertificate: ca, serverNameOverride: 'localhost' });
    const genuine = await refused(cluster.temporalTls());
    assert.notEqual(rogueClient, 'accepted');
    assert.notEqual(noCertificate, 'accepted');
    assert.equal(genuine, 'accepted');
    report({
      test: 'client certificate of another CA',
      loadHeld: 0,
      faultsSurvived: 'a worker and a client presenting a certificate from a rogue CA, a client with none',
      lost: 0,
      duplicates: 0,
      rogueWorker: 'exited (code 1) before polling',
      rogueClient: oneLine(rogueClient),
      noCertificate: oneLine(noCertificate),
      frontendLoggedHandshakeErrors: /tls|certificate|handshake/i.test(serverSide) ? 'yes' : 'no (Temporal logs them at debug)',
    });
  });

  it('PostgreSQL refuses connections without TLS', async () => {
    const plain = new PgClient({ host: '127.0.0.1', port: cluster.ports.postgres, user: POSTGRES_SUPERUSER, password: cluster.secrets.postgresPassword, database: 'postgres', ssl: false, connectionTimeoutMillis: 5000 });
    await assert.rejects(plain.connect(), /no pg_hba.conf entry|SSL off|encryption/i);
    await plain.end().catch(() => undefined);
  });

  it('the proxy answers only over TLS, and keeps /metrics inside', async () => {
    await assert.rejects(fetch(`http://127.0.0.1:${cluster.ports.proxy}/readyz`));
    const ready = await cluster.fetch(`${cluster.proxyUrl}/readyz`);
    assert.equal(ready.status, 200);
    const metrics = await cluster.fetch(`${cluster.proxyUrl}/metrics`);
    assert.equal(metrics.status, 404);
  });
});

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').slice(0, 160);
}
