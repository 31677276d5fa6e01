/**
 * What adapter factories read from settings that name files or URLs, in one place: an unreadable
 * file, a file without the expected PEM, a malformed URL or plain http where it is not allowed is
 * a ConfigError naming the setting (never the file's content) — at start, before anything runs.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, SETTINGS, type Config, type SettingName } from '../config';
import { isLoopbackHost } from '../config/loopback';
import { settingValue } from './adapters';

/** The text of the file a setting names. */
export function readSettingFile(config: Config, name: SettingName): string {
  const file = String(settingValue(config, name));
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${SETTINGS[name].env}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
}

/** The PEM file a setting names, which must hold at least one `-----BEGIN <label>`. */
export function readPemFile(config: Config, name: SettingName, label: 'CERTIFICATE' | 'PRIVATE KEY'): string {
  const text = readSettingFile(config, name);
  const marker = label === 'PRIVATE KEY' ? /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/ : /-----BEGIN CERTIFICATE-----/;
  if (!marker.test(text)) throw new ConfigError([`${SETTINGS[name].env}: ${String(config[name])} holds no PEM ${label.toLowerCase()}`]);
  return text;
}

export interface UrlRules {
  /** `always`: only https; `unless-loopback`: http is allowed to 127.0.0.0/8, ::1 and localhost. */
  https: 'always' | 'unless-loopback';
}

/** The base URL a setting holds, without a trailing slash; http only where the rules allow it. */
export function validatedUrl(config: Config, name: SettingName, rules: UrlRules): string {
  const text = String(settingValue(config, name)).trim();
  const env = SETTINGS[name].env;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError([`${env}: not a URL (got "${text}")`]);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError([`${env}: must be an https URL (got "${text}")`]);
  if (url.protocol === 'http:' && (rules.https === 'always' || !isLoopbackHost(url.hostname))) {
    throw new ConfigError([`${env}: must be https${rules.https === 'always' ? '' : ' (plain http only to a loopback address)'} (got "${text}")`]);
  }
  if (url.search || url.hash) throw new ConfigError([`${env}: must be a base URL without query or fragment (got "${text}")`]);
  if (url.username || url.password) throw new ConfigError([`${env}: must not carry credentials`]);
  return text.replace(/\/+$/, '');
}

export { isLoopbackHost } from '../config/loopback';
