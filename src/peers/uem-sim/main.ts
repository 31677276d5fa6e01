/**
 * `npm run uem-sim [-- --users users.json] [--host 127.0.0.1]`: the UEM simulator as a process,
 * on UEM_SIM_PORT (8081), accepting the same credentials the provider uses for UEM
 * (UEM_API_USERNAME / UEM_API_PASSWORD / UEM_API_TENANT_CODE, and the UEM_OAUTH_* client when set).
 * Its admin routes (/sim/users, /sim/devices, /sim/profile-installs, /sim/faults) are on the same
 * port and answer loopback callers only, whatever --host is.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../../config';
import { createLogger } from '../../logging';
import { startUemSimulator } from './server';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { users: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' } },
    strict: true,
  });
  const config = loadConfig();
  const missing = (
    [
      ['UEM_API_USERNAME', config.uemApiUsername],
      ['UEM_API_PASSWORD', config.uemApiPassword],
      ['UEM_API_TENANT_CODE', config.uemApiTenantCode],
    ] as const
  ).filter(([, value]) => !value);
  if (missing.length > 0) throw new ConfigError(missing.map(([key]) => `${key}: required by the UEM simulator (it accepts the provider's UEM credentials)`));
  const logger = createLogger({ level: config.logLevel, name: 'uem-sim' });
  const oauth = config.uemOauthClientId && config.uemOauthClientSecret ? { clientId: config.uemOauthClientId, clientSecret: config.uemOauthClientSecret } : undefined;
  const sim = await startUemSimulator({
    port: config.uemSimPort,
    host: values.host,
    username: config.uemApiUsername!,
    password: config.uemApiPassword!,
    tenantCode: config.uemApiTenantCode!,
    fixtureFile: values.users,
    oauth,
    logger,
  });
  logger.info({ url: sim.url, adminUrl: sim.adminUrl, tokenUrl: sim.tokenUrl, fixture: values.users }, `UEM simulator listening: the provider's UEM_API_URL is ${sim.url}`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      sim.close().then(() => process.exit(0), () => process.exit(1));
    });
  }
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
    process.exit(2);
  });
}
