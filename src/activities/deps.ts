import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config';
import type { Logger } from '../logging';
import type { ActivityDeps } from './index';
import { parsePlatformProfiles } from './index';
import { createCertificateAuthority, createCertificateChecks } from './ca/registry';
import { createCegGateway } from './ceg/ceg-gateway';
import type { EscrowGateway } from './ceg/escrow-gateway';
import { KeyPool, onDemandKeys } from './crypto/key-pool';
import { createEscrowStore } from './escrow';
import { loadOrCreateDevKeyring, Sealer } from './crypto/sealing';
import { createNotifier, workflowUrl } from './notify';
import { createUemDirectGateway } from './uem/uem-direct-gateway';
import { createUserDirectory } from './uem/uem-rest-directory';

/**
 * Build the activities' dependencies from configuration: each outside system is chosen by its
 * `type` setting. Anything misconfigured throws here, at worker start, naming the setting.
 */
export async function buildActivityDeps(config: Config, logger: Logger): Promise<ActivityDeps> {
  const keyring = loadOrCreateDevKeyring(config.sealingKeys, {
    dataDir: config.dataDirAbsolute,
    fileName: 'sealing-keys.json',
    settingName: 'SEALING_KEYS',
    logger,
  });
  const sealer = new Sealer(keyring);
  const keyOptions = { algorithm: config.keyAlgorithm, rsaBits: config.rsaBits, ecCurve: config.ecCurve };
  // EC keys cost about a millisecond: a pool only pays for RSA.
  const keys =
    config.keyPoolSize > 0 && config.keyAlgorithm === 'rsa'
      ? new KeyPool({ keyOptions, size: config.keyPoolSize, dir: join(config.dataDirAbsolute, 'key-pool'), sealer, logger })
      : onDemandKeys(keyOptions);
  if (keys instanceof KeyPool) keys.refill();
  const ca = await createCertificateAuthority(config, logger);
  return {
    ca,
    certificateChecks: createCertificateChecks(config, ca),
    certificateProfile: config.certProfile,
    gateway: await createGateway(config, logger),
    directory: createUserDirectory(config, logger),
    notifier: createNotifier(config, logger),
    sealer,
    keys,
    validityDays: config.validityDays,
    pkcs12: { defaultProfile: config.pkcs12DefaultProfile, byPlatform: parsePlatformProfiles(config.pkcs12PlatformProfiles) },
    recipientCertificatePem: config.recipientCertFile ? readFileSync(config.recipientCertFile, 'utf8') : undefined,
    revokeSigningOnCancel: config.revokeSigningOnUnenroll,
    workflowUrl: (workflowId, runId) => workflowUrl(config.uiUrl, config.temporalNamespace, workflowId, runId),
    escrow: await createEscrowStore(config, keyring, logger),
    signingScope: config.signingCredentialScope,
    claimLeaseMs: config.escrowClaimLease,
    renewWithinMs: config.escrowRenewWithin,
  };
}

async function createGateway(config: Config, logger: Logger): Promise<EscrowGateway> {
  switch (config.gatewayType) {
    case 'ceg':
      return createCegGateway(config, logger);
    case 'uem-direct':
      return createUemDirectGateway(config, logger);
    default:
      throw new Error(`GATEWAY_TYPE: "${config.gatewayType}" is not available in this build`);
  }
}

/** Release what the dependencies hold: the escrow database, pooled connections, the key pool's filler. */
export async function closeActivityDeps(deps: ActivityDeps): Promise<void> {
  if (deps.keys instanceof KeyPool) deps.keys.stop();
  await deps.escrow.close();
  for (const resource of [deps.gateway, deps.ca] as unknown[]) {
    const closable = resource as { close?: () => unknown };
    if (typeof closable.close === 'function') await closable.close();
  }
}
