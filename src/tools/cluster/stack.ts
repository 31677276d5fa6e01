/**
 * The production topology on one machine, as a library: `npm run cluster` runs it in a terminal,
 * the cluster fault suite and `npm run bench -- --target cluster` drive it (SIGKILL, restart,
 * measure). What it starts, in this order, and stops in the reverse order:
 *
 *   postgres                 PostgreSQL, TLS only (persistence, visibility, escrow)
 *   step-ca                  the S/MIME CA the workers request certificates from
 *   temporal-history, -matching, -frontend, -worker
 *                            Temporal's four services, mTLS among themselves and at the frontend
 *   temporal-ui              the Web UI server, decoding payloads through the provider's codec
 *   ceg-sim, uem-sim         the CEG and UEM simulators, as in npm run dev
 *   worker-1..n              provider workers: `node dist/worker.js`, production settings
 *   api-1..n                 API replicas: `node dist/src/api/main.js`, on loopback
 *   proxy                    HAProxy: TLS at https://127.0.0.1:<proxy>, balancing the replicas
 *
 * The provider's processes get every production setting explicitly (SEALING_KEYS, CODEC_KEYS,
 * the CEG client certificate, TEMPORAL_TLS_*, ESCROW_DATABASE_URL, the CA's URL and provisioner
 * key): nothing falls back to development material.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Agent, fetch as undiciFetch } from 'undici';
import { exitGuards, ManagedProcess, readProcessUsage, type ProcessUsage } from '../../../bench/processes';
import { Keyring, parseKeyringSpec } from '../../activities/crypto/sealing';
import { setupNamespace } from '../../cli/setup-namespace';
import { SETTINGS } from '../../config';
import { ensureDevPki, type DevPki } from '../../peers/dev-pki';
import { providerDataConverter } from '../../temporal/data-converter';
import { WORKFLOW_BUNDLE_FILE } from '../../temporal/workflow-code';
import { build, DIST } from '../build';
import { ensureDevCredentials, type DevCredentials } from '../dev-credentials';
import { projectPath } from '../paths';
import { ensureStepCa } from '../step-ca';
import type { LinePrinter } from '../supervisor';
import { waitForPort } from '../test-server';
import { ensureTemporalServer, ensureTemporalSqlTool, ensureTemporalUiServer } from '../temporal-server';
import { clusterLayout, defaultPorts, TEMPORAL_SERVICES, type ClusterLayout, type ClusterPorts, type TemporalService } from './layout';
import { clusterPki, ensureCa, ensureCertificate, type ClusterPki, type IssuedFiles } from './pki';
import { DATABASES, ensureDatabases, ESCROW_DB_USER, postgresUrl, preparePostgres, waitForPostgres } from './postgres';
import { findHaproxy, writeProxyConfig } from './proxy';
import { ensureClusterSecrets, type ClusterSecrets } from './secrets';
import { prepareStepCa, STEP_CA_PROVISIONER, waitForStepCa, type PreparedStepCa } from './step-ca';
import { serviceCommand, setupSchemas, writeTemporalConfigs } from './temporal';
import { writeUiConfig } from './ui';

export const NAMESPACE = 'default';
/** Processes stop() places itself; any other (workers, and whatever a test launched) stops with the workers. */
const FIXED_STOP_ORDER = new Set(['proxy', 'temporal-ui', 'ceg-sim', 'uem-sim', 'temporal-frontend', 'temporal-worker', 'temporal-matching', 'temporal-history', 'step-ca', 'postgres']);
const START_TIMEOUT_MS = 120_000;

