import { resolve } from 'node:path';
import { loadConfig, SETTINGS, type Config, type ProcessRole } from '../config';
import { existingDevelopmentSettings } from '../tools/dev-settings';

/**
 * The configuration of a command-line tool: the environment as for any process, and — only when
 * the data folder holds a development stack's keys (`npm run dev` made them) — that stack's
 * development settings underneath, so a second terminal next to the dev stack needs no set-up.
 * The environment always wins. Without a `role`, a tool asks for the keys it needs when it needs
 * them (e.g. CODEC_KEYS only to read encrypted histories).
 */
export function loadCliConfig(role?: ProcessRole): Config {
  const dataDir = resolve(process.env[SETTINGS.dataDir.env] || SETTINGS.dataDir.default!);
  const development = existingDevelopmentSettings(dataDir);
  return loadConfig({ env: development ? { ...development, ...process.env } : process.env, role });
}
