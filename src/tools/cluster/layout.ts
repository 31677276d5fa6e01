/**
 * Where `npm run cluster` keeps things and which ports it uses. Everything lives under
 * `DATA_DIR/cluster/`, so a second start finds the same database, PKI, secrets and CA:
 *
 *   pki/                 the cluster CA (ca.pem) and every TLS certificate signed by it
 *   secrets.json         sealing and codec keys, database passwords (0600)
 *   dev-credentials.json webhook user, API tokens, UEM simulator login (as the dev stack's)
 *   postgres/            the PostgreSQL cluster (data/, socket/), run as the `postgres` account
 *   temporal/config/     one Temporal server config per service, plus the dynamic config
 *   step-ca/             the S/MIME CA: root, intermediate, provisioner, ca.json, database
 *   ui/config/           the Temporal UI server's config
 *   proxy/haproxy.cfg    the TLS-terminating reverse proxy
 *   ceg/                 the CEG simulator's data folder (its dev PKI and what it received)
 *   worker-<n>/, api-<n>/ each provider process's own DATA_DIR (key pool, CA ledger)
 *   logs/<name>.log      every process's output (also printed, prefixed, by npm run cluster)
 *   pids.json            { name: pid } of every process running now
 */
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface ClusterPorts {
  postgres: number;
  stepCa: number;
  frontend: number;
  frontendHttp: number;
  history: number;
  matching: number;
  temporalWorker: number;
  /** Ringpop membership port per Temporal service (below 32768: Temporal stores it as a smallint). */
  membership: Record<TemporalService, number>;
  /** Prometheus endpoint per Temporal service. */
  metrics: Record<TemporalService, number>;
  ui: number;
  proxy: number;
  /** Plain-HTTP PKI repository on the proxy: step-ca's CRL and issuer certificate (what certificates name). */
  pkiRepository: number;
  cegSim: number;
  cegSimAdmin: number;
  uemSim: number;
  /** One per API replica (loopback, behind the proxy). */
  api: number[];
  /** One per provider worker. */
  workerMetrics: number[];
  workerHealth: number[];
}

export const TEMPORAL_SERVICES = ['history', 'matching', 'frontend', 'worker'] as const;
export type TemporalService = (typeof TEMPORAL_SERVICES)[number];

/** npm run cluster's ports: the dev stack's where the role is the same (7233, 8233, simulators). */
export function defaultPorts(workers = 2, apis = 2): ClusterPorts {
  return {
    postgres: 5433,
    stepCa: 9000,
    frontend: 7233,
    frontendHttp: 7243,
    history: 7234,
    matching: 7235,
    temporalWorker: 7239,
    membership: { frontend: 6933, history: 6934, matching: 6935, worker: 6939 },
    metrics: { frontend: 8000, history: 8001, matching: 8002, worker: 8003 },
    ui: 8233,
    proxy: 3443,
    pkiRepository: 8447,
    cegSim: 8443,
    cegSimAdmin: 8444,
    uemSim: 8081,
    api: Array.from({ length: apis }, (_, i) => 3001 + i),
    workerMetrics: Array.from({ length: workers }, (_, i) => 9464 + 10 * i),
    workerHealth: Array.from({ length: workers }, (_, i) => 9465 + 10 * i),
  };
}

/** Free ephemeral ports for every role: tests and the bench run a cluster next to anything else. */
export async function freePorts(workers = 2, apis = 2): Promise<ClusterPorts> {
  const taken = new Set<number>();
  const next = async (): Promise<number> => {
    for (;;) {
      const port = await freePort();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  const per = async <K extends string>(keys: readonly K[], pick: () => Promise<number> = next) => {
    const out = {} as Record<K, number>;
    for (const key of keys) out[key] = await pick();
    return out;
  };
  // Temporal stores membership ports as a PostgreSQL smallint: they must stay below 32768, where
  // the kernel's ephemeral range (32768 and up) never hands them out.
  const lowPort = async (): Promise<number> => {
    for (;;) {
      const port = 20000 + Math.floor(Math.random() * 12767);
      if (!taken.has(port) && (await canBind(port))) {
        taken.add(port);
        return port;
      }
    }
  };
  const many = async (n: number) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(await next());
    return out;
  };
  return {
    postgres: await next(),
    stepCa: await next(),
    frontend: await next(),
    frontendHttp: await next(),
    history: await next(),
    matching: await next(),
    temporalWorker: await next(),
    membership: await per(TEMPORAL_SERVICES, lowPort),
    metrics: await per(TEMPORAL_SERVICES),
    ui: await next(),
    proxy: await next(),
    pkiRepository: await next(),
    cegSim: await next(),
    cegSimAdmin: await next(),
    uemSim: await next(),
    api: await many(apis),
    workerMetrics: await many(workers),
    workerHealth: await many(workers),
  };
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface ClusterLayout {
  root: string;
  pki: string;
  secretsFile: string;
  postgres: string;
  temporal: string;
  stepCa: string;
  ui: string;
  proxy: string;
  ceg: string;
  logs: string;
  pidsFile: string;
  worker(n: number): string;
  api(n: number): string;
}

export function clusterLayout(dataDir: string): ClusterLayout {
  const root = join(dataDir, 'cluster');
  return {
    root,
    pki: join(root, 'pki'),
    secretsFile: join(root, 'secrets.json'),
    postgres: join(root, 'postgres'),
    temporal: join(root, 'temporal'),
    stepCa: join(root, 'step-ca'),
    ui: join(root, 'ui'),
    proxy: join(root, 'proxy'),
    ceg: join(root, 'ceg'),
    logs: join(root, 'logs'),
    pidsFile: join(root, 'pids.json'),
    worker: (n) => join(root, `worker-${n}`),
    api: (n) => join(root, `api-${n}`),
  };
}
