import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { SETTINGS, type Setting, type SettingName, type Settings } from './settings';

/** A bad or missing setting: the message names the environment variable and the YAML path. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  /** Environment to read (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** YAML file (default: CONFIG_FILE from the environment, if set). */
  file?: string;
  /** Values that win over environment and file: tests and the dev runner use this. */
  overrides?: Partial<Record<SettingName, string>>;
}

/**
 * Read every setting: override, else environment variable, else YAML file, else default.
 * All problems are collected and reported together, each naming its key.
 */
export function loadSettings(options: LoadOptions = {}): Settings {
  const env = options.env ?? process.env;
  const file = options.file ?? env.CONFIG_FILE;
  const yaml = file ? readYamlFile(file) : {};
  const problems: string[] = [];
  const values: Record<string, unknown> = {};

  for (const [name, setting] of Object.entries(SETTINGS) as [SettingName, Setting][]) {
    const raw = options.overrides?.[name] ?? env[setting.env] ?? yamlValue(yaml, setting.path) ?? setting.default;
    const input = raw === '' && setting.default === undefined ? undefined : raw;
    const result = setting.schema.safeParse(input);
    if (result.success) {
      values[name] = result.data;
    } else {
      const shown = setting.secret || input === undefined ? '' : ` (got "${String(input)}")`;
      const reason = result.error.issues.map((i) => i.message).join('; ');
      problems.push(`${setting.env} (YAML ${setting.path}): ${reason}${shown}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return values as Settings;
}

function readYamlFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError([`CONFIG_FILE: cannot read ${file}: ${(e as Error).message}`]);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (e) {
    throw new ConfigError([`CONFIG_FILE: ${file} is not valid YAML: ${(e as Error).message}`]);
  }
  if (parsed == null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError([`CONFIG_FILE: ${file} must hold a mapping`]);
  return parsed as Record<string, unknown>;
}

/** A YAML value at a dotted path, as the string an environment variable would hold. */
function yamlValue(yaml: Record<string, unknown>, path: string): string | undefined {
  let node: unknown = yaml;
  for (const part of path.split('.')) {
    if (node == null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  if (node == null) return undefined;
  if (Array.isArray(node)) return node.map(String).join(',');
  if (typeof node === 'object') return undefined;
  return String(node);
}
