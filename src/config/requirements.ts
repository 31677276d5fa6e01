/**
 * Which settings a process needs, and which settings an adapter choice brings with it: the one
 * place such rules live. `problemsFor(settings, role)` lists every unmet rule at once, each naming
 * its key; process entry points call it at start (a bad deployment stops before anything
 * connects), and the adapter registries build from settings these rules have already vouched for.
 */
import { SETTINGS, type SettingName, type Settings } from './settings';

/** The processes of the provider: each needs a different part of the configuration. */
export type ProcessRole = 'worker' | 'api' | 'tool';

interface Requirement {
  /** The processes that need these settings. */
  roles: readonly ProcessRole[];
  /** When the requirement holds, in words for the message ("when CA_TYPE=step-ca"); absent: always. */
  when?: { test: (s: Settings) => boolean; words: string };
  requires: readonly SettingName[];
}

const is = (name: SettingName, value: string): Requirement['when'] => ({
  test: (s) => s[name] === value,
  words: `when ${SETTINGS[name].env}=${value}`,
});

const REQUIREMENTS: readonly Requirement[] = [
  { roles: ['worker'], requires: ['sealingKeys'] },
  { roles: ['worker', 'api', 'tool'], requires: ['codecKeys'] },
  { roles: ['worker'], requires: ['caType'] },
  // The S/MIME BR: a subscriber certificate SHALL carry an HTTP CRL URL; step-ca's template writes CERT_CRL_URL.
  { roles: ['worker'], when: is('caType', 'step-ca'), requires: ['caUrl', 'caRootFile', 'stepCaProvisioner', 'stepCaProvisionerKeyFile', 'certCrlUrl'] },
  { roles: ['worker'], when: is('caType', 'order-poll'), requires: ['caUrl', 'orderPollApiKey'] },
  { roles: ['worker'], when: is('gatewayType', 'ceg'), requires: ['cegUrl', 'cegClientCertFile', 'cegClientKeyFile', 'cegCaFile'] },
  { roles: ['worker'], when: is('gatewayType', 'uem-direct'), requires: ['uemApiUrl'] },
  { roles: ['worker', 'api', 'tool'], when: is('escrowStore', 'postgres'), requires: ['escrowDatabaseUrl'] },
  { roles: ['worker'], when: { test: (s) => s.notifiers.includes('webhook'), words: 'when NOTIFIERS includes webhook' }, requires: ['notifyWebhookUrl'] },
  { roles: ['worker'], when: { test: (s) => s.notifiers.includes('email'), words: 'when NOTIFIERS includes email' }, requires: ['smtpUrl', 'emailFrom', 'emailTo'] },
  { roles: ['worker', 'api', 'tool'], when: { test: (s) => !!s.uemApiUrl, words: 'when UEM_API_URL is set' }, requires: ['uemApiTenantCode'] },
  { roles: ['worker', 'api', 'tool'], when: { test: (s) => !!s.uemOauthTokenUrl, words: 'when UEM_OAUTH_TOKEN_URL is set' }, requires: ['uemOauthClientId', 'uemOauthClientSecret'] },
];

/** Every requirement of `role` these settings do not meet, each as "KEY: required when …". */
export function problemsFor(settings: Settings, role: ProcessRole): string[] {
  const problems: string[] = [];
  for (const requirement of REQUIREMENTS) {
    if (!requirement.roles.includes(role)) continue;
    if (requirement.when && !requirement.when.test(settings)) continue;
    for (const name of requirement.requires) {
      if (isSet(settings[name])) continue;
      const why = requirement.when ? requirement.when.words : `for the ${role}`;
      problems.push(`${SETTINGS[name].env}: required ${why}${hint(name)}`);
    }
  }
  if (role !== 'tool' && settings.uemApiUrl && !hasUemSignIn(settings)) {
    problems.push('UEM_API_USERNAME and UEM_API_PASSWORD (or UEM_OAUTH_TOKEN_URL, UEM_OAUTH_CLIENT_ID, UEM_OAUTH_CLIENT_SECRET): required when UEM_API_URL is set');
  }
  if (role === 'worker' && settings.caType === 'order-poll' && !settings.certTrustRootsFile && !settings.caRootFile) {
    problems.push('CERT_TRUST_ROOTS_FILE: required when CA_TYPE=order-poll and CA_ROOT_FILE is empty (the root what the CA returns must chain to)');
  }
  if (role === 'worker' && settings.caType === 'embedded' && !settings.devMode) {
    problems.push('CA_TYPE: embedded is the development CA (keys in DATA_DIR); choose step-ca or order-poll, or set DEV_MODE=true for development and tests');
  }
  return problems;
}

export function hasUemSignIn(s: Settings): boolean {
  return (!!s.uemApiUsername && !!s.uemApiPassword) || (!!s.uemOauthTokenUrl && !!s.uemOauthClientId && !!s.uemOauthClientSecret);
}

function isSet(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'string') return value.trim() !== '';
  if (Array.isArray(value)) return value.length > 0;
  return true;
}

/** Where a missing secret usually comes from, so the message says what to do. */
function hint(name: SettingName): string {
  if (name === 'sealingKeys' || name === 'codecKeys') return ' (kid:base64 of 32 random bytes, e.g. k1:$(openssl rand -base64 32); npm run dev makes development keys)';
  if (name === 'caType') return ' (step-ca or order-poll; the embedded development CA needs DEV_MODE=true)';
  return '';
}
