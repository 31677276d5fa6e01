import { z } from 'zod';
import { CERTIFICATE_PROFILES, OID_PATTERN } from '../domain/certificate-profile';
import { parseDuration, SCHEDULE_NAMES } from '../domain/schedule';

/**
 * Every setting the provider reads, in one table: its environment variable, its path in the
 * optional YAML file, its default, what it means, and whether it is a secret (secrets are never
 * logged or echoed in errors). The README's configuration table is generated from this list
 * (`npm run config:docs`), so the two cannot drift apart.
 */
export interface Setting<T = unknown> {
  env: string;
  path: string;
  schema: z.ZodType<T>;
  default?: string;
  description: string;
  secret?: boolean;
}

const setting = <T>(s: Setting<T>): Setting<T> => s;

const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().positive();
const bool = z
  .string()
  .transform((v) => v.trim().toLowerCase())
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no']))
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const duration = z.string().transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});
/** A duration, or `off` (returned as 0): for things that can be turned off. */
const durationOrOff = z.string().transform((v, ctx) => {
  if (['off', 'none', 'false', '0'].includes(v.trim().toLowerCase())) return 0;
  try {
    return parseDuration(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: `${(e as Error).message}, or off` });
    return z.NEVER;
  }
});
const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0),
);
const optionalText = z.string().optional();
/** An ISO 8601 date and time with a zone, as epoch milliseconds. */
const instant = z.string().transform((v, ctx) => {
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v.trim()) ? Date.parse(v.trim()) : Number.NaN;
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: 'custom', message: 'expected an ISO 8601 date and time with a zone, e.g. 2027-03-01T00:00:00Z' });
    return z.NEVER;
  }
  return ms;
});
/** An absolute http: URL (the S/MIME BR want CRLs and CA certificates over plain HTTP), or unset. */
const httpUrl = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v.trim() === '') return undefined;
    let url: URL;
    try {
      url = new URL(v.trim());
    } catch {
      ctx.addIssue({ code: 'custom', message: 'expected an absolute URL' });
      return z.NEVER;
    }
    if (url.protocol !== 'http:') {
      ctx.addIssue({ code: 'custom', message: 'expected an http: URL (relying parties fetch CRLs and CA certificates over plain HTTP; the content is signed)' });
      return z.NEVER;
    }
    return url.href;
  });
/** A positive whole number, or unset/empty for the library's own default. */
const optionalPositiveInt = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v.trim() === '') return undefined;
    const n = Number(v);
    if (Number.isInteger(n) && n > 0) return n;
    ctx.addIssue({ code: 'custom', message: 'expected a positive whole number, or empty for the default' });
    return z.NEVER;
  });