export interface ClusterOptions {
  /** The data folder; the cluster lives in `<dataDir>/cluster/`. */
  dataDir: string;
  /** Default: npm run cluster's fixed ports (`defaultPorts`); tests pass `freePorts()`. */
  ports?: ClusterPorts;
  workers?: number;
  apis?: number;
  /** LOG_LEVEL of the provider's processes (default info). */
  logLevel?: string;
  /** Temporal's own log level (default warn: its info level is a line per shard movement). */
  temporalLogLevel?: string;
  /** Settings for the provider workers / API replicas on top of the cluster's. */
  workerEnv?: Record<string, string>;
  apiEnv?: Record<string, string>;
  /** Start the Temporal UI server (default true). */
  ui?: boolean;
  /** Compile dist/ when it is missing or older than the sources (default), always, or never. */
  build?: 'auto' | 'always' | 'never';
  /** Print every process's output on the terminal, prefixed (npm run cluster). */
  printer?: LinePrinter;
  /** Progress lines ("postgres: ready in 2.1 s"). */
  say?: (line: string) => void;
  /** A process exited that nobody stopped. */
  onUnexpectedExit?: (name: string, how: string) => void;
}

type Launch = () => Promise<ManagedProcess>;

export class Cluster {
  readonly layout: ClusterLayout;
  readonly ports: ClusterPorts;
  readonly pki: ClusterPki;
  readonly secrets: ClusterSecrets;
  readonly credentials: DevCredentials;
  readonly codecKeyring: Keyring;
  /** Seconds each start phase took, in order. */
  readonly startTimes: { phase: string; seconds: number }[] = [];
  private readonly processes = new Map<string, ManagedProcess>();
  private readonly launchers = new Map<string, Launch>();
  private readonly finished: { name: string; usage: ProcessUsage }[] = [];
  private readonly expectedExits = new Set<ManagedProcess>();
  private tools!: { server: string; sqlTool: string; uiServer?: string; stepCa: string; haproxy: string };
  private stepCa!: PreparedStepCa;
  private cegPki!: DevPki;
  private clientInstance?: Client;
  private connectionInstance?: Connection;
  private httpsAgent?: Agent;
  private stopping = false;

  private constructor(private readonly options: ClusterOptions & { workers: number; apis: number }) {
    this.layout = clusterLayout(options.dataDir);
    this.ports = options.ports ?? defaultPorts(options.workers, options.apis);
    this.pki = clusterPki(this.layout.pki);
    mkdirSync(this.layout.root, { recursive: true, mode: 0o755 });
    mkdirSync(this.layout.logs, { recursive: true });
    this.secrets = ensureClusterSecrets(this.layout.secretsFile);
    this.credentials = ensureDevCredentials(this.layout.root);
    this.codecKeyring = new Keyring(parseKeyringSpec([this.secrets.codecKeys], 'CODEC_KEYS'));
  }

  static async start(options: ClusterOptions): Promise<Cluster> {
    const cluster = new Cluster({ ...options, workers: options.workers ?? 2, apis: options.apis ?? 2 });
    try {
      await cluster.startAll();
    } catch (err) {
      await cluster.stop().catch(() => undefined);
      throw err;
    }
    return cluster;
  }

  // --- addresses ----------------------------------------------------------------------------------

  get proxyUrl(): string {
    return `https://127.0.0.1:${this.ports.proxy}`;
  }
  get webhookUrl(): string {
    return `${this.proxyUrl}/webhooks/uem`;
  }
  get webhookAuthorization(): string {
    return `Basic ${Buffer.from(`${this.credentials.webhookUser}:${this.credentials.webhookPassword}`).toString('base64')}`;
  }
  get temporalAddress(): string {
    return `127.0.0.1:${this.ports.frontend}`;
  }
  get uiUrl(): string {
    return `http://localhost:${this.ports.ui}`;
  }
  get cegAdminUrl(): string {
    return `http://127.0.0.1:${this.ports.cegSimAdmin}`;
  }
  get stepCaUrl(): string {
    return this.stepCa.url;
  }
  get stepCaRootFile(): string {
    return this.stepCa.rootFile;
  }
  workerMetricsUrl(n = 1): string {
    return `http://127.0.0.1:${this.ports.workerMetrics[n - 1]}/metrics`;
  }
  workerHealthUrl(n = 1): string {
    return `http://127.0.0.1:${this.ports.workerHealth[n - 1]}`;
  }
  logFile(name: string): string {
    return join(this.layout.logs, `${name}.log`);
  }
  get workerNames(): string[] {
    return Array.from({ length: this.options.workers }, (_, i) => `worker-${i + 1}`);
  }
  get apiNames(): string[] {
    return Array.from({ length: this.options.apis }, (_, i) => `api-${i + 1}`);
  }

