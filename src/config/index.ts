import { resolve } from 'node:path';
import type { ProvisioningPolicy } from '../domain/policy';
import { ConfigError, loadSettings, type LoadOptions } from './load';
import type { Settings } from './settings';

export { ConfigError, loadSettings, type LoadOptions } from './load';
export { SETTINGS, type Settings, type SettingName } from './settings';

/** The validated configuration: every setting, with the data folder made absolute. */
export type Config = Settings & { readonly dataDirAbsolute: string };

/**
 * Load and validate the configuration. Rules that span settings (an adapter's required keys)
 * are checked here, so a bad deployment stops at start with a message naming each key.
 */
export function loadConfig(options: LoadOptions = {}): Config {
  const settings = loadSettings(options);
  const problems = crossChecks(settings);
  if (problems.length > 0) throw new ConfigError(problems);
  return { ...settings, dataDirAbsolute: resolve(settings.dataDir) };
}

function crossChecks(s: Settings): string[] {
  const problems: string[] = [];
  const need = (ok: unknown, key: string, why: string) => {
    if (!ok) problems.push(`${key}: required ${why}`);
  };
  need(!!s.temporalClientCert === !!s.temporalClientKey, s.temporalClientCert ? 'TEMPORAL_TLS_CLIENT_KEY' : 'TEMPORAL_TLS_CLIENT_CERT', 'when the other half of the Temporal client certificate is set');
  if (s.caType === 'step-ca') {
    need(s.caUrl, 'CA_URL', 'when CA_TYPE=step-ca');
    need(s.stepCaProvisioner, 'STEP_CA_PROVISIONER', 'when CA_TYPE=step-ca');
    need(s.stepCaProvisionerKeyFile, 'STEP_CA_PROVISIONER_KEY_FILE', 'when CA_TYPE=step-ca');
  }
  if (s.caType === 'order-poll') {
    need(s.caUrl, 'CA_URL', 'when CA_TYPE=order-poll');
    need(s.orderPollApiKey, 'ORDER_CA_API_KEY', 'when CA_TYPE=order-poll');
  }
  if (s.gatewayType === 'ceg') {
    need(s.cegUrl, 'CEG_URL', 'when GATEWAY_TYPE=ceg');
    need(!!s.cegClientCertFile === !!s.cegClientKeyFile, s.cegClientCertFile ? 'CEG_CLIENT_KEY' : 'CEG_CLIENT_CERT', 'when the other half of the CEG client certificate is set');
  }
  need(!!s.apiTlsCert === !!s.apiTlsKey, s.apiTlsCert ? 'API_TLS_KEY' : 'API_TLS_CERT', 'when the other half of the API\'s TLS certificate is set');
  if (s.maxCachedWorkflows !== undefined && s.maxCachedWorkflows < s.maxConcurrentWorkflowTasks) {
    // The SDK would quietly lower the workflow-task concurrency to the cache size instead.
    problems.push(`WORKER_MAX_CACHED_WORKFLOWS: ${s.maxCachedWorkflows} is below WORKER_MAX_CONCURRENT_WORKFLOW_TASKS (${s.maxConcurrentWorkflowTasks}); raise it or lower that`);
  }
  if (s.escrowStore === 'postgres') need(s.escrowDatabaseUrl, 'ESCROW_DATABASE_URL', 'when ESCROW_STORE=postgres');
  if (s.gatewayType === 'uem-direct') need(s.uemApiUrl, 'UEM_API_URL', 'when GATEWAY_TYPE=uem-direct');
  if (s.notifiers.includes('webhook')) need(s.notifyWebhookUrl, 'NOTIFY_WEBHOOK_URL', 'when NOTIFIERS includes webhook');
  if (s.notifiers.includes('email')) {
    need(s.smtpUrl, 'NOTIFY_SMTP_URL', 'when NOTIFIERS includes email');
    need(s.emailFrom, 'NOTIFY_EMAIL_FROM', 'when NOTIFIERS includes email');
    need(s.emailTo.length > 0, 'NOTIFY_EMAIL_TO', 'when NOTIFIERS includes email');
  }
  if (s.uemOauthTokenUrl) {
    need(s.uemOauthClientId, 'UEM_OAUTH_CLIENT_ID', 'when UEM_OAUTH_TOKEN_URL is set');
    need(s.uemOauthClientSecret, 'UEM_OAUTH_CLIENT_SECRET', 'when UEM_OAUTH_TOKEN_URL is set');
  }
  for (const entry of s.webhookUsers) if (!/^[^:]+:.+$/.test(entry)) problems.push('UEM_WEBHOOK_USERS: each entry must be user:password');
  for (const entry of s.apiTokens) if (!/^[^:]{16,}:(viewer|operator)$/.test(entry)) problems.push('API_TOKENS: each entry must be token:viewer or token:operator, token at least 16 characters');
  for (const entry of s.pkcs12PlatformProfiles) if (!/^[^:]+:(legacy|modern)$/.test(entry)) problems.push(`PKCS12_PLATFORM_PROFILES: "${entry}" must be platform:legacy or platform:modern`);
  if (s.window <= 0) problems.push('PROVISION_WINDOW: must be longer than 0');
  if (s.interval <= 0) problems.push('PROVISION_INTERVAL: must be longer than 0');
  if (s.issuancePollInterval < 1000) problems.push('CA_POLL_INTERVAL: must be at least 1s');
  return problems;
}

/**
 * For process entry points: the configuration, or a message naming every bad key on stderr and
 * exit code 2 (a bad deployment stops at start, before anything connects).
 */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
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
