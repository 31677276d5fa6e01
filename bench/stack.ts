/**
 * A stack of real processes for the benchmark and the fault suite: the Temporal CLI dev server
 * (SQLite file), the CEG simulator, the UEM simulator, the worker and the API — the same programs
 * `npm run dev` starts, configured the same way, but on free ephemeral ports, in a temporary data
 * folder, with output in log files, and with handles to stop, SIGKILL and restart any one of them.
 *
 * The environment is built from the settings' defaults, not the caller's shell: a stray
 * KEY_POOL_SIZE or TEMPORAL_ADDRESS in a developer's environment must not change what is measured.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Keyring, parseKeyringSpec } from '../src/activities/crypto/sealing';
import { SETTINGS } from '../src/config';
import { ensureDevCredentials, type DevCredentials } from '../src/tools/dev-credentials';
import { developmentSettings } from '../src/tools/dev-settings';
import { projectPath } from '../src/tools/paths';
import { devServerArgs, readStackFile } from '../src/tools/stack-file';
import { ensureTemporalCli } from '../src/tools/temporal-cli';
import { waitForPort } from '../src/tools/test-server';
import { providerDataConverter } from '../src/temporal/data-converter';
import { memoryProbeArgs } from './memory';
import { ManagedProcess, type ProcessUsage } from './processes';

export interface StackOptions {
  /** Names the temporary data folder (`<tmp>/<label>-XXXX`). */
  label: string;
  /** Settings for the worker on top of the defaults (e.g. { KEY_ALGORITHM: 'ec' }); startWorker() without settings uses these. */
  workerEnv?: Record<string, string>;
  /** Start the worker with the stack (default true). */
  startWorker?: boolean;
  /** Settings for the API on top of the defaults (e.g. { PROVISION_SCHEDULE: 'event-driven' }). */
  apiEnv?: Record<string, string>;
  /** LOG_LEVEL of the provider's processes (default info, as in production). */
  logLevel?: string;
  /** Keep the data folder after stop() (for a post-mortem); default false. */
  keepDataDir?: boolean;
  /** Dynamic config of the dev server on top of temporal-dev.yml's; null removes a key. */
  temporalDynamicConfig?: Record<string, string | number | boolean | null>;
  /** More `temporal server start-dev` arguments (e.g. --sqlite-pragma journal_mode=wal). */
  temporalExtraArgs?: string[];
  /** Preload bench/memory-probe.ts into the worker and the API (heap figures per thread in `memoryDir`). */
  memoryProbe?: boolean;
}

export interface StackPorts {
  temporal: number;
  temporalUi: number;
  temporalMetrics: number;
  api: number;
  workerMetrics: number;
  cegSim: number;
  cegSimAdmin: number;
  uemSim: number;
}

/** The provider's processes are TypeScript run through tsx's require hook, as `npm run dev` does (first, so further preloads may be TypeScript). */
const NODE_WITH_TSX = (file: string, nodeArgs: string[] = []) => ({ command: process.execPath, args: ['--require', 'tsx/cjs', ...nodeArgs, projectPath(file)] });
const START_TIMEOUT_MS = 120_000;

export class BenchStack {
  readonly dataDir: string;
  readonly ports: StackPorts;
  readonly credentials: DevCredentials;
  readonly codecKeyring: Keyring;
  /** The environment every provider process gets (before per-process overrides). */
  readonly env: NodeJS.ProcessEnv;
  private readonly processes = new Map<string, ManagedProcess>();
  /** Usage of processes that have exited, so a restarted worker's earlier peak is not lost. */
  private readonly finished: { name: string; usage: ProcessUsage }[] = [];
  private readonly options: StackOptions;
  private temporalCli = '';
  private connection?: Connection;
  private clientInstance?: Client;

