/**
 * `npm run escrow:rewrap`: after a new sealing key has been put first in SEALING_KEYS (the old one
 * kept), re-wrap every escrowed credential's data key under the new key. Private-key ciphertexts
 * are not touched. Run it once every worker has the new keyring, and once more after any worker
 * that still had the old one may have stored a credential; then the old key can leave
 * SEALING_KEYS (after in-flight workflows sealed under it have finished, see docs/runbook.md).
 */
import { createAdapter } from '../activities/adapters';
import { keyringFromSetting } from '../activities/crypto/sealing';
import { databaseRegistry } from '../activities/database/registry';
import { SqlEscrowStore } from '../activities/escrow';
import { ConfigError } from '../config';
import { createLogger } from '../logging';
import { loadCliConfig } from './cli-config';

async function main(): Promise<void> {
  const config = loadCliConfig();
  const logger = createLogger({ level: config.logLevel, name: 'escrow-rewrap' });
  const keyring = keyringFromSetting(config.sealingKeys, 'SEALING_KEYS');
  const store = await SqlEscrowStore.open(await createAdapter(databaseRegistry, config, logger), { keyring, logger, ownsDatabase: true });
  try {
    const { rewrapped } = await store.rewrap(keyring);
    process.stdout.write(`re-wrapped ${rewrapped} data key${rewrapped === 1 ? '' : 's'} under sealing key "${keyring.current.kid}" (${store.type} escrow)\n`);
  } finally {
    await store.close();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
  process.exit(1);
});