  /** `fetch` that trusts the cluster CA (the proxy's certificate). */
  get fetch(): typeof fetch {
    this.httpsAgent ??= new Agent({ connect: { ca: readFileSync(this.pki.caFile, 'utf8') }, keepAliveTimeout: 5_000 });
    const dispatcher = this.httpsAgent;
    return ((input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => undiciFetch(input as never, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
  }

  /** The TLS options of a frontend client with the given client certificate (default: admin). */
  temporalTls(client: IssuedFiles = this.pki.files('admin')) {
    return {
      serverRootCACertificate: readFileSync(this.pki.caFile),
      serverNameOverride: 'localhost',
      clientCertPair: { crt: readFileSync(client.cert), key: readFileSync(client.key) },
    };
  }

  /** A client with the admin certificate and the provider's data converter. Reconnects after a failure. */
  async client(): Promise<Client> {
    if (!this.clientInstance) {
      this.connectionInstance = await Connection.connect({ address: this.temporalAddress, tls: this.temporalTls(), connectTimeout: 10_000 });
      this.clientInstance = new Client({ connection: this.connectionInstance, namespace: NAMESPACE, dataConverter: providerDataConverter(this.codecKeyring) });
    }
    return this.clientInstance;
  }

  // --- processes ------------------------------------------------------------------------------------

  process(name: string): ManagedProcess | undefined {
    return this.processes.get(name);
  }

  running(): string[] {
    return [...this.processes.entries()].filter(([, p]) => p.running).map(([name]) => name);
  }

  /** SIGKILL one process (its whole process group): a crash. */
  async kill(name: string): Promise<void> {
    await this.end(name, true);
  }

  /** Stop one process as its orchestrator would (its stop signal, then SIGKILL after `graceMs`). */
  async stopProcess(name: string, graceMs = 60_000): Promise<void> {
    await this.end(name, false, graceMs);
  }

  /** Start a stopped (or killed) process again, the way the cluster first started it; resolves when it is ready. */
  async restart(name: string): Promise<ManagedProcess> {
    const launch = this.launchers.get(name);
    if (!launch) throw new Error(`no process named ${name} in this cluster`);
    if (this.processes.get(name)?.running) throw new Error(`${name} is running`);
    return launch();
  }

  /** Start provider worker `n` with extra settings (e.g. a client certificate of another CA); resolves when it polls. */
  async startWorker(n: number, env: Record<string, string> = {}, name = `worker-${n}`): Promise<ManagedProcess> {
    return this.launchWorker(n, env, name);
  }

  /**
   * CPU seconds and peak memory per process since the cluster started (restarted processes summed).
   * PostgreSQL's figure includes its backends, which are separate processes that live as long as
   * their connections.
   */
  usage(): Record<string, ProcessUsage & { restarts: number }> {
    const result: Record<string, ProcessUsage & { restarts: number }> = {};
    const add = (name: string, usage: ProcessUsage, finished: boolean) => {
      const before = result[name];
      result[name] = before
        ? { pid: usage.pid, cpuSeconds: before.cpuSeconds + usage.cpuSeconds, peakRssBytes: Math.max(before.peakRssBytes, usage.peakRssBytes), restarts: before.restarts + (finished ? 1 : 0) }
        : { ...usage, restarts: finished ? 1 : 0 };
    };
    for (const { name, usage } of this.finished) add(name, usage, true);
    for (const [name, child] of this.processes) {
      const usage = name === 'postgres' ? treeUsage(child.pid) : child.usage();
      if (usage) add(name, usage, false);
    }
    return result;
  }

  /** Everything, in the reverse of the start order; the data stays for the next start. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.connectionInstance?.close().catch(() => undefined);
    this.connectionInstance = undefined;
    this.clientInstance = undefined;
    await this.httpsAgent?.close().catch(() => undefined);
    const order: string[][] = [
      ['proxy'],
      [...this.processes.keys()].filter((n) => /^api-\d+$/.test(n)),
      [...this.processes.keys()].filter((n) => !FIXED_STOP_ORDER.has(n) && !/^api-\d+$/.test(n)),
      ['temporal-ui', 'ceg-sim', 'uem-sim'],
      ['temporal-frontend'],
      ['temporal-worker', 'temporal-matching', 'temporal-history'],
      ['step-ca'],
      ['postgres'],
    ];
    for (const wave of order) await Promise.all(wave.map((name) => this.end(name, false, 60_000)));
    // Anything not named above (nothing, unless a test started extras).
    await Promise.all([...this.processes.keys()].map((name) => this.end(name, false)));
    this.writePids();
  }

  // --- start ------------------------------------------------------------------------------------------

  private say(line: string): void {
    this.options.say?.(line);
  }

  private async phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const started = Date.now();
    const result = await fn();
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    this.startTimes.push({ phase: name, seconds });
    this.say(`${name}: ${seconds} s`);
    return result;
  }

  private async startAll(): Promise<void> {
    const { layout, ports, pki } = this;
    this.tools = await this.phase('tools', async () => ({
      server: await ensureTemporalServer(),
      sqlTool: await ensureTemporalSqlTool(),
      uiServer: this.options.ui === false ? undefined : await ensureTemporalUiServer(),
      stepCa: await ensureStepCa(),
      haproxy: findHaproxy(),
    }));
    await this.phase('build', () => this.ensureBuild());

    const certs = await this.phase('pki', async () => {
      await ensureCa(pki);
      const local = { dns: ['localhost'], ips: ['127.0.0.1'] };
      const issued = {
        frontend: await ensureCertificate(pki, 'temporal-frontend', { use: 'server', ...local }),
        internode: await ensureCertificate(pki, 'temporal-internode', { use: 'server+client', ...local }),
        postgres: await ensureCertificate(pki, 'postgres', { use: 'server', ...local }),
        proxy: await ensureCertificate(pki, 'proxy', { use: 'server', ...local, bundle: true }),
        admin: await ensureCertificate(pki, 'admin', { use: 'client', commonName: 'cluster-admin' }),
        api: await ensureCertificate(pki, 'api', { use: 'client', commonName: 'smime-api' }),
      };
      for (let n = 1; n <= this.options.workers; n++) await ensureCertificate(pki, `worker-${n}`, { use: 'client', commonName: `smime-worker-${n}` });
      this.cegPki = await ensureDevPki(layout.ceg);
      return issued;
    });

    await this.phase('postgres', async () => {
      const launch = async () => {
        const prepared = await preparePostgres({ dir: layout.postgres, port: ports.postgres, pki, serverCert: certs.postgres, secrets: this.secrets });
        if (prepared.created) this.say(`postgres: new cluster in ${prepared.dataDir}`);
        const child = this.launch('postgres', { command: prepared.command, args: prepared.args, env: { ...cleanEnv(), LC_ALL: 'C', LANG: 'C' }, cwd: layout.postgres, uid: prepared.uid, gid: prepared.gid, stopSignal: 'SIGINT', signalGroup: false });
        await waitForPostgres({ port: ports.postgres, password: this.secrets.postgresPassword, caFile: pki.caFile, timeoutMs: START_TIMEOUT_MS, exited: child.exited });
        return child;
      };
      this.launchers.set('postgres', launch);
      await launch();
      await ensureDatabases({ port: ports.postgres, caFile: pki.caFile, secrets: this.secrets });
    });
    await this.phase('temporal schemas', () =>
      setupSchemas({ sqlTool: this.tools.sqlTool, port: ports.postgres, password: this.secrets.temporalDbPassword, caFile: pki.caFile, log: (line) => this.say(`schema: ${line}`) }),
    );

    await this.phase('step-ca', async () => {
      this.stepCa = await prepareStepCa({ dir: layout.stepCa, port: ports.stepCa });
      const launch = async () => {
        const child = this.launch('step-ca', { command: this.tools.stepCa, args: this.stepCa.command.args, env: { ...cleanEnv(), ...this.stepCa.command.env }, cwd: layout.stepCa });
        await waitForStepCa(this.stepCa.url, this.stepCa.rootFile, START_TIMEOUT_MS, child.exited);
        return child;
      };
      this.launchers.set('step-ca', launch);
      await launch();
    });

    await this.phase('temporal', async () => {
      writeTemporalConfigs({ dir: layout.temporal, ports, pki, tls: { frontend: certs.frontend, internode: certs.internode }, dbPassword: this.secrets.temporalDbPassword, logLevel: this.options.temporalLogLevel ?? 'warn' });
      for (const service of TEMPORAL_SERVICES) {
        const launch = async () => {
          const child = this.launch(`temporal-${service}`, { ...serviceCommand(this.tools.server, layout.temporal, service), env: cleanEnv(), cwd: layout.temporal });
          await this.waitForService(service, child);
          return child;
        };
        this.launchers.set(`temporal-${service}`, launch);
      }
      // History first: on a new database the first service to start records the cluster's metadata,
      // and services starting at the same moment would race to insert it (and fail on the
      // duplicate). The other three then start together.
      await this.launchers.get('temporal-history')!();
      await Promise.all(TEMPORAL_SERVICES.filter((s) => s !== 'history').map((service) => this.launchers.get(`temporal-${service}`)!()));
      const connection = await Connection.connect({ address: this.temporalAddress, tls: this.temporalTls(), connectTimeout: 10_000 });
      try {
        await setupNamespace(connection, { namespace: NAMESPACE, create: { retentionMs: 3 * 86_400_000 }, waitMs: START_TIMEOUT_MS, log: (line) => this.say(`temporal: ${line}`) });
        await this.waitForServing(connection);
      } finally {
        await connection.close();
      }
    });

    if (this.tools.uiServer) {
      await this.phase('temporal-ui', async () => {
        const { args } = writeUiConfig({ dir: layout.ui, port: ports.ui, frontendPort: ports.frontend, caFile: pki.caFile, client: pki.files('admin'), codecEndpoint: `${this.proxyUrl}/codec`, namespace: NAMESPACE });
        const launch = async () => {
          const child = this.launch('temporal-ui', { command: this.tools.uiServer!, args, env: cleanEnv(), cwd: layout.ui });
          await waitForHttp(`http://127.0.0.1:${ports.ui}/`, START_TIMEOUT_MS, child.exited);
          return child;
        };
        this.launchers.set('temporal-ui', launch);
        await launch();
      });
    }

    await this.phase('simulators', async () => {
      const simEnv = {
        ...cleanEnv(),
        LOG_LEVEL: this.options.logLevel ?? 'info',
        DATA_DIR: layout.ceg,
        CEG_SIM_PORT: String(ports.cegSim),
        CEG_SIM_ADMIN_PORT: String(ports.cegSimAdmin),
        UEM_SIM_PORT: String(ports.uemSim),
        UEM_API_USERNAME: this.credentials.uemApiUser,
        UEM_API_PASSWORD: this.credentials.uemApiPassword,
        UEM_API_TENANT_CODE: this.credentials.uemTenantCode,
      };
      const tsx = (file: string) => ({ command: process.execPath, args: ['--require', 'tsx/cjs', projectPath(file)] });
      const ceg = async () => {
        const child = this.launch('ceg-sim', { ...tsx('src/peers/ceg-sim/main.ts'), env: simEnv, cwd: projectPath() });
        await Promise.race([waitForPortOpen(ports.cegSimAdmin, START_TIMEOUT_MS), child.exited.then((how) => Promise.reject(new Error(`ceg-sim exited (${how})\n${child.recentOutput()}`)))]);
        return child;
      };
      const uem = async () => {
        const child = this.launch('uem-sim', { ...tsx('src/peers/uem-sim/main.ts'), env: simEnv, cwd: projectPath() });
        await child.waitForLine(/UEM simulator listening/, START_TIMEOUT_MS);
        return child;
      };
      this.launchers.set('ceg-sim', ceg);
      this.launchers.set('uem-sim', uem);
      await Promise.all([ceg(), uem()]);
    });

    await this.phase('provider', async () => {
      for (let n = 1; n <= this.options.workers; n++) this.launchers.set(`worker-${n}`, () => this.launchWorker(n, {}, `worker-${n}`));
      for (let n = 1; n <= this.options.apis; n++) this.launchers.set(`api-${n}`, () => this.launchApi(n));
      await Promise.all([...this.workerNames, ...this.apiNames].map((name) => this.launchers.get(name)!()));
    });

    await this.phase('proxy', async () => {
      const { args } = writeProxyConfig({
        dir: layout.proxy,
        port: ports.proxy,
        certBundle: certs.proxy.bundle!,
        apiPorts: ports.api,
        repository: { port: ports.pkiRepository, stepCaPort: ports.stepCa, stepCaRootFile: this.stepCa.rootFile, issuerDerFile: this.stepCa.issuerDerFile },
      });
      const launch = async () => {
        const child = this.launch('proxy', { command: this.tools.haproxy, args, env: cleanEnv(), cwd: layout.proxy, stopSignal: 'SIGUSR1' });
        await this.waitForProxy(child);
        return child;
      };
      this.launchers.set('proxy', launch);
      await launch();
    });
  }

  private async ensureBuild(): Promise<void> {
    const mode = this.options.build ?? 'auto';
    if (mode === 'never') return;
    const bundle = join(DIST, WORKFLOW_BUNDLE_FILE);
    let builtAt = 0;
    try {
      builtAt = statSync(bundle).mtimeMs;
    } catch {
      // not built
    }
    // What dist/ is built from: production sources (src/tools is dev tooling, never built).
    const newest = Math.max(newestMtime(projectPath('src'), [projectPath('src', 'tools')]), statSync(projectPath('worker.ts')).mtimeMs, statSync(projectPath('package.json')).mtimeMs);
    if (mode === 'always' || newest > builtAt) {
      this.say(builtAt === 0 ? 'build: dist/ missing, running npm run build' : 'build: sources changed since the last build, running npm run build');
      await build();
    } else this.say('build: dist/ is current');
  }

  private providerEnv(dataDir: string, temporalClient: IssuedFiles): NodeJS.ProcessEnv {
    const { ports, pki } = this;
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    return {
      ...cleanEnv(),
      DATA_DIR: dataDir,
      LOG_LEVEL: this.options.logLevel ?? 'info',
      TEMPORAL_ADDRESS: this.temporalAddress,
      TEMPORAL_NAMESPACE: NAMESPACE,
      TEMPORAL_TLS: 'true',
      TEMPORAL_TLS_SERVER_CA: pki.caFile,
      TEMPORAL_TLS_SERVER_NAME: 'localhost',
      TEMPORAL_TLS_CLIENT_CERT: temporalClient.cert,
      TEMPORAL_TLS_CLIENT_KEY: temporalClient.key,
      TEMPORAL_UI_URL: this.uiUrl,
      SEALING_KEYS: this.secrets.sealingKeys,
      CODEC_KEYS: this.secrets.codecKeys,
      ESCROW_STORE: 'postgres',
      ESCROW_DATABASE_URL: postgresUrl(ESCROW_DB_USER, this.secrets.escrowDbPassword, ports.postgres, DATABASES.escrow, pki.caFile),
      CA_TYPE: 'step-ca',
      CA_URL: this.stepCa.url,
      CA_ROOT_FILE: this.stepCa.rootFile,
      STEP_CA_PROVISIONER: STEP_CA_PROVISIONER,
      STEP_CA_PROVISIONER_KEY_FILE: this.stepCa.provisionerKeyFile,
      // What the certificates name: the CA's repository, published over plain HTTP by the proxy.
      CERT_CRL_URL: `http://127.0.0.1:${ports.pkiRepository}/crl`,
      CERT_CA_ISSUERS_URL: `http://127.0.0.1:${ports.pkiRepository}/issuer.crt`,
      GATEWAY_TYPE: 'ceg',
      CEG_URL: `https://localhost:${ports.cegSim}`,
      CEG_CLIENT_CERT: this.cegPki.clientCertPath,
      CEG_CLIENT_KEY: this.cegPki.clientKeyPath,
      CEG_CA_FILE: this.cegPki.caCertPath,
      CEG_RECIPIENT_CERT: this.cegPki.recipientCertPath,
      UEM_API_URL: `http://127.0.0.1:${ports.uemSim}`,
      UEM_API_USERNAME: this.credentials.uemApiUser,
      UEM_API_PASSWORD: this.credentials.uemApiPassword,
      UEM_API_TENANT_CODE: this.credentials.uemTenantCode,
      UEM_WEBHOOK_USERS: `${this.credentials.webhookUser}:${this.credentials.webhookPassword}`,
      API_TOKENS: `${this.credentials.operatorToken}:operator,${this.credentials.viewerToken}:viewer`,
      CODEC_CORS_ORIGINS: `http://localhost:${ports.ui},http://127.0.0.1:${ports.ui}`,
      // The replicas sit behind the proxy on loopback: believe its X-Forwarded-For and -Proto.
      API_TRUST_PROXY: 'loopback',
    };
  }

  /** Every setting worker `n` runs with (the deployment tests start the same worker from elsewhere). */
  workerSettings(n: number, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const { ports } = this;
    return {
      ...this.providerEnv(this.layout.worker(n), this.pki.files(`worker-${n}`)),
      WORKER_METRICS_HOST: '127.0.0.1',
      WORKER_METRICS_PORT: String(ports.workerMetrics[n - 1]),
      WORKER_HEALTH_HOST: '127.0.0.1',
      WORKER_HEALTH_PORT: String(ports.workerHealth[n - 1]),
      ...this.options.workerEnv,
      ...extra,
    };
  }

  /** Every setting API replica `n` runs with. */
  apiSettings(n: number): NodeJS.ProcessEnv {
    return { ...this.providerEnv(this.layout.api(n), this.pki.files('api')), API_HOST: '127.0.0.1', API_PORT: String(this.ports.api[n - 1]), ...this.options.apiEnv };
  }

  /** Run another process as part of the cluster: output in logs/<name>.log, stopped with the rest. */
  launchProcess(name: string, spec: { command: string; args: string[]; env: NodeJS.ProcessEnv; cwd?: string }): ManagedProcess {
    return this.launch(name, spec);
  }

  private async launchWorker(n: number, extra: Record<string, string>, name: string): Promise<ManagedProcess> {
    const child = this.launch(name, { command: process.execPath, args: [join(DIST, 'worker.js')], env: this.workerSettings(n, extra), cwd: projectPath() });
    await child.waitForLine(/"msg":"worker polling"/, START_TIMEOUT_MS);
    return child;
  }

  private async launchApi(n: number): Promise<ManagedProcess> {
    const env = this.apiSettings(n);
    const child = this.launch(`api-${n}`, { command: process.execPath, args: [join(DIST, 'src/api/main.js')], env, cwd: projectPath() });
    await child.waitForLine(/"msg":"API listening"/, START_TIMEOUT_MS);
    return child;
  }

  private launch(name: string, spec: { command: string; args: string[]; env: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number; stopSignal?: NodeJS.Signals; signalGroup?: boolean }): ManagedProcess {
    if (this.processes.get(name)?.running) throw new Error(`${name} is already running`);
    const printer = this.options.printer;
    const child = new ManagedProcess({ name, ...spec, logFile: this.logFile(name), onLine: printer ? (line) => printer.print(name, line) : undefined });
    this.processes.set(name, child);
    this.writePids();
    void child.exited.then((how) => {
      if (this.processes.get(name) === child && !this.expectedExits.has(child)) {
        this.finished.push({ name, usage: child.usage() ?? { pid: child.pid, cpuSeconds: 0, peakRssBytes: 0 } });
        this.processes.delete(name);
        this.writePids();
        if (!this.stopping) this.options.onUnexpectedExit?.(name, how);
      }
    });
    return child;
  }

  private async end(name: string, kill: boolean, graceMs = 10_000): Promise<void> {
    const child = this.processes.get(name);
    if (!child) return;
    this.expectedExits.add(child);
    const before = name === 'postgres' ? treeUsage(child.pid) : child.usage();
    if (kill) await child.kill();
    else await child.stop(graceMs);
    this.processes.delete(name);
    const usage = child.usage() ?? before;
    if (usage) this.finished.push({ name, usage: before && before.cpuSeconds > usage.cpuSeconds ? before : usage });
    this.writePids();
  }

  private writePids(): void {
    const pids = Object.fromEntries([...this.processes.entries()].filter(([, p]) => p.running).map(([name, p]) => [name, p.pid]));
    try {
      writeFileSync(this.layout.pidsFile, `${JSON.stringify(pids, null, 2)}\n`);
    } catch {
      // the data folder went away (a test cleaning up): nothing to record
    }
  }

  /**
   * A Temporal service is up when its port accepts connections: the gRPC port, or for the worker
   * service (which serves no gRPC) its membership port. Serving requests is checked afterwards.
   */
  private async waitForService(service: TemporalService, child: ManagedProcess): Promise<void> {
    const port = { frontend: this.ports.frontend, history: this.ports.history, matching: this.ports.matching, worker: this.ports.membership.worker }[service];
    await Promise.race([waitForPortOpen(port, START_TIMEOUT_MS), child.exited.then((how) => Promise.reject(new Error(`temporal-${service} exited (${how})\n${child.recentOutput()}`)))]);
  }

  /**
   * The services serve requests once the membership ring has formed: the first seconds answer
   * "Not enough hosts to serve the request". Poll calls that need history and matching.
   */
  private async waitForServing(connection: Connection): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        await connection.workflowService.describeTaskQueue({ namespace: NAMESPACE, taskQueue: { name: 'cluster-readiness' }, taskQueueType: 1 });
        try {
          await connection.workflowService.describeWorkflowExecution({ namespace: NAMESPACE, execution: { workflowId: 'cluster-readiness' } });
        } catch (err) {
          if ((err as { code?: number }).code !== 5 /* NOT_FOUND: history answered */) throw err;
        }
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`Temporal did not serve requests in ${START_TIMEOUT_MS / 1000}s: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private async waitForProxy(child: ManagedProcess): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (!child.running) throw new Error(`proxy exited while starting\n${child.recentOutput()}`);
      try {
        const response = await this.fetch(`${this.proxyUrl}/readyz`);
        await response.arrayBuffer();
        if (response.status === 200) return;
      } catch {
        // not listening yet, or no replica checked healthy yet
      }
      if (Date.now() > deadline) throw new Error(`the proxy did not answer /readyz with 200 in ${START_TIMEOUT_MS / 1000}s\n${child.recentOutput()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** The caller's environment without any provider setting (PATH, HOME and the like stay). */
function cleanEnv(): NodeJS.ProcessEnv {
  const names = new Set<string>(Object.values(SETTINGS).map((s) => (s as { env: string }).env));
  for (const extra of ['CONFIG_FILE', 'NODE_OPTIONS', 'TEMPORAL_ADDRESS']) names.add(extra);
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !names.has(key)));
}

function newestMtime(dir: string, skip: string[] = []): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (skip.includes(path)) continue;
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path, skip));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function waitForPortOpen(port: number, timeoutMs: number): Promise<void> {
  return waitForPort(port, timeoutMs);
}

async function waitForHttp(url: string, timeoutMs: number, exited: Promise<string>): Promise<void> {
  let gone: string | undefined;
  void exited.then((how) => (gone = how));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.status < 500) return;
    } catch {
      // not yet
    }
    if (gone) throw new Error(`${url}: the server exited (${gone})`);
    if (Date.now() > deadline) throw new Error(`${url} did not answer in ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * CPU of a process and every descendant alive now (PostgreSQL's backends are children of the
 * postmaster for as long as their connections last), plus what reaped ones left in cutime.
 */
export function treeUsage(pid: number): ProcessUsage | undefined {
  const root = readProcessUsage(pid);
  if (!root) return undefined;
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  let cpuSeconds = root.cpuSeconds;
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length > 0) {
    const child = queue.pop()!;
    cpuSeconds += readProcessUsage(child)?.cpuSeconds ?? 0;
    queue.push(...(children.get(child) ?? []));
  }
  return { ...root, cpuSeconds };
}

/** Turn off bench/processes' SIGINT guard: `npm run cluster` stops its processes itself, in order. */
export function manageSignalsYourself(): void {
  exitGuards.onSignals = false;
}
