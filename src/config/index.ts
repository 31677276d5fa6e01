import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { isReservedSmimePolicy } from '../domain/certificate-profile';
import type { ProvisioningPolicy } from '../domain/policy';
import { ConfigError, loadSettings, type LoadOptions } from './load';
import { isLoopbackHost } from './loopback';
import { problemsFor, type ProcessRole } from './requirements';
import { SETTINGS, type SettingName, type Settings } from './settings';

export { ConfigError, loadSettings, type LoadOptions } from './load';
export { SETTINGS, type Settings, type SettingName } from './settings';
export { hasUemSignIn, problemsFor, type ProcessRole } from './requirements';

/** The validated configuration: every setting, with the data folder made absolute. */
export type Config = Settings & { readonly dataDirAbsolute: string };

export interface ConfigOptions extends LoadOptions {
  /**
   * The process the configuration is for: its requirements (keys, the chosen adapters' settings)
   * are checked too. Without it only the values themselves and the rules between them are checked.
   */
  role?: ProcessRole;
}

/**
 * Load and validate the configuration. Rules that span settings are checked here, and with a
 * `role` the settings that process needs, so a bad deployment stops at start with a message naming
 * each key.
 */
export function loadConfig(options: ConfigOptions = {}): Config {
  const settings = loadSettings(options);
  // The embedded CA is the development default; outside DEV_MODE the worker must be told.
  if (settings.caType === undefined && settings.devMode) settings.caType = 'embedded';
  const problems = [...crossChecks(settings), ...(options.role ? problemsFor(settings, options.role) : [])];
  if (problems.length > 0) throw new ConfigError(problems);
  return { ...settings, dataDirAbsolute: resolve(settings.dataDir) };
}

/** Check an already loaded configuration against what a process needs (e.g. before building activities). */
export function assertConfigFor(config: Config, role: ProcessRole): void {
  const problems = problemsFor(config, role);
  if (problems.length > 0) throw new ConfigError(problems);
}

/** Webhook passwords: at least this many characters. */
export const MIN_WEBHOOK_PASSWORD = 16;

function crossChecks(s: Settings): string[] {
  const problems: string[] = [];
  const pair = (a: SettingName, b: SettingName, what: string) => {
    if (!!s[a] !== !!s[b]) problems.push(`${SETTINGS[s[a] ? b : a].env}: required when the other half of ${what} is set`);
  };
  pair('temporalClientCert', 'temporalClientKey', 'the Temporal client certificate');
  pair('cegClientCertFile', 'cegClientKeyFile', 'the CEG client certificate');
  if (s.certMinValidityDays >= s.validityDays) {
    // Every certificate would be refused as too short-lived.
    problems.push(`CERT_MIN_VALIDITY_DAYS: ${s.certMinValidityDays} must be below CERT_VALIDITY_DAYS (${s.validityDays})`);
  }
  for (const oid of s.certPolicyOids) {
    if (isReservedSmimePolicy(oid)) problems.push(`CERT_POLICY_OIDS: ${oid} is a CA/B Forum reserved S/MIME policy; CERT_PROFILE chooses that one`);
  }
  pair('apiTlsCert', 'apiTlsKey', "the API's TLS certificate");
  if (s.maxCachedWorkflows !== undefined && s.maxCachedWorkflows < s.maxConcurrentWorkflowTasks) {
    // The SDK would quietly lower the workflow-task concurrency to the cache size instead.
    problems.push(`WORKER_MAX_CACHED_WORKFLOWS: ${s.maxCachedWorkflows} is below WORKER_MAX_CONCURRENT_WORKFLOW_TASKS (${s.maxConcurrentWorkflowTasks}); raise it or lower that`);
  }
  for (const entry of s.webhookUsers) {
    if (!/^[^:]+:.+$/.test(entry)) problems.push('UEM_WEBHOOK_USERS: each entry must be user:password');
    // The password is a shared secret typed into the UEM console: long enough that guessing it is hopeless.
    else if (entry.slice(entry.indexOf(':') + 1).length < MIN_WEBHOOK_PASSWORD) {
      problems.push(`UEM_WEBHOOK_USERS: each password must be at least ${MIN_WEBHOOK_PASSWORD} characters (e.g. openssl rand -base64 24)`);
    }
  }
  for (const entry of s.apiTokens) if (!/^[^:]{16,}:(viewer|operator)$/.test(entry)) problems.push('API_TOKENS: each entry must be token:viewer or token:operator, token at least 16 characters');
  for (const entry of s.apiTrustProxy) {
    if (!isProxySpec(entry)) problems.push(`API_TRUST_PROXY: "${entry}" is not an address, a CIDR range, loopback, linklocal or uniquelocal`);
  }
  for (const entry of s.pkcs12PlatformProfiles) if (!/^[^:]+:(legacy|modern)$/.test(entry)) problems.push(`PKCS12_PLATFORM_PROFILES: "${entry}" must be platform:legacy or platform:modern`);
  if (s.escrowStore === 'postgres' && s.escrowDatabaseUrl && !s.escrowDatabaseAllowPlaintext) {
    const problem = databaseTransportProblem(s.escrowDatabaseUrl);
    if (problem) problems.push(`ESCROW_DATABASE_URL: ${problem}`);
  }
  if (s.window <= 0) problems.push('PROVISION_WINDOW: must be longer than 0');
  if (s.interval <= 0) problems.push('PROVISION_INTERVAL: must be longer than 0');
  if (s.issuancePollInterval < 1000) problems.push('CA_POLL_INTERVAL: must be at least 1s');
  return problems;
}

