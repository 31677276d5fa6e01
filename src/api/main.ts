/**
 * The API process: `npm run api` (or `node dist/src/api/main.js` after `npm run build`). Loads the
 * configuration, builds a lazily connecting Temporal client, serves the app on API_HOST:API_PORT —
 * over HTTPS when API_TLS_CERT/API_TLS_KEY are set (SIGHUP re-reads them, for certificate
 * rotation without a restart) — and shuts down gracefully on SIGINT/SIGTERM: stop accepting, let
 * in-flight requests finish within API_SHUTDOWN_GRACE, then close the Temporal connection.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { loadConfigOrExit, type Config } from '../config';
import { createLogger, type Logger } from '../logging';
import { createAdapter } from '../activities/adapters';
import { databaseRegistry } from '../activities/database/registry';
import { codecForReading } from '../temporal/codec';
import { codecOperations } from '../temporal/codec-operations';
import { createCodecRouter } from '../temporal/codec-server';
import { SqlCodecSessionStore } from '../temporal/codec-sessions';
import { codecKeyring } from '../temporal/data-converter';
import { createApp } from './app';
import { bearerTokenMatcher, parseApiTokens } from './auth';
import { LazyCredentialRegister } from './credential-reader';
import { createTemporalClient } from './temporal-client';

export async function runApi(config: Config, logger: Logger): Promise<{ server: Server; stop(): Promise<void> }> {
  const { client, connection } = createTemporalClient(config);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'smime_api_' });
  const operators = bearerTokenMatcher(parseApiTokens(config.apiTokens));
  // Codec sessions live in the provider's database (opened on first use), so logout holds on every replica.
  const sessions = new SqlCodecSessionStore(() => createAdapter(databaseRegistry, config, logger));
  // The credential register (GET /v1/credentials, the expiry gauges): the same database, read-side, opened on first use.
  const credentials = new LazyCredentialRegister(() => createAdapter(databaseRegistry, config, logger));
  const codecRouter = createCodecRouter({
    codec: codecForReading(codecKeyring(config)),
    allowedOrigins: config.codecCorsOrigins,
    isOperator: (header) => operators(header)?.role === 'operator',
    sessions,
  });
  const app = createApp({ client, config, logger, registry, credentials, extraRouters: [codecRouter], extraOperations: codecOperations });
  const tls = config.apiTlsCert && config.apiTlsKey ? { certFile: config.apiTlsCert, keyFile: config.apiTlsKey } : undefined;
  const readTls = () => (tls ? { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } : undefined);
  const server: Server = tls ? createHttpsServer({ ...readTls(), minVersion: 'TLSv1.2' }, app) : createHttpServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.apiPort, config.apiHost, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const reloadTls = () => {
    try {
      (server as HttpsServer).setSecureContext({ ...readTls(), minVersion: 'TLSv1.2' });
      logger.info({ certFile: tls!.certFile }, 'API TLS certificate reloaded');
    } catch (err) {
      logger.error({ error: (err as Error).message, certFile: tls!.certFile }, 'API TLS certificate not reloaded; keeping the previous one');
    }
  };
  if (tls) process.on('SIGHUP', reloadTls);
  logger.info(
    { url: `${tls ? 'https' : 'http'}://${config.apiHost}:${config.apiPort}`, temporal: config.temporalAddress, namespace: config.temporalNamespace, taskQueue: config.taskQueue },
    'API listening',
  );

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info({ graceMs: config.apiShutdownGrace }, 'API shutting down');
      if (tls) process.off('SIGHUP', reloadTls);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), config.apiShutdownGrace);
      await closed;
      clearTimeout(timer);
      await connection.close();
      await sessions.close();
      await credentials.close();
      logger.info('API stopped');
    })());
  return { server, stop };
}

if (require.main === module) {
  const config = loadConfigOrExit('api');
  const logger = createLogger({ level: config.logLevel, name: 'api' });
  runApi(config, logger).then(
    ({ stop }) => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        process.once(signal, () => {
          stop().then(
            () => process.exit(0),
            (err) => {
              logger.error({ err }, 'shutdown failed');
              process.exit(1);
            },
          );
        });
      }
    },
    (err) => {
      logger.fatal({ err }, 'API failed to start');
      process.exit(1);
    },
  );
}
