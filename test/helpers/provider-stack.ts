/**
 * The provider with real activities on the run's dev server: embedded CA (its CRL and certificates
 * published by the CA repository server), dev PKI, the CEG simulator (mTLS, OpenSSL checks),
 * sealing, the certificate checks and (optionally) the payload codec — everything in a temporary
 * data folder, on loopback, stopped by `stop()`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../src/activities';
import type { CertificateAuthority } from '../../src/activities/ca/certificate-authority';
import { CertificateChecks } from '../../src/activities/ca/certificate-checks';
import { EmbeddedCa } from '../../src/activities/ca/embedded-ca';
import { repositoryUrls } from '../../src/activities/ca/embedded/repository';
import { CegGateway } from '../../src/activities/ceg/ceg-gateway';
import { onDemandKeys } from '../../src/activities/crypto/key-pool';
import { SqliteDatabase } from '../../src/activities/database/sqlite-database';
import { SqlEscrowStore, type EscrowStore } from '../../src/activities/escrow';
import { CredentialRegister } from '../../src/activities/register/credential-register';
import { Keyring, Sealer } from '../../src/activities/crypto/sealing';
import { LogNotifier } from '../../src/activities/notify/log-notifier';
import type { FailureNotice, Notifier, ProfileReinstallNotice } from '../../src/activities/notify/notifier';
import type { UserDirectory } from '../../src/activities/uem/user-directory';
import type { DeviceInventory } from '../../src/activities/uem/device-inventory';
import { DAY_MS } from '../../src/domain/schedule';
import { defaultPolicy, type ProvisioningPolicy } from '../../src/domain/policy';
import type { EnrollmentEvent } from '../../src/domain/enrollment';
import { createLogger } from '../../src/logging';
import { startCaRepository, type CaRepository } from '../../src/peers/ca-repository';
import { ensureDevPki, type DevPki } from '../../src/peers/dev-pki';
import { startCegSimulator, type CegSimulator } from '../../src/peers/ceg-sim';
import { refuseUnencryptedActivities } from '../../src/temporal/activity-interceptors';
import { providerDataConverter } from '../../src/temporal/data-converter';
import { startProvisioning } from '../../src/temporal/start';
import type { provisionSmime } from '../../src/workflows/provision-smime';
import { devServerEnv, workflowBundle } from './temporal';

export interface ProviderStackOptions {
  /** Another Temporal environment than the run's shared dev server (e.g. one with the Web UI). */
  env?: TestWorkflowEnvironment;
  /** Encrypt payloads with the codec, as the real worker does (default true). */
  codec?: boolean;
  caPendingForMs?: number;
  /**
   * Base URL the embedded CA writes into its certificates for CRL and issuer (default: the
   * repository server's loopback URLs, which answer). The linter test gives a public name here:
   * loopback URLs are internal names to the linters.
   */
  repositoryBaseUrl?: string;
  directory?: UserDirectory;
  /** UEM's device inventory (the fleet sweeps); usually the same UEM adapter as the directory. */
  inventory?: DeviceInventory;
  /** Put something between the activities and the embedded CA (e.g. to lose responses); `dataDir` is the stack's folder. */
  wrapCa?: (ca: EmbeddedCa, dataDir: string) => CertificateAuthority;
  overrides?: Partial<ActivityDeps>;
}

export interface ProviderStack {
  env: TestWorkflowEnvironment;
  /** A client with the same data converter as the worker. */
  client: Client;
  taskQueue: string;
  dataDir: string;
  ca: EmbeddedCa;
  /** Publishes the embedded CA's CRL and certificates (the URLs in what it issues). */
  repository: CaRepository;
  pki: DevPki;
  sim: CegSimulator;
  sealingKeyring: Keyring;
  escrow: EscrowStore;
  register: CredentialRegister;
  codecKeyring: Keyring;
  notices: FailureNotice[];
  reinstallNotices: ProfileReinstallNotice[];
  start(event: EnrollmentEvent, policy?: ProvisioningPolicy): ReturnType<Client['workflow']['start']> extends Promise<infer H> ? Promise<H & { workflowId: string }> : never;
  stop(): Promise<void>;
}

const quietLogger = () => createLogger({ level: process.env.TEST_LOG_LEVEL?.toLowerCase() ?? 'silent' });