export const SETTINGS = {
  // --- process ---------------------------------------------------------------------------
  devMode: setting({ env: 'DEV_MODE', path: 'devMode', schema: bool, default: 'false', description: 'Development and tests only (npm run dev and the test harnesses set it): allows the embedded CA and makes it the default CA_TYPE. Never set in production.' }),
  dataDir: setting({ env: 'DATA_DIR', path: 'dataDir', schema: z.string().min(1), default: '.data', description: 'Folder for local state: dev keys, embedded CA, SQLite files, simulator output.' }),
  logLevel: setting({ env: 'LOG_LEVEL', path: 'log.level', schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), default: 'info', description: 'pino log level.' }),
  uiUrl: setting({ env: 'TEMPORAL_UI_URL', path: 'temporal.uiUrl', schema: optionalText, default: 'http://localhost:8233', description: 'Temporal Web UI base URL, used in failure notifications to link the workflow.' }),

  // --- Temporal connection -----------------------------------------------------------------
  temporalAddress: setting({ env: 'TEMPORAL_ADDRESS', path: 'temporal.address', schema: z.string().regex(/^[^\s:]+:\d+$/, 'expected host:port'), default: '127.0.0.1:7233', description: 'Temporal frontend host:port (Temporal Cloud: <namespace>.<account>.tmprl.cloud:7233).' }),
  temporalNamespace: setting({ env: 'TEMPORAL_NAMESPACE', path: 'temporal.namespace', schema: z.string().min(1), default: 'default', description: 'Temporal namespace.' }),
  taskQueue: setting({ env: 'TEMPORAL_TASK_QUEUE', path: 'temporal.taskQueue', schema: z.string().min(1), default: 'smime-provisioning', description: 'Task queue the worker polls and the API starts workflows on.' }),
  temporalTls: setting({ env: 'TEMPORAL_TLS', path: 'temporal.tls.enabled', schema: bool, default: 'false', description: 'Use TLS to Temporal (implied by a client certificate or an API key).' }),
  temporalServerCa: setting({ env: 'TEMPORAL_TLS_SERVER_CA', path: 'temporal.tls.serverCaFile', schema: optionalText, description: 'PEM file of the CA that signed the Temporal server certificate (self-hosted with a private CA).' }),
  temporalServerName: setting({ env: 'TEMPORAL_TLS_SERVER_NAME', path: 'temporal.tls.serverName', schema: optionalText, description: 'Override the TLS server name (SNI) for Temporal.' }),
  temporalClientCert: setting({ env: 'TEMPORAL_TLS_CLIENT_CERT', path: 'temporal.tls.clientCertFile', schema: optionalText, description: 'PEM client certificate for mTLS to Temporal (Temporal Cloud mTLS auth).' }),
  temporalClientKey: setting({ env: 'TEMPORAL_TLS_CLIENT_KEY', path: 'temporal.tls.clientKeyFile', schema: optionalText, description: 'PEM private key for the Temporal client certificate.', secret: true }),
  temporalApiKey: setting({ env: 'TEMPORAL_API_KEY', path: 'temporal.apiKey', schema: optionalText, description: 'Temporal Cloud API key (instead of mTLS).', secret: true }),

  // --- worker --------------------------------------------------------------------------------
  workerMetricsPort: setting({ env: 'WORKER_METRICS_PORT', path: 'worker.metricsPort', schema: port, default: '9464', description: 'Port of the worker\'s Prometheus /metrics endpoint.' }),
  workerMetricsHost: setting({ env: 'WORKER_METRICS_HOST', path: 'worker.metricsHost', schema: z.string().min(1), default: '127.0.0.1', description: 'Interface the worker\'s metrics endpoint binds to.' }),
  maxConcurrentActivities: setting({ env: 'WORKER_MAX_CONCURRENT_ACTIVITIES', path: 'worker.maxConcurrentActivities', schema: positiveInt, default: '64', description: 'Activities one worker runs at once (key generation runs on the libuv pool, so this is mostly I/O).' }),
  maxConcurrentWorkflowTasks: setting({ env: 'WORKER_MAX_CONCURRENT_WORKFLOW_TASKS', path: 'worker.maxConcurrentWorkflowTasks', schema: positiveInt, default: '40', description: 'Workflow tasks one worker runs at once.' }),
  maxCachedWorkflows: setting({ env: 'WORKER_MAX_CACHED_WORKFLOWS', path: 'worker.maxCachedWorkflows', schema: optionalPositiveInt, description: 'Open workflows a worker keeps in memory; an evicted workflow is replayed from history at its next step (CPU for memory). At least WORKER_MAX_CONCURRENT_WORKFLOW_TASKS. Empty: the SDK sizes it from the heap limit.' }),
  shutdownGrace: setting({ env: 'WORKER_SHUTDOWN_GRACE', path: 'worker.shutdownGrace', schema: duration, default: '30s', description: 'After SIGTERM/SIGINT the worker stops polling and gives in-flight activities this long to finish before cancelling them; the process exits at the latest 10 s later. Keep it below the orchestrator\'s stop timeout (Kubernetes terminationGracePeriodSeconds, systemd TimeoutStopSec).' }),
  healthPort: setting({ env: 'WORKER_HEALTH_PORT', path: 'worker.healthPort', schema: port.optional(), description: 'Port of the worker\'s health endpoint: GET /healthz (live: the worker runs and polls; 503 once it failed) and GET /readyz (ready: polling and Temporal answers for the namespace; 503 while draining). Empty: no health endpoint.' }),
  healthHost: setting({ env: 'WORKER_HEALTH_HOST', path: 'worker.healthHost', schema: z.string().min(1), default: '127.0.0.1', description: 'Interface the worker\'s health endpoint binds to (0.0.0.0 for Kubernetes probes).' }),

  // --- API -----------------------------------------------------------------------------------
  apiPort: setting({ env: 'API_PORT', path: 'api.port', schema: port, default: '3000', description: 'Port of the webhook, management API, codec endpoint, health and metrics.' }),
  apiHost: setting({ env: 'API_HOST', path: 'api.host', schema: z.string().min(1), default: '0.0.0.0', description: 'Interface the API binds to.' }),
  webhookUsers: setting({ env: 'UEM_WEBHOOK_USERS', path: 'api.webhookUsers', schema: list, default: '', description: 'Basic-auth credentials UEM uses for the webhook: user:password[,user:password] (several, so they can rotate); each password at least 16 characters.', secret: true }),
  apiTokens: setting({ env: 'API_TOKENS', path: 'api.tokens', schema: list, default: '', description: 'Bearer tokens for the management API: token:role[,token:role], role viewer or operator.', secret: true }),
  apiTrustProxy: setting({ env: 'API_TRUST_PROXY', path: 'api.trustProxy', schema: list, default: '', description: 'Reverse proxies whose X-Forwarded-For and X-Forwarded-Proto the API believes: addresses, CIDR ranges, or loopback, linklocal, uniquelocal (express "trust proxy"). They decide the client address the codec login limit counts by and whether the codec session cookie is Secure (X-Forwarded-Proto: https). Empty: no proxy is trusted; the socket decides.' }),
  webhookRateLimit: setting({ env: 'WEBHOOK_RATE_LIMIT', path: 'api.webhookRateLimit', schema: z.coerce.number().min(0), default: '500', description: 'Webhook requests per second per UEM_WEBHOOK_USERS user, with bursts of twice that (enrollment waves arrive in bursts); more get 429 + Retry-After (nothing is started for them; set it well above your enrollment peaks). Counted per API replica. 0: no limit.' }),
  apiRateLimit: setting({ env: 'API_RATE_LIMIT', path: 'api.rateLimit', schema: z.coerce.number().min(0), default: '50', description: 'Management API requests per second per API_TOKENS token, with bursts of twice that; more get 429 + Retry-After. Counted per API replica. 0: no limit.' }),
  codecCorsOrigins: setting({ env: 'CODEC_CORS_ORIGINS', path: 'api.codecCorsOrigins', schema: list, default: 'http://localhost:8233,http://127.0.0.1:8233', description: 'Origins (the Temporal UI) allowed to call the codec endpoints.' }),
  apiTlsCert: setting({ env: 'API_TLS_CERT', path: 'api.tls.certFile', schema: optionalText, description: 'PEM certificate (with its chain) for native HTTPS on the API, for deployments without a TLS-terminating proxy. Empty: plain HTTP.' }),
  apiTlsKey: setting({ env: 'API_TLS_KEY', path: 'api.tls.keyFile', schema: optionalText, description: 'PEM private key of API_TLS_CERT.', secret: true }),
  apiShutdownGrace: setting({ env: 'API_SHUTDOWN_GRACE', path: 'api.shutdownGrace', schema: duration, default: '10s', description: 'After SIGTERM/SIGINT the API stops accepting connections and gives in-flight requests this long to finish.' }),

  // --- provisioning policy --------------------------------------------------------------------
  schedule: setting({ env: 'PROVISION_SCHEDULE', path: 'provisioning.schedule', schema: z.enum(SCHEDULE_NAMES as [string, ...string[]]), default: 'legacy-4h', description: 'legacy-4h: an attempt every 4 h (UEM 2009 and older); event-driven: quick early retries stretching to 4 h (UEM 2010+ with CEG 1.4).' }),
  maxAttempts: setting({ env: 'PROVISION_MAX_ATTEMPTS', path: 'provisioning.maxAttempts', schema: positiveInt.max(1000), default: '75', description: 'At most this many delivery attempts (UEM checks CEG 75 times).' }),
  window: setting({ env: 'PROVISION_WINDOW', path: 'provisioning.window', schema: duration, default: '12.5d', description: 'No attempt later than EventTime plus this (UEM gives up after 12.5 days).' }),
  interval: setting({ env: 'PROVISION_INTERVAL', path: 'provisioning.interval', schema: duration, default: '4h', description: 'Steady interval between attempts (UEM checks every 4 hours).' }),
  credentialKinds: setting({ env: 'CREDENTIAL_KINDS', path: 'provisioning.credentialKinds', schema: list.pipe(z.array(z.enum(['signing', 'encryption'])).min(1)), default: 'signing,encryption', description: 'Which S/MIME credentials to deliver, as the UEM profile asks: signing, encryption or both.' }),
  issuancePollInterval: setting({ env: 'CA_POLL_INTERVAL', path: 'ca.pollInterval', schema: duration, default: '15m', description: 'How often a pending certificate request is polled (a certificateIssued signal wakes it sooner).' }),

  // --- keys and certificates ------------------------------------------------------------------
  keyAlgorithm: setting({ env: 'KEY_ALGORITHM', path: 'keys.algorithm', schema: z.enum(['rsa', 'ec']), default: 'rsa', description: 'Key type for new credentials: rsa (broadest device support) or ec.' }),
  rsaBits: setting({ env: 'KEY_RSA_BITS', path: 'keys.rsaBits', schema: z.coerce.number().int().refine((n) => [2048, 3072, 4096].includes(n), 'must be 2048, 3072 or 4096'), default: '2048', description: 'RSA modulus size.' }),
  ecCurve: setting({ env: 'KEY_EC_CURVE', path: 'keys.ecCurve', schema: z.enum(['P-256', 'P-384']), default: 'P-256', description: 'EC curve when KEY_ALGORITHM=ec.' }),
  keyPoolSize: setting({ env: 'KEY_POOL_SIZE', path: 'keys.poolSize', schema: z.coerce.number().int().min(0).max(10_000), default: '16', description: 'Key pairs the worker pre-generates in idle time (sealed on disk in DATA_DIR/key-pool), so bursts do not wait for RSA key generation. 0 turns the pool off.' }),
  validityDays: setting({ env: 'CERT_VALIDITY_DAYS', path: 'keys.validityDays', schema: positiveInt.max(825, 'the CA/B Forum S/MIME limit is 825 days'), default: '365', description: 'Requested certificate lifetime in days (at most 825, the CA/B Forum S/MIME limit).' }),
  pkcs12DefaultProfile: setting({ env: 'PKCS12_PROFILE', path: 'pkcs12.defaultProfile', schema: z.enum(['legacy', 'modern']), default: 'legacy', description: 'PKCS#12 profile for platforms not listed in PKCS12_PLATFORM_PROFILES: legacy (3DES, SHA-1 MAC) or modern (AES-256, SHA-256).' }),
  pkcs12PlatformProfiles: setting({ env: 'PKCS12_PLATFORM_PROFILES', path: 'pkcs12.platformProfiles', schema: list, default: 'Apple:legacy,Android:legacy,WinRT:modern,Windows:modern', description: 'Per-platform PKCS#12 profile, platform:profile[,platform:profile] (platform as UEM names it).' }),
  certProfile: setting({ env: 'CERT_PROFILE', path: 'certificates.profile', schema: z.enum(CERTIFICATE_PROFILES), default: 'mailbox-strict', description: 'CA/B Forum S/MIME profile asked for and checked: mailbox-strict (policy 2.23.140.1.5.1.3, EKU emailProtection only) or mailbox-multipurpose (2.23.140.1.5.1.2). Mailbox-validated: the subject holds the address only, never a display name.' }),
  certPolicyOids: setting({ env: 'CERT_POLICY_OIDS', path: 'certificates.policyOids', schema: list.pipe(z.array(z.string().regex(OID_PATTERN, 'expected dotted object identifiers, e.g. 1.3.6.1.4.1.99999.1.2'))), default: '', description: 'Your organisation\'s own certificate policy OIDs (its CPS), after the reserved one: the embedded CA and the step-ca template add them, and every certificate a CA returns must carry them.' }),
  certCrlUrl: setting({ env: 'CERT_CRL_URL', path: 'certificates.crlUrl', schema: httpUrl, description: 'HTTP URL of the CRL written into certificates (cRLDistributionPoints) by the embedded CA and the step-ca template. Required for step-ca; empty for the embedded CA: its repository (CA_REPOSITORY_PORT).' }),
  certCaIssuersUrl: setting({ env: 'CERT_CA_ISSUERS_URL', path: 'certificates.caIssuersUrl', schema: httpUrl, description: 'HTTP URL of the issuing CA certificate (AIA caIssuers) written into certificates like CERT_CRL_URL. Empty for the embedded CA: its repository.' }),
  certOcspUrl: setting({ env: 'CERT_OCSP_URL', path: 'certificates.ocspUrl', schema: httpUrl, description: 'HTTP URL of an OCSP responder (AIA ocsp), when the CA runs one. The embedded CA has none.' }),
  certTrustRootsFile: setting({ env: 'CERT_TRUST_ROOTS_FILE', path: 'certificates.trustRootsFile', schema: optionalText, description: 'PEM bundle of the root(s) every certificate a CA returns must chain to (checked before delivery). Empty: CA_ROOT_FILE for step-ca and order-poll (one of the two is then required); the embedded CA\'s own root.' }),
  certMinValidityDays: setting({ env: 'CERT_MIN_VALIDITY_DAYS', path: 'certificates.minValidityDays', schema: z.coerce.number().int().min(0).max(825), default: '30', description: 'A certificate a CA returns that expires sooner than this many days from now is refused (CertificateRejected); one valid longer than CERT_VALIDITY_DAYS (plus a day for backdating) likewise.' }),
  recipientCertFile: setting({ env: 'CEG_RECIPIENT_CERT', path: 'gateway.recipientCertFile', schema: optionalText, description: 'PEM certificate of the gateway: when set, each PKCS#12 password is also sent RSA-OAEP-SHA-256 encrypted to it.' }),

  // --- sealing (secrets inside workflow history) ------------------------------------------------
  sealingKeys: setting({ env: 'SEALING_KEYS', path: 'sealing.keys', schema: list, default: '', description: 'Key-encryption keys that seal private keys, PKCS#12 and passwords in workflow history and the escrow: kid:base64(32 bytes)[,...]; the first seals, all open. Required for the worker (npm run dev makes development keys).', secret: true }),
  codecAcceptUnboundV1Until: setting({ env: 'CODEC_ACCEPT_UNBOUND_V1_UNTIL', path: 'codec.acceptUnboundV1Until', schema: instant, default: '2027-03-01T00:00:00Z', description: 'Payloads in the codec\'s format v1 (written before payloads were bound to their workflow) still decode in the worker and the API until this time (ISO 8601), so runs started before the upgrade can finish. The risk while it lasts: a v1 payload copied out of an old history decodes in any workflow. After it, a v1 payload stalls its workflow task until the date is moved. Set it to a past date once no run started before the upgrade is open (PROVISION_WINDOW after the upgrade). The codec endpoint always decodes v1 for reading.' }),
  codecKeys: setting({ env: 'CODEC_KEYS', path: 'codec.keys', schema: list, default: '', description: 'Payload codec keys (AES-256-GCM): kid:base64(32 bytes)[,...]; the first encodes, all decode. Required for the worker, the API and the CLI tools (npm run dev makes development keys).', secret: true }),

  // --- certificate authority ---------------------------------------------------------------------
  caType: setting({ env: 'CA_TYPE', path: 'ca.type', schema: z.enum(['embedded', 'step-ca', 'order-poll']).optional(), description: 'Certificate authority adapter: step-ca or order-poll; embedded (a development CA in DATA_DIR) only with DEV_MODE=true, where it is the default. Required for the worker.' }),
  embeddedCaPendingFor: setting({ env: 'EMBEDDED_CA_PENDING_FOR', path: 'ca.embedded.pendingFor', schema: duration, default: '0', description: 'Embedded CA: answer "pending" for this long before issuing (exercise the wait).' }),
  embeddedCaReject: setting({ env: 'EMBEDDED_CA_REJECT', path: 'ca.embedded.reject', schema: bool, default: 'false', description: 'Embedded CA: reject every request (exercise the failure path).' }),
  caUrl: setting({ env: 'CA_URL', path: 'ca.url', schema: optionalText, description: 'Base URL of the CA (step-ca, order-poll).' }),
  caRootFile: setting({ env: 'CA_ROOT_FILE', path: 'ca.rootFile', schema: optionalText, description: 'PEM bundle that verifies the CA\'s TLS server certificate.' }),
  stepCaProvisioner: setting({ env: 'STEP_CA_PROVISIONER', path: 'ca.stepCa.provisioner', schema: optionalText, description: 'step-ca JWK provisioner name.' }),
  stepCaProvisionerKeyFile: setting({ env: 'STEP_CA_PROVISIONER_KEY_FILE', path: 'ca.stepCa.provisionerKeyFile', schema: optionalText, description: 'JWK provisioner private key (JSON, decrypted) that signs one-time tokens.', secret: true }),
  orderPollApiKey: setting({ env: 'ORDER_CA_API_KEY', path: 'ca.orderPoll.apiKey', schema: optionalText, description: 'API key for the order-and-poll CA.', secret: true }),
  caRequestTimeout: setting({ env: 'CA_REQUEST_TIMEOUT', path: 'ca.requestTimeout', schema: duration, default: '30s', description: 'Timeout of one CA HTTP call.' }),

  revokeSigningOnUnenroll: setting({ env: 'REVOKE_SIGNING_ON_UNENROLL', path: 'ca.revokeSigningOnUnenroll', schema: bool, default: 'true', description: 'On unenroll, wipe or delete: revoke the device\'s signing certificate at the CA (when the CA supports it). Encryption keys are never destroyed.' }),

  // --- credential escrow ---------------------------------------------------------------------------
  escrowStore: setting({ env: 'ESCROW_STORE', path: 'escrow.store', schema: z.enum(['sqlite', 'postgres']), default: 'sqlite', description: 'Where escrowed private keys live (encrypted): sqlite (DATA_DIR/escrow.db, one host) or postgres (ESCROW_DATABASE_URL, several workers).' }),
  escrowDatabaseUrl: setting({ env: 'ESCROW_DATABASE_URL', path: 'escrow.databaseUrl', schema: optionalText, description: 'PostgreSQL URL for ESCROW_STORE=postgres, e.g. postgresql://user:password@host:5432/db?sslmode=verify-full.', secret: true }),
  escrowDatabaseAllowPlaintext: setting({ env: 'ESCROW_DATABASE_ALLOW_PLAINTEXT', path: 'escrow.databaseAllowPlaintext', schema: bool, default: 'false', description: 'Allow ESCROW_DATABASE_URL without verified TLS to a host that is not loopback. The risk: the database password and the (encrypted) escrow cross the network readable and unauthenticated. Without it the URL must say sslmode=verify-full (or verify-ca).' }),
  escrowClaimLease: setting({ env: 'ESCROW_CLAIM_LEASE', path: 'escrow.claimLease', schema: duration, default: '1h', description: 'How long a workflow holds the right to issue a shared credential before another device may take over (renewed while it waits for the CA).' }),
  archivedEncryptionKeys: setting({ env: 'ARCHIVED_ENCRYPTION_KEYS', path: 'escrow.archivedEncryptionKeys', schema: z.coerce.number().int().min(0).max(50), default: '5', description: 'How many of the user\'s earlier encryption keys go with each encryption upload as history, newest first, expired ones included (they still open old mail), so mail encrypted to an older certificate opens on the device. CEG takes them in the contract\'s archived list; UEM direct sends UEM\'s Archived list, which UEM documents as ignored for now. The keys stay escrowed either way. 0 sends none; at most 50.' }),
  escrowRenewWithin: setting({ env: 'ESCROW_RENEW_WITHIN', path: 'escrow.renewWithin', schema: duration, default: '30d', description: 'A shared credential whose certificate expires within this is renewed on the next enrollment (the old one is kept, superseded).' }),
  signingCredentialScope: setting({ env: 'SIGNING_CREDENTIAL_SCOPE', path: 'provisioning.signingCredentialScope', schema: z.enum(['device', 'user']), default: 'device', description: 'Signing credentials: one per device, or one per user shared by all their devices (encryption credentials are always one per user, escrowed).' }),

  // --- fleet: backfill, reconciliation, renewal ------------------------------------------------
  fleetRate: setting({ env: 'FLEET_RATE', path: 'fleet.ratePerSecond', schema: z.coerce.number().positive().max(1000), default: '40', description: 'Provisioning runs a backfill, reconciliation or renewal starts per second at most (CEG is sized for 40). A backfill or renewal may ask for less.' }),
  fleetPageSize: setting({ env: 'FLEET_PAGE_SIZE', path: 'fleet.pageSize', schema: positiveInt.max(500, 'UEM pages hold at most 500 devices'), default: '100', description: 'Devices per page of a fleet sweep (one UEM call and one activity per page).' }),
  reconcileEvery: setting({ env: 'RECONCILE_EVERY', path: 'fleet.reconcileEvery', schema: durationOrOff, default: '6h', description: 'How often the reconcile Schedule runs (created or updated when a worker starts); off pauses it.' }),
  reconcileSmartGroupId: setting({ env: 'RECONCILE_SMART_GROUP_ID', path: 'fleet.reconcileSmartGroupId', schema: optionalPositiveInt, description: 'Reconcile one smart group\'s devices instead of all of UEM\'s (the group the S/MIME profile is assigned to).' }),
  reconcileRetireLimit: setting({ env: 'RECONCILE_RETIRE_LIMIT', path: 'fleet.reconcileRetireLimit', schema: z.coerce.number().int().min(1).max(100), default: '25', description: 'Percent: a reconcile that would retire more than this share of the devices holding credentials (and more than 10) retires none and says why, so an empty or wrong UEM answer cannot wipe the fleet.' }),
  renewBefore: setting({ env: 'RENEW_BEFORE', path: 'fleet.renewBefore', schema: durationOrOff, default: '30d', description: 'The reconcile renews a device whose active credential expires within this; off: no automatic renewal.' }),
  uemSmimeProfileId: setting({ env: 'UEM_SMIME_PROFILE_ID', path: 'uem.smimeProfileId', schema: optionalPositiveInt, description: 'UEM id of the S/MIME profile, re-installed on a device after a renewal so the phone fetches its new credential. Unset: administrators get one notice per renewal batch naming the devices to re-push.' }),
  revokeSuperseded: setting({ env: 'REVOKE_SUPERSEDED', path: 'ca.revokeSuperseded', schema: bool, default: 'true', description: 'After a renewal delivered a new signing certificate, revoke the one it replaced (reason superseded); never before the new one is at the gateway.' }),

  // --- escrow gateway ------------------------------------------------------------------------------
  gatewayType: setting({ env: 'GATEWAY_TYPE', path: 'gateway.type', schema: z.enum(['ceg', 'uem-direct']), default: 'ceg', description: 'Where credentials go: ceg (Credential Escrow Gateway, mTLS) or uem-direct (UEM REST upload; UEM then holds the keys).' }),
  cegUrl: setting({ env: 'CEG_URL', path: 'gateway.ceg.url', schema: optionalText, description: 'Base URL of the Credential Escrow Gateway (https). Required when GATEWAY_TYPE=ceg.' }),
  cegClientCertFile: setting({ env: 'CEG_CLIENT_CERT', path: 'gateway.ceg.clientCertFile', schema: optionalText, description: 'PEM client certificate presented to CEG (mTLS). Required when GATEWAY_TYPE=ceg.' }),
  cegClientKeyFile: setting({ env: 'CEG_CLIENT_KEY', path: 'gateway.ceg.clientKeyFile', schema: optionalText, description: 'PEM private key of the CEG client certificate. Required when GATEWAY_TYPE=ceg.', secret: true }),
  cegCaFile: setting({ env: 'CEG_CA_FILE', path: 'gateway.ceg.caFile', schema: optionalText, description: 'PEM bundle that verifies CEG\'s server certificate (nothing else is trusted). Required when GATEWAY_TYPE=ceg.' }),
  gatewayTimeout: setting({ env: 'GATEWAY_TIMEOUT', path: 'gateway.timeout', schema: duration, default: '30s', description: 'Timeout of one gateway upload.' }),

  // --- UEM REST API (user look-up, direct upload) -------------------------------------------------
  uemApiUrl: setting({ env: 'UEM_API_URL', path: 'uem.apiUrl', schema: optionalText, description: 'UEM REST API base URL (https://asXXXX.awmdm.com). Empty: only emails from events are used.' }),
  uemApiUsername: setting({ env: 'UEM_API_USERNAME', path: 'uem.username', schema: optionalText, description: 'UEM REST Basic-auth user.' }),
  uemApiPassword: setting({ env: 'UEM_API_PASSWORD', path: 'uem.password', schema: optionalText, description: 'UEM REST Basic-auth password.', secret: true }),
  uemApiTenantCode: setting({ env: 'UEM_API_TENANT_CODE', path: 'uem.tenantCode', schema: optionalText, description: 'UEM REST API key, sent as aw-tenant-code.', secret: true }),
  uemOauthTokenUrl: setting({ env: 'UEM_OAUTH_TOKEN_URL', path: 'uem.oauth.tokenUrl', schema: optionalText, description: 'OAuth token URL for UEM (client credentials) instead of Basic auth.' }),
  uemOauthClientId: setting({ env: 'UEM_OAUTH_CLIENT_ID', path: 'uem.oauth.clientId', schema: optionalText, description: 'OAuth client id for UEM.' }),
  uemOauthClientSecret: setting({ env: 'UEM_OAUTH_CLIENT_SECRET', path: 'uem.oauth.clientSecret', schema: optionalText, description: 'OAuth client secret for UEM.', secret: true }),
  uemApiVersion: setting({ env: 'UEM_API_VERSION', path: 'uem.apiVersion', schema: z.enum(['v1', 'v2']), default: 'v2', description: "User look-up, always by EnrollmentUserUUID: v2 reads the user by UUID first (2 calls); v1 first tries UEM's v1 record for the event's EnrollmentUserId and takes it only if it names the same UUID (1 call when it does). See docs/uem-rest-contract.md." }),

  // --- failure notification -------------------------------------------------------------------
  notifiers: setting({ env: 'NOTIFIERS', path: 'notify.types', schema: list.pipe(z.array(z.enum(['log', 'webhook', 'email'])).min(1)), default: 'log', description: 'Failure notifiers: any of log, webhook, email.' }),
  notifyWebhookUrl: setting({ env: 'NOTIFY_WEBHOOK_URL', path: 'notify.webhook.url', schema: optionalText, description: 'URL the JSON failure notice is POSTed to: https, or http to a loopback address (see NOTIFY_WEBHOOK_ALLOW_PLAINTEXT).' }),
  notifyWebhookAllowPlaintext: setting({ env: 'NOTIFY_WEBHOOK_ALLOW_PLAINTEXT', path: 'notify.webhook.allowPlaintext', schema: bool, default: 'false', description: 'Allow an http:// NOTIFY_WEBHOOK_URL to a host that is not loopback. The risk: failure notices (user names, addresses) and their signatures travel readable. Without it the URL must be https (verified against the system trust store) or loopback.' }),
  notifyWebhookSecret: setting({ env: 'NOTIFY_WEBHOOK_SECRET', path: 'notify.webhook.hmacSecret', schema: optionalText, description: 'When set, the notice is signed: X-Signature-Timestamp = unix seconds, X-Signature-SHA256 = sha256=<hex HMAC-SHA256 of `${timestamp}.${body}`>.', secret: true }),
  smtpUrl: setting({ env: 'NOTIFY_SMTP_URL', path: 'notify.email.smtpUrl', schema: optionalText, description: 'SMTP server, smtps://host:port (TLS) or smtp://host:port (STARTTLS required unless loopback; see NOTIFY_SMTP_ALLOW_PLAINTEXT).' }),
  smtpAllowPlaintext: setting({ env: 'NOTIFY_SMTP_ALLOW_PLAINTEXT', path: 'notify.email.allowPlaintext', schema: bool, default: 'false', description: 'Let smtp:// to a host that is not loopback send without STARTTLS when the server does not offer it. The risk: failure emails (user names, addresses) travel readable and the relay is not authenticated. Without it smtp:// requires STARTTLS with a verified certificate (smtps:// is TLS from the start). A login always requires TLS.' }),
  smtpUser: setting({ env: 'NOTIFY_SMTP_USER', path: 'notify.email.user', schema: optionalText, description: 'SMTP user (when set, TLS is required so the password never travels in the clear).' }),
  smtpPassword: setting({ env: 'NOTIFY_SMTP_PASSWORD', path: 'notify.email.password', schema: optionalText, description: 'SMTP password.', secret: true }),
  emailFrom: setting({ env: 'NOTIFY_EMAIL_FROM', path: 'notify.email.from', schema: optionalText, description: 'Sender of failure emails.' }),
  emailTo: setting({ env: 'NOTIFY_EMAIL_TO', path: 'notify.email.to', schema: list, default: '', description: 'Recipients of failure emails, comma separated.' }),

  // --- local peers (dev stack and tests) -------------------------------------------------------
  cegSimPort: setting({ env: 'CEG_SIM_PORT', path: 'peers.cegSim.port', schema: port, default: '8443', description: 'CEG simulator HTTPS (mTLS) port.' }),
  cegSimAdminPort: setting({ env: 'CEG_SIM_ADMIN_PORT', path: 'peers.cegSim.adminPort', schema: port, default: '8444', description: 'CEG simulator loopback admin port (/sim/uploads, /sim/faults).' }),
  cegSimAllowedThumbprints: setting({ env: 'CEG_SIM_ALLOWED_THUMBPRINTS', path: 'peers.cegSim.allowedThumbprints', schema: list, default: '', description: 'SHA-256 thumbprints of client certificates the CEG simulator accepts. Empty: the dev client certificate.' }),
  orderCaSimPort: setting({ env: 'ORDER_CA_SIM_PORT', path: 'peers.orderCaSim.port', schema: port, default: '8445', description: 'Order-and-poll CA simulator port (dev stack, CA_TYPE=order-poll).' }),
  orderCaSimIssueAfter: setting({ env: 'ORDER_CA_SIM_ISSUE_AFTER', path: 'peers.orderCaSim.issueAfter', schema: duration, default: '2m', description: 'Order-and-poll CA simulator: how long a new order stays pending.' }),
  orderCaSimRejectEmails: setting({ env: 'ORDER_CA_SIM_REJECT_EMAILS', path: 'peers.orderCaSim.rejectEmails', schema: list, default: '', description: 'Order-and-poll CA simulator: addresses or @domains whose orders are rejected.' }),
  caRepositoryPort: setting({ env: 'CA_REPOSITORY_PORT', path: 'peers.caRepository.port', schema: port, default: '8446', description: 'Embedded CA repository (dev stack and tests): loopback HTTP port serving its CRLs and CA certificates, the URLs written into what it issues.' }),
  uemSimPort: setting({ env: 'UEM_SIM_PORT', path: 'peers.uemSim.port', schema: port, default: '8081', description: 'UEM simulator port (REST look-ups, direct upload).' }),
} satisfies Record<string, Setting<any>>;

export type SettingName = keyof typeof SETTINGS;
/** The parsed value of every setting; settings without a default may be undefined. */
export type Settings = { [K in SettingName]: z.output<(typeof SETTINGS)[K]['schema']> };
