/**
 * `npm run escrow:rewrap`: after a new sealing key has been put first in SEALING_KEYS (the old one
 * kept), re-wrap every escrowed credential's data key under the new key. Private-key ciphertexts
 * are not touched. Run it once every worker has the new keyring, and once more after any worker
 * that still had the old one may have stored a credential; then the old key can leave
 * SEALING_KEYS (after in-flight workflows sealed under it have finished, see docs/runbook.md).
 */
import { loadOrCreateDevKeyring } from '../activities/crypto/sealing';
import { createEscrowStore } from '../activities/escrow';
import { ConfigError, loadConfig } from '../config';
import { createLogger } from '../logging';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, name: 'escrow-rewrap' });
  const keyring = loadOrCreateDevKeyring(config.sealingKeys, { dataDir: config.dataDirAbsolute, fileName: 'sealing-keys.json', settingName: 'SEALING_KEYS', logger });
  const store = await createEscrowStore(config, keyring, logger);
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