  private constructor(options: StackOptions, dataDir: string, ports: StackPorts, credentials: DevCredentials, development: Record<string, string>) {
    this.options = options;
    this.dataDir = dataDir;
    this.ports = ports;
    this.credentials = credentials;
    this.codecKeyring = new Keyring(parseKeyringSpec([development.CODEC_KEYS!], 'CODEC_KEYS'));
    this.env = {
      ...withoutProviderSettings(process.env),
      // Development keys, PKI and DEV_MODE, made once in the data folder: every process (and the
      // bench's own client) agrees on them without racing to create files.
      ...development,
      DATA_DIR: dataDir,
      LOG_LEVEL: options.logLevel ?? 'info',
      TEMPORAL_ADDRESS: `127.0.0.1:${ports.temporal}`,
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_UI_URL: `http://localhost:${ports.temporalUi}`,
      API_PORT: String(ports.api),
      API_HOST: '127.0.0.1',
      WORKER_METRICS_PORT: String(ports.workerMetrics),
      WORKER_METRICS_HOST: '127.0.0.1',
      CEG_SIM_PORT: String(ports.cegSim),
      CEG_SIM_ADMIN_PORT: String(ports.cegSimAdmin),
      UEM_SIM_PORT: String(ports.uemSim),
      UEM_WEBHOOK_USERS: `${credentials.webhookUser}:${credentials.webhookPassword}`,
      API_TOKENS: `${credentials.operatorToken}:operator,${credentials.viewerToken}:viewer`,
      UEM_API_URL: `http://127.0.0.1:${ports.uemSim}`,
      UEM_API_USERNAME: credentials.uemApiUser,
      UEM_API_PASSWORD: credentials.uemApiPassword,
      UEM_API_TENANT_CODE: credentials.uemTenantCode,
      CEG_URL: `https://localhost:${ports.cegSim}`,
      // The encrypted-password path, as the dev stack exercises it.
      CEG_RECIPIENT_CERT: join(dataDir, 'dev-pki', 'recipient.crt'),
    };
  }

  static async start(options: StackOptions): Promise<BenchStack> {
    const dataDir = mkdtempSync(join(tmpdir(), `${options.label}-`));
    mkdirSync(join(dataDir, 'logs'));
    const ports: StackPorts = {
      temporal: await freePort(),
      temporalUi: await freePort(),
      temporalMetrics: await freePort(),
      api: await freePort(),
      workerMetrics: await freePort(),
      cegSim: await freePort(),
      cegSimAdmin: await freePort(),
      uemSim: await freePort(),
    };
    const stack = new BenchStack(options, dataDir, ports, ensureDevCredentials(dataDir), await developmentSettings(dataDir));
    try {
      stack.temporalCli = await ensureTemporalCli();
      await stack.startTemporal();
      await stack.startPeers();
      if (options.startWorker ?? true) await stack.startWorker();
      await stack.startApi();
    } catch (err) {
      await stack.stop();
      throw err;
    }
    return stack;
  }

  get temporalAddress(): string {
    return `127.0.0.1:${this.ports.temporal}`;
  }
  get apiUrl(): string {
    return `http://127.0.0.1:${this.ports.api}`;
  }
  get webhookUrl(): string {
    return `${this.apiUrl}/webhooks/uem`;
  }
  get cegAdminUrl(): string {
    return `http://127.0.0.1:${this.ports.cegSimAdmin}`;
  }
  get workerMetricsUrl(): string {
    return `http://127.0.0.1:${this.ports.workerMetrics}/metrics`;
  }
  /** The dev server's own Prometheus metrics (requests by operation, among others). */
  get temporalMetricsUrl(): string {
    return `http://127.0.0.1:${this.ports.temporalMetrics}/metrics`;
  }
  get uemSimUrl(): string {
    return `http://127.0.0.1:${this.ports.uemSim}`;
  }
  /** Where the memory probe (options.memoryProbe) writes its figures and heap snapshots. */
  get memoryDir(): string {
    return join(this.dataDir, 'memory');
  }
  get embeddedCaDir(): string {
    return join(this.dataDir, 'embedded-ca');
  }
  get webhookAuthorization(): string {
    return `Basic ${Buffer.from(`${this.credentials.webhookUser}:${this.credentials.webhookPassword}`).toString('base64')}`;
  }