/**
 * Why a PostgreSQL URL would not give verified TLS, or undefined when it does (or the server is on
 * this host). The URL must say `sslmode=verify-full` or `verify-ca`: node-postgres treats `require`
 * and `prefer` as verify-full today but announces libpq's meaning (no verification) for them, so
 * only the explicit modes keep their meaning. Never echoes the URL (it holds the password).
 */
export function databaseTransportProblem(connectionString: string): string | undefined {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    return 'not a postgresql:// URL';
  }
  const host = url.searchParams.get('host') ?? decodeURIComponent(url.hostname);
  // A Unix socket (host=/var/run/postgresql) or a loopback address never leaves the machine.
  if (host.startsWith('/') || isLoopbackHost(host)) return undefined;
  const mode = url.searchParams.get('sslmode');
  if (mode === 'verify-full' || mode === 'verify-ca') return undefined;
  return `the server ${host} is reached over the network, so the URL must ask for verified TLS: add sslmode=verify-full (and sslrootcert=<CA file> for a private CA)${mode ? `; sslmode=${mode} does not promise verification` : ''}, or set ESCROW_DATABASE_ALLOW_PLAINTEXT=true to accept the risk`;
}

/** What express's "trust proxy" takes: an IP address, a CIDR range, or one of its named ranges. */
function isProxySpec(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address, bits, ...rest] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d{1,3}$/.test(bits) && n <= (family === 4 ? 32 : 128);
}

/**
 * For process entry points: the configuration the process `role` needs, or a message naming every
 * bad or missing key on stderr and exit code 2 (a bad deployment stops at start, before anything
 * connects).
 */
export function loadConfigOrExit(role: ProcessRole): Config {
  try {
    return loadConfig({ role });
  } catch (err) {
    process.stderr.write(`${err instanceof ConfigError ? err.message : (err as Error).stack}\n`);
    process.exit(2);
  }
}

/** The workflow policy this configuration asks for. */
export function provisioningPolicy(config: Settings): ProvisioningPolicy {
  return {
    schedule: {
      name: config.schedule as ProvisioningPolicy['schedule']['name'],
      maxAttempts: config.maxAttempts,
      windowMs: config.window,
      intervalMs: config.interval,
    },
    credentialKinds: [...config.credentialKinds],
    issuancePollIntervalMs: config.issuancePollInterval,
    sharedKinds: config.signingCredentialScope === 'user' ? ['encryption', 'signing'] : ['encryption'],
  };
}