export async function startProviderStack(options: ProviderStackOptions = {}): Promise<ProviderStack> {
  const env = options.env ?? (await devServerEnv());
  const dataDir = mkdtempSync(join(tmpdir(), 'provider-stack-'));
  const logger = quietLogger();
  const pki = await ensureDevPki(dataDir, logger);
  const repository = await startCaRepository({ port: 0, logger });
  const ca = await EmbeddedCa.open({ dir: join(dataDir, 'embedded-ca'), repository: repositoryUrls(options.repositoryBaseUrl ?? repository.baseUrl('embedded-ca')), pendingForMs: options.caPendingForMs ?? 0, logger });
  repository.publish('embedded-ca', ca);
  const sim = await startCegSimulator({ port: 0, adminPort: 0, dataDir, allowedThumbprints: [pki.clientThumbprint], pki, logger });
  const sealingKeyring = new Keyring([{ kid: 'test-seal', key: randomBytes(32) }]);
  const codecKeyring = new Keyring([{ kid: 'test-codec', key: randomBytes(32) }]);
  const database = await SqliteDatabase.open({ file: join(dataDir, 'escrow.db'), logger });
  const escrow = await SqlEscrowStore.open(database, { keyring: sealingKeyring, logger });
  const register = await CredentialRegister.open(database, new Sealer(sealingKeyring));
  const notices: FailureNotice[] = [];
  const reinstallNotices: ProfileReinstallNotice[] = [];
  const logNotifier = new LogNotifier(logger);
  const recordingNotifier: Notifier = {
    type: 'test',
    async notifyFailure(notice) {
      notices.push(notice);
      await logNotifier.notifyFailure(notice);
    },
    async notifyProfileReinstall(notice) {
      reinstallNotices.push(notice);
      await logNotifier.notifyProfileReinstall(notice);
    },
  };
  const useCodec = options.codec ?? true;
  const dataConverter = useCodec ? providerDataConverter(codecKeyring) : undefined;
  const taskQueue = `e2e-${randomUUID()}`;
  const client = new Client({ connection: env.connection, namespace: 'default', dataConverter });
  const deps: ActivityDeps = {
    ca: options.wrapCa ? options.wrapCa(ca, dataDir) : ca,
    certificateChecks: new CertificateChecks({ profile: 'mailbox-strict', trustRootsPem: [ca.rootCertificatePem], maxValidityDays: 365, minValidityDays: 30 }),
    certificateProfile: 'mailbox-strict',
    gateway: new CegGateway({ url: sim.url, clientCertPem: pki.clientCertPem, clientKeyPem: pki.clientKeyPem, caPem: pki.caCertPem, timeoutMs: 10_000, logger }),
    directory: options.directory,
    inventory: options.inventory,
    notifier: recordingNotifier,
    sealer: new Sealer(sealingKeyring),
    keys: onDemandKeys({ algorithm: 'rsa', rsaBits: 2048, ecCurve: 'P-256' }),
    validityDays: 365,
    pkcs12: { defaultProfile: 'legacy', byPlatform: { Apple: 'legacy', Android: 'legacy', WinRT: 'modern' } },
    recipientCertificatePem: pki.recipientCertPem,
    archivedEncryptionKeys: 5,
    revokeSigningOnCancel: true,
    revokeSuperseded: true,
    database,
    escrow,
    register,
    claimLeaseMs: 60 * 60_000,
    renewWithinMs: 30 * 24 * 60 * 60_000,
    policy: defaultPolicy(),
    fleet: { reconcileScope: {}, ratePerSecond: 40, pageSize: 100, renewBeforeMs: 30 * DAY_MS, retireLimitPercent: 25 },
    temporal: { client, taskQueue },
    ...options.overrides,
  };
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: 'default',
    taskQueue,
    workflowBundle: await workflowBundle({ providerFailureConverter: useCodec }),
    activities: createActivities(deps),
    dataConverter,
    interceptors: { activity: [refuseUnencryptedActivities] },
  });
  const running = worker.run();

  return {
    env,
    client,
    taskQueue,
    dataDir,
    ca,
    repository,
    pki,
    sim,
    sealingKeyring,
    escrow,
    register,
    codecKeyring,
    notices,
    reinstallNotices,
    start: (async (event: EnrollmentEvent, policy: ProvisioningPolicy = defaultPolicy()) => {
      // The API's own start: search attributes, memo and summary as production writes them.
      const { workflowId, runId } = await startProvisioning(client, { event, policy, taskQueue });
      return Object.assign(client.workflow.getHandle<typeof provisionSmime>(workflowId, runId, { firstExecutionRunId: runId }), { workflowId, firstExecutionRunId: runId });
    }) as ProviderStack['start'],
    async stop() {
      worker.shutdown();
      await running.catch(() => undefined);
      await sim.close();
      await repository.close();
      await database.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