  process(name: string): ManagedProcess | undefined {
    return this.processes.get(name);
  }

  /** A client with the provider's data converter (it reads encrypted payloads). Reconnects after a server restart. */
  async client(): Promise<Client> {
    if (!this.clientInstance) {
      this.connection = await Connection.connect({ address: this.temporalAddress });
      this.clientInstance = new Client({ connection: this.connection, namespace: 'default', dataConverter: providerDataConverter(this.codecKeyring) });
    }
    return this.clientInstance;
  }

  // --- Temporal ---------------------------------------------------------------------------------

  async startTemporal(): Promise<void> {
    const file = readStackFile();
    const dynamicConfig: Record<string, string | number | boolean> = { ...file.temporal.dynamicConfig };
    for (const [key, value] of Object.entries(this.options.temporalDynamicConfig ?? {})) {
      if (value === null) delete dynamicConfig[key];
      else dynamicConfig[key] = value;
    }
    const stackFile = { ...file, temporal: { ...file.temporal, metricsPort: this.ports.temporalMetrics, dynamicConfig } };
    const args = [...devServerArgs(stackFile, this.dataDir, { port: this.ports.temporal, uiPort: this.ports.temporalUi, codecEndpoint: '' }), ...(this.options.temporalExtraArgs ?? [])];
    this.launch({ name: 'temporal', command: this.temporalCli, args });
    await waitForPort(this.ports.temporal, START_TIMEOUT_MS);
    await waitForTemporal(this.temporalAddress, START_TIMEOUT_MS);
  }

  /** Stop the dev server (SIGTERM, or SIGKILL with `kill`); its SQLite file stays for startTemporal(). */
  async stopTemporal(options: { kill?: boolean } = {}): Promise<void> {
    await this.end('temporal', options.kill ?? false);
  }

  // --- peers, worker, API -----------------------------------------------------------------------

  private async startPeers(): Promise<void> {
    const ceg = this.launch({ name: 'ceg-sim', ...NODE_WITH_TSX('src/peers/ceg-sim/main.ts') });
    await Promise.race([waitForPort(this.ports.cegSimAdmin, START_TIMEOUT_MS), ceg.exited.then((how) => Promise.reject(new Error(`ceg-sim exited (${how})\n${ceg.recentOutput()}`)))]);
    const uem = this.launch({ name: 'uem-sim', ...NODE_WITH_TSX('src/peers/uem-sim/main.ts') });
    await Promise.race([waitForPort(this.ports.uemSim, START_TIMEOUT_MS), uem.exited.then((how) => Promise.reject(new Error(`uem-sim exited (${how})\n${uem.recentOutput()}`)))]);
  }

  /**
   * Start a worker (`worker.ts`) with these settings on top of the stack's; resolves once it polls.
   * `nodeArgs` go to node itself (e.g. --cpu-prof, which NODE_OPTIONS does not accept).
   */
  async startWorker(env: Record<string, string> = this.options.workerEnv ?? {}, options: { name?: string; nodeArgs?: string[] } = {}): Promise<ManagedProcess> {
    const worker = this.launch({ name: options.name ?? 'worker', ...NODE_WITH_TSX('worker.ts', [...(options.nodeArgs ?? []), ...this.probeArgs()]) }, { ...this.probeEnv(), ...env });
    await worker.waitForLine(/"msg":"worker polling"/, START_TIMEOUT_MS);
    return worker;
  }

  /** Start another program as a worker-like process (the bench's floor worker); resolves on `readyPattern`. */
  async startProgram(name: string, file: string, env: Record<string, string>, readyPattern: RegExp): Promise<ManagedProcess> {
    const child = this.launch({ name, ...NODE_WITH_TSX(file, this.probeArgs()) }, { ...this.probeEnv(), ...env });
    await child.waitForLine(readyPattern, START_TIMEOUT_MS);
    return child;
  }

