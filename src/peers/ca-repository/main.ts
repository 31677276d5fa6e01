/**
 * The CA repository as a process (`npm run dev` starts it):
 *
 *   npx tsx src/peers/ca-repository/main.ts [--order-ca-sim]
 *
 * Publishes the embedded CA of DATA_DIR (`/embedded-ca/...`, when CA_TYPE=embedded) on
 * CA_REPOSITORY_PORT, loopback only, and with --order-ca-sim the order-and-poll simulator's CA (`/order-ca-sim/...`).
 * Opening a CA makes its hierarchy if it does not exist yet, exactly as the worker would (same
 * folder, same URLs), so whichever process starts first, both use one hierarchy.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EmbeddedCa } from '../../activities/ca/embedded-ca';
import { EMBEDDED_CA_NAME, embeddedCaRepositoryUrls } from '../../activities/ca/registry';
import { ConfigError, loadConfig } from '../../config';
import { createLogger } from '../../logging';
import { openOrderCaSimIssuer, ORDER_CA_SIM_REPOSITORY_NAME } from '../order-ca-sim/issuer';
import { startCaRepository } from './server';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'order-ca-sim': { type: 'boolean', default: false } }, strict: true });
  const config = loadConfig();
  const logger = createLogger({ name: 'ca-repository', level: config.logLevel });
  const cas = new Map<string, EmbeddedCa>();
  if (config.caType === 'embedded') {
    cas.set(
      EMBEDDED_CA_NAME,
      await EmbeddedCa.open({ dir: join(config.dataDirAbsolute, EMBEDDED_CA_NAME), repository: embeddedCaRepositoryUrls(config), organisationPolicyOids: config.certPolicyOids, logger }),
    );
  }
  if (values['order-ca-sim']) cas.set(ORDER_CA_SIM_REPOSITORY_NAME, await openOrderCaSimIssuer(config, logger));
  const repository = await startCaRepository({ port: config.caRepositoryPort, logger });
  for (const [name, ca] of cas) {
    repository.publish(name, ca);
    process.stdout.write(`CA repository: ${repository.baseUrl(name)}/{intermediate.crl,intermediate.cer,root.crl,root.cer}\n`);
  }

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      repository.close().then(() => process.exit(0), () => process.exit(1));
    });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : `ca-repository failed to start: ${(err as Error)?.message ?? String(err)}`}\n`);
  process.exit(err instanceof ConfigError ? 2 : 1);
});
