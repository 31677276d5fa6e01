/**
 * Run the CEG gateway simulator as a process (dev stack):
 *
 *   npx tsx src/peers/ceg-sim/main.ts
 *
 * Settings: CEG_SIM_PORT (8443), CEG_SIM_ADMIN_PORT (8444), CEG_SIM_ALLOWED_THUMBPRINTS (empty:
 * the dev client certificate), DATA_DIR (the dev PKI and what the simulator received).
 */
import { ConfigError, loadConfig } from '../../config';
import { createLogger } from '../../logging';
import { ensureDevPki } from '../dev-pki';
import { startCegSimulator } from './server';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ name: 'ceg-sim', level: config.logLevel });
  const pki = await ensureDevPki(config.dataDirAbsolute, logger);
  const allowedThumbprints = config.cegSimAllowedThumbprints.length > 0 ? config.cegSimAllowedThumbprints : [pki.clientThumbprint];
  const sim = await startCegSimulator({
    port: config.cegSimPort,
    adminPort: config.cegSimAdminPort,
    dataDir: config.dataDirAbsolute,
    allowedThumbprints,
    pki,
    logger,
  });
  process.stdout.write(`CEG simulator: gateway ${sim.url} (mTLS, CA ${pki.caCertPath}), admin ${sim.adminUrl}/sim/uploads\n`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'ceg-sim: stopping');
    sim.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: (err as Error).message }, 'ceg-sim: failed to stop cleanly');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
  else process.stderr.write(`ceg-sim failed to start: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
});
