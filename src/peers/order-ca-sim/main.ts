/**
 * Run the order-and-poll CA simulator as a process (dev stack, CA_TYPE=order-poll):
 *
 *   npx tsx src/peers/order-ca-sim/main.ts
 *
 * Settings: ORDER_CA_SIM_PORT (8445), ORDER_CA_API_KEY (required: the key clients must send),
 * ORDER_CA_SIM_ISSUE_AFTER (how long an order stays pending, default 2m; e.g. 3d),
 * ORDER_CA_SIM_REJECT_EMAILS (addresses or @domains whose orders are rejected), DATA_DIR (orders
 * under order-ca-sim/orders/, the signing CA under order-ca-sim/ca/), CA_REPOSITORY_PORT (where the
 * dev stack's CA repository publishes that CA's CRL and certificates: see ./issuer.ts).
 */
import { ConfigError, loadConfig } from '../../config';
import { createLogger } from '../../logging';
import { openOrderCaSimIssuer } from './issuer';
import { startOrderCaSimulator } from './server';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ name: 'order-ca-sim', level: config.logLevel });
  if (!config.orderPollApiKey) throw new ConfigError(['ORDER_CA_API_KEY: required by the order-and-poll CA simulator (the key clients must send)']);
  const issuer = await openOrderCaSimIssuer(config, logger);
  const sim = await startOrderCaSimulator({
    port: config.orderCaSimPort,
    apiKey: config.orderPollApiKey,
    dataDir: config.dataDirAbsolute,
    issueAfterMs: config.orderCaSimIssueAfter,
    rejectEmails: config.orderCaSimRejectEmails,
    issuer,
    logger,
  });
  process.stdout.write(`order-and-poll CA simulator: ${sim.url} (orders pending ${config.orderCaSimIssueAfter} ms; admin under /sim/)\n`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'order-ca-sim: stopping');
    sim.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: (err as Error).message }, 'order-ca-sim: failed to stop cleanly');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
  else process.stderr.write(`order-ca-sim failed to start: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
});