  async startApi(env: Record<string, string> = this.options.apiEnv ?? {}): Promise<ManagedProcess> {
    const api = this.launch({ name: 'api', ...NODE_WITH_TSX('src/api/main.ts', this.probeArgs()) }, { ...this.probeEnv(), ...env });
    await api.waitForLine(/"msg":"API listening"/, START_TIMEOUT_MS);
    return api;
  }

  /** Graceful stop (SIGTERM, drain) of one process. */
  async stopProcess(name: string): Promise<void> {
    await this.end(name, false);
  }

  /** SIGKILL one process: no drain, no clean-up — a crash. */
  async killProcess(name: string): Promise<void> {
    await this.end(name, true);
  }

  /** CPU seconds and peak memory of every process started so far (restarted ones: the highest peak, the summed CPU). */
  usage(): Record<string, ProcessUsage & { restarts: number }> {
    const result: Record<string, ProcessUsage & { restarts: number }> = {};
    const add = (name: string, usage: ProcessUsage, finished: boolean) => {
      const key = name.replace(/-\d+$/, '');
      const before = result[key];
      result[key] = before
        ? { pid: usage.pid, cpuSeconds: before.cpuSeconds + usage.cpuSeconds, peakRssBytes: Math.max(before.peakRssBytes, usage.peakRssBytes), restarts: before.restarts + (finished ? 1 : 0) }
        : { ...usage, restarts: finished ? 1 : 0 };
    };
    for (const { name, usage } of this.finished) add(name, usage, true);
    for (const [name, child] of this.processes) {
      const usage = child.usage();
      if (usage) add(name, usage, false);
    }
    return result;
  }

  /** Stop everything: provider processes and peers first, the Temporal server last. */
  async stop(): Promise<void> {
    await this.connection?.close().catch(() => undefined);
    this.connection = undefined;
    this.clientInstance = undefined;
    const names = [...this.processes.keys()];
    await Promise.all(names.filter((n) => n !== 'temporal').map((n) => this.end(n, false)));
    if (this.processes.has('temporal')) await this.end('temporal', false);
    if (!this.options.keepDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  // ---------------------------------------------------------------------------------------------

  private probeArgs(): string[] {
    return this.options.memoryProbe ? memoryProbeArgs() : [];
  }

  private probeEnv(): Record<string, string> {
    if (!this.options.memoryProbe) return {};
    mkdirSync(this.memoryDir, { recursive: true });
    return { BENCH_MEMORY_DIR: this.memoryDir };
  }

  private launch(spec: { name: string; command: string; args: string[] }, env: Record<string, string> = {}): ManagedProcess {
    if (this.processes.get(spec.name)?.running) throw new Error(`${spec.name} is already running`);
    const child = new ManagedProcess({
      ...spec,
      env: { ...this.env, ...env },
      cwd: projectPath(),
      logFile: join(this.dataDir, 'logs', `${spec.name}.log`),
    });
    this.processes.set(spec.name, child);
    return child;
  }

  private async end(name: string, kill: boolean): Promise<void> {
    const child = this.processes.get(name);
    if (!child) return;
    const before = child.usage();
    if (kill) await child.kill();
    else await child.stop();
    this.processes.delete(name);
    const usage = child.usage() ?? before;
    if (usage) this.finished.push({ name, usage });
  }
}

/** A port nothing listens on now (bound to port 0, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitForTemporal(address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        await connection.workflowService.getSystemInfo({});
        // The namespace must answer too: the dev server registers it a moment after the frontend opens.
        await connection.workflowService.describeNamespace({ namespace: 'default' });
      } finally {
        await connection.close();
      }
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`Temporal at ${address} did not become ready in ${timeoutMs / 1000}s: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

/** The caller's environment without any provider setting (PATH, HOME, proxies and the like stay). */
function withoutProviderSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const names = new Set<string>(Object.values(SETTINGS).map((s) => (s as { env: string }).env));
  names.add('CONFIG_FILE');
  return Object.fromEntries(Object.entries(env).filter(([key]) => !names.has(key)));
}
