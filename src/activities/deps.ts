import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertConfigFor, provisioningPolicy, type Config } from '../config';
import type { Logger } from '../logging';
import { closeAdapters, createAdapter } from './adapters';
import { caRegistry, createCertificateChecks } from './ca/registry';
import { gatewayRegistry } from './ceg/registry';
import { KeyPool, onDemandKeys } from './crypto/key-pool';
import { keyringFromSetting, Sealer } from './crypto/sealing';
import { databaseRegistry } from './database/registry';
import { SqlEscrowStore } from './escrow/sql-escrow-store';
import type { FleetSettings } from './fleet/contract';
import type { ProvisioningStarter } from './fleet/sweeps';
import { CredentialRegister } from './register/credential-register';
import type { ActivityDeps } from './index';
import { parsePlatformProfiles } from './index';
import { withCallMetrics } from './metrics';
import { createNotifier } from './notify/registry';
import { directoryRegistry } from './uem/registry';

/**
 * Build the activities' dependencies from configuration: each outside system through its
 * registry, chosen by its `type` setting, with call metrics around it. The worker's requirements
 * are checked first, so anything missing or misconfigured throws a ConfigError here, at worker
 * start, naming the setting; whatever was already opened is closed again.
 */
export async function buildActivityDeps(config: Config, logger: Logger, temporal?: ProvisioningStarter): Promise<ActivityDeps> {
  assertConfigFor(config, 'worker');
  const keyring = keyringFromSetting(config.sealingKeys, 'SEALING_KEYS');
  const sealer = new Sealer(keyring);
  const opened: unknown[] = [];
  const open = async <T>(adapter: Promise<T>): Promise<T> => {
    const built = await adapter;
    opened.push(built);
    return built;
  };
  try {
    const ca = await open(createAdapter(caRegistry, config, logger));
    const certificateChecks = createCertificateChecks(config, ca);
    const gateway = await open(createAdapter(gatewayRegistry, config, logger));
    const directory = await open(createAdapter(directoryRegistry, config, logger));
    const database = await open(createAdapter(databaseRegistry, config, logger));
    const escrow = await SqlEscrowStore.open(database, { keyring, logger: logger.child({ component: 'escrow' }) });
    const register = await CredentialRegister.open(database, sealer);
    const notifier = createNotifier(config, logger);
    const uem = directory && withCallMetrics('directory', directory, ['lookUp', 'listDevices', 'installProfile']);
    return {
      ca: withCallMetrics('ca', ca, ['submit', 'poll', 'revoke'], { submit: (a: { status: string }) => a.status, poll: (a: { status: string }) => a.status }),
      certificateChecks,
      certificateProfile: config.certProfile,
      gateway: withCallMetrics('gateway', gateway, ['upload', 'delete'], { upload: (r: { alreadyPresent: boolean }) => (r.alreadyPresent ? 'already-present' : 'stored') }),
      directory: uem,
      inventory: uem,
      notifier: withCallMetrics('notifier', notifier, ['notifyFailure', 'notifyProfileReinstall']),
      database,
      escrow,
      register,
      sealer,
      keys: keySource(config, sealer, logger),
      validityDays: config.validityDays,
      pkcs12: { defaultProfile: config.pkcs12DefaultProfile, byPlatform: parsePlatformProfiles(config.pkcs12PlatformProfiles) },
      recipientCertificatePem: config.recipientCertFile ? readFileSync(config.recipientCertFile, 'utf8') : undefined,
      archivedEncryptionKeys: config.archivedEncryptionKeys,
      revokeSigningOnCancel: config.revokeSigningOnUnenroll,
      revokeSuperseded: config.revokeSuperseded,
      smimeProfileId: config.uemSmimeProfileId,
      claimLeaseMs: config.escrowClaimLease,
      renewWithinMs: config.escrowRenewWithin,
      policy: provisioningPolicy(config),
      fleet: fleetSettings(config),
      temporal,
    };
  } catch (err) {
    await closeAdapters(opened).catch(() => undefined);
    throw err;
  }
}

export function fleetSettings(config: Config): FleetSettings {
  return {
    reconcileScope: config.reconcileSmartGroupId !== undefined ? { smartGroupId: config.reconcileSmartGroupId } : {},
    ratePerSecond: config.fleetRate,
    pageSize: config.fleetPageSize,
    renewBeforeMs: config.renewBefore,
    retireLimitPercent: config.reconcileRetireLimit,
  };
}

/** EC keys cost about a millisecond: a pool only pays for RSA. */
function keySource(config: Config, sealer: Sealer, logger: Logger) {
  const keyOptions = { algorithm: config.keyAlgorithm, rsaBits: config.rsaBits, ecCurve: config.ecCurve };
  if (config.keyPoolSize === 0 || config.keyAlgorithm !== 'rsa') return onDemandKeys(keyOptions);
  const pool = new KeyPool({ keyOptions, size: config.keyPoolSize, dir: join(config.dataDirAbsolute, 'key-pool'), sealer, logger });
  pool.refill();
  return pool;
}

/** Release what the dependencies hold: the escrow database, pooled connections, the key pool's filler. */
export async function closeActivityDeps(deps: ActivityDeps): Promise<void> {
  if (deps.keys instanceof KeyPool) deps.keys.stop();
  await closeAdapters([deps.escrow, deps.database, deps.gateway, deps.ca, deps.directory, deps.notifier]);
}
