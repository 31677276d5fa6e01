/**
 * How every outside system is plugged in, the same way for each folder under src/activities/:
 *
 *   <folder>/<interface>.ts   the small interface the activities use (CertificateAuthority,
 *                             CredentialGateway, UserDirectory, EscrowStore, Notifier)
 *   <folder>/registry.ts      a Registry: adapter factories keyed by the `type` setting's value
 *   <folder>/<adapter>.ts     the adapters; the local twin of each outside system is under src/peers/
 *
 * A factory receives settings that `src/config/requirements.ts` has already checked for the
 * worker, so it reads what it needs without checking presence again; what only a factory can find
 * out (an unreadable file, a PEM that does not parse) it reports as a ConfigError naming the
 * setting. Both happen at start: run-time failures are typed ApplicationFailures instead.
 *
 * An adapter that holds resources (connections, files, timers) declares `close()`; the worker
 * calls it once at shutdown.
 */
import { ConfigError, SETTINGS, type Config, type SettingName } from '../config';
import type { Logger } from '../logging';

export interface AdapterContext {
  config: Config;
  /** Already a child logger named for the system and the adapter type. */
  logger: Logger;
}

export interface Closable {
  close?(): Promise<void> | void;
}

export type AdapterFactory<T> = (context: AdapterContext) => T | Promise<T>;

export interface Registry<T> {
  /** The kind of system, in words: "certificate authority". */
  readonly system: string;
  /** The setting whose value picks the adapter (named in errors). */
  readonly setting: SettingName;
  /** The adapter type this configuration picks (usually the setting's value). */
  readonly typeOf: (config: Config) => string | undefined;
  readonly adapters: Readonly<Record<string, AdapterFactory<T>>>;
}

export function defineRegistry<T>(registry: Registry<T>): Registry<T> {
  return registry;
}

/** Build the adapter the configuration picks; an unknown type is a ConfigError naming the setting. */
export async function createAdapter<T>(registry: Registry<T>, config: Config, logger: Logger): Promise<T> {
  const type = registry.typeOf(config);
  const factory = type === undefined ? undefined : registry.adapters[type];
  if (!factory) {
    const known = Object.keys(registry.adapters).join(', ');
    throw new ConfigError([`${SETTINGS[registry.setting].env}: "${type ?? ''}" is not a known ${registry.system} (one of: ${known})`]);
  }
  return factory({ config, logger: logger.child({ component: registry.system, type }) });
}

/** Close every adapter that holds resources, each once, the others even if one fails. */
export async function closeAdapters(adapters: readonly unknown[]): Promise<void> {
  const seen = new Set<unknown>();
  const failures: unknown[] = [];
  for (const adapter of adapters) {
    if (!adapter || seen.has(adapter)) continue;
    seen.add(adapter);
    const close = (adapter as Closable).close;
    if (typeof close !== 'function') continue;
    try {
      await close.call(adapter);
    } catch (err) {
      failures.push(err);
    }
  }
  if (failures.length > 0) throw failures[0];
}

/** A setting's value that a factory needs and the requirements have vouched for. */
export function settingValue<K extends SettingName>(config: Config, name: K): NonNullable<Config[K]> {
  const value = config[name];
  if (value === undefined || value === null || value === '') throw new ConfigError([`${SETTINGS[name].env}: required`]);
  return value as NonNullable<Config[K]>;
}
