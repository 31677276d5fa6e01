/**
 * The settings only a development stack may fill in: development keys for sealing and the payload
 * codec, the development PKI for mTLS to the CEG simulator, and DEV_MODE (which allows the
 * embedded CA). `npm run dev`, the benchmark stack and the test harnesses take them from here;
 * production code never makes any of them and stops at start, naming each one that is missing.
 *
 * Everything lives in the data folder (git-ignored) and is reused across runs, so a local Temporal
 * dev server's sealed values stay readable after a restart of the stack.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEY_BYTES, parseKeyringSpec } from '../activities/crypto/sealing';
import type { Logger } from '../logging';
import { ensureDevPki } from '../peers/dev-pki';

export const DEV_SEALING_KEY_FILE = 'sealing-keys.json';
export const DEV_CODEC_KEY_FILE = 'codec-keys.json';

/** Environment variables (by name) a development process gets on top of its own settings. */
export async function developmentSettings(dataDir: string, logger?: Logger): Promise<Record<string, string>> {
  const pki = await ensureDevPki(dataDir, logger);
  return {
    DEV_MODE: 'true',
    SEALING_KEYS: devKeyringSetting(dataDir, DEV_SEALING_KEY_FILE),
    CODEC_KEYS: devKeyringSetting(dataDir, DEV_CODEC_KEY_FILE),
    CEG_CLIENT_CERT: pki.clientCertPath,
    CEG_CLIENT_KEY: pki.clientKeyPath,
    CEG_CA_FILE: pki.caCertPath,
  };
}

/**
 * A development keyring as the setting spells it (`kid:base64`), from a key file in the data folder
 * created on first use (0600). Two processes creating it at once agree on one file.
 */
export function devKeyringSetting(dataDir: string, fileName: string): string {
  const path = join(dataDir, fileName);
  const existing = readKeyFile(path);
  if (existing) return existing;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const entry = { kid: `dev-${randomBytes(4).toString('hex')}`, key: randomBytes(KEY_BYTES).toString('base64') };
  try {
    // 'wx': if another process created the file first, we read theirs instead of overwriting it.
    writeFileSync(path, `${JSON.stringify([entry], null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const raced = readKeyFile(path);
    if (!raced) throw new Error(`development key file ${path} appeared but cannot be read`);
    return raced;
  }
  chmodSync(path, 0o600); // the umask may have narrowed, never widened, the mode; be explicit anyway
  return `${entry.kid}:${entry.key}`;
}

function readKeyFile(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`development key file ${path} is not valid JSON`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0) throw new Error(`development key file ${path} must be a non-empty JSON list of {kid, key}`);
  const entries = parsed.map((item: unknown) => {
    const { kid, key } = (item ?? {}) as { kid?: unknown; key?: unknown };
    if (typeof kid !== 'string' || typeof key !== 'string') throw new Error(`development key file ${path}: every entry needs string kid and key`);
    return `${kid}:${key}`;
  });
  parseKeyringSpec(entries, `development key file ${path}`); // refuse a damaged file here, not at first use
  return entries.join(',');
}

/**
 * For command-line tools in a second terminal next to `npm run dev`: the development settings of
 * the stack that uses this data folder, if it has run (its key files exist); nothing is created,
 * and a data folder that never held a dev stack yields nothing.
 */
export function existingDevelopmentSettings(dataDir: string): Record<string, string> | undefined {
  const sealing = join(dataDir, DEV_SEALING_KEY_FILE);
  const codec = join(dataDir, DEV_CODEC_KEY_FILE);
  if (!existsSync(sealing) || !existsSync(codec)) return undefined;
  const pki = join(dataDir, 'dev-pki');
  return {
    DEV_MODE: 'true',
    SEALING_KEYS: devKeyringSetting(dataDir, DEV_SEALING_KEY_FILE),
    CODEC_KEYS: devKeyringSetting(dataDir, DEV_CODEC_KEY_FILE),
    CEG_CLIENT_CERT: join(pki, 'client.crt'),
    CEG_CLIENT_KEY: join(pki, 'client.key'),
    CEG_CA_FILE: join(pki, 'ca.crt'),
  };
}
