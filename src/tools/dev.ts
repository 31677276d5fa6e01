/**
 * `npm run dev`: the whole stack in one terminal — Temporal dev server (with its Web UI), the
 * local peers (CEG simulator, UEM simulator, order-and-poll CA when chosen), the worker and the
 * API — with prefixed, readable output. Ctrl-C stops everything and leaves no process behind.
 *
 * Settings come from the environment like everywhere else; the dev stack only fills in what a
 * developer has not set (dev credentials, peer URLs), and prints them.
 */
import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';
import { Connection } from '@temporalio/client';
import { rootCertificateFile } from '../activities/ca/embedded/authority';
import { orderCaSimIssuerDir } from '../peers/order-ca-sim/issuer';
import { ensureDebianPackages } from './debian-packages';
import { ensureDevCredentials } from './dev-credentials';
import { developmentSettings } from './dev-settings';
import { ToolUnavailable } from './go-tool';
import { projectPath } from './paths';
import { devServerArgs, readStackFile } from './stack-file';
import { Supervisor, type ProcessSpec } from './supervisor';
import { ensureTemporalCli } from './temporal-cli';
import { waitForPort } from './test-server';

async function portInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

async function waitForTemporal(address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2000 });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`Temporal at ${address} did not become ready in ${timeoutMs / 1000}s: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function main(): Promise<void> {
  const stack = readStackFile();
  const dataDir = resolve(process.env.DATA_DIR ?? projectPath('.data'));
  mkdirSync(dataDir, { recursive: true });
  const apiPort = Number(process.env.API_PORT ?? stack.provider.apiPort);
  const temporalPort = stack.temporal.frontendPort;
  const uiPort = stack.temporal.uiPort;
  const cegPort = Number(process.env.CEG_SIM_PORT ?? stack.peers.cegSim.port);
  const cegAdminPort = Number(process.env.CEG_SIM_ADMIN_PORT ?? stack.peers.cegSim.adminPort);
  const uemPort = Number(process.env.UEM_SIM_PORT ?? stack.peers.uemSim.port);
  const orderCaPort = Number(process.env.ORDER_CA_SIM_PORT ?? stack.peers.orderCaSim.port);
  const caRepositoryPort = Number(process.env.CA_REPOSITORY_PORT ?? stack.peers.caRepository.port);
  const useOrderCa = process.env.CA_TYPE === 'order-poll' && !process.env.CA_URL;

  const busy = [];
  for (const port of [temporalPort, uiPort, apiPort, cegPort, cegAdminPort, uemPort, caRepositoryPort, stack.provider.workerMetricsPort]) {
    if (await portInUse(port)) busy.push(port);
  }
  if (busy.length > 0) {
    throw new Error(`port${busy.length > 1 ? 's' : ''} ${busy.join(', ')} already in use — is another dev stack running? Stop it, or change the ports (temporal-dev.yml, API_PORT, CEG_SIM_PORT, ...).`);
  }

  await ensureDebianPackages('dev'); // OpenSSL: the CEG simulator checks every upload with it
  const temporal = await ensureTemporalCli();
  const creds = ensureDevCredentials(dataDir);
  // Development keys, PKI and DEV_MODE: only the dev stack fills these in (production processes
  // stop at start without them); a developer's own environment still wins.
  const development = Object.fromEntries(Object.entries(await developmentSettings(dataDir)).map(([key, value]) => [key, process.env[key] ?? value]));
  const codecEndpoint = stack.temporal.uiCodecEndpoint ? stack.temporal.uiCodecEndpoint.replace(/:\d+\//, `:${apiPort}/`) : '';
  const env: NodeJS.ProcessEnv = {
    ...development,
    DATA_DIR: dataDir,
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    TEMPORAL_NAMESPACE: stack.temporal.namespace,
    TEMPORAL_UI_URL: `http://localhost:${uiPort}`,
    API_PORT: String(apiPort),
    WORKER_METRICS_PORT: String(stack.provider.workerMetricsPort),
    CEG_SIM_PORT: String(cegPort),
    CEG_SIM_ADMIN_PORT: String(cegAdminPort),
    UEM_SIM_PORT: String(uemPort),
    ORDER_CA_SIM_PORT: String(orderCaPort),
    CA_REPOSITORY_PORT: String(caRepositoryPort),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    // Dev defaults, each overridable by the developer's own environment.
    UEM_WEBHOOK_USERS: process.env.UEM_WEBHOOK_USERS ?? `${creds.webhookUser}:${creds.webhookPassword}`,
    API_TOKENS: process.env.API_TOKENS ?? `${creds.operatorToken}:operator,${creds.viewerToken}:viewer`,
    UEM_API_URL: process.env.UEM_API_URL ?? `http://127.0.0.1:${uemPort}`,
    UEM_API_USERNAME: process.env.UEM_API_USERNAME ?? creds.uemApiUser,
    UEM_API_PASSWORD: process.env.UEM_API_PASSWORD ?? creds.uemApiPassword,
    UEM_API_TENANT_CODE: process.env.UEM_API_TENANT_CODE ?? creds.uemTenantCode,
    // The renewal path re-installs this profile through the UEM simulator (any id it is given exists there).
    UEM_SMIME_PROFILE_ID: process.env.UEM_SMIME_PROFILE_ID ?? '1',
    CEG_URL: process.env.CEG_URL ?? `https://localhost:${cegPort}`,
    // Exercise the encrypted-password path against the simulator's recipient key.
    CEG_RECIPIENT_CERT: process.env.CEG_RECIPIENT_CERT ?? join(dataDir, 'dev-pki', 'recipient.crt'),
    ...(useOrderCa
      ? {
          CA_URL: `http://127.0.0.1:${orderCaPort}`,
          ORDER_CA_API_KEY: process.env.ORDER_CA_API_KEY ?? creds.operatorToken,
          // What the simulator issues must chain to its CA's root (the worker checks every certificate).
          CERT_TRUST_ROOTS_FILE: process.env.CERT_TRUST_ROOTS_FILE ?? rootCertificateFile(orderCaSimIssuerDir({ dataDirAbsolute: dataDir })),
        }
      : {}),
  };

  const tsNode = (file: string): Pick<ProcessSpec, 'command' | 'args'> => ({ command: process.execPath, args: ['--require', 'tsx/cjs', projectPath(file)] });
  const names = ['temporal', 'ca-repo', 'ceg-sim', 'uem-sim', 'order-ca', 'worker', 'api'];
  let shuttingDown = false;
  const supervisor = new Supervisor(
    {
      raw: process.env.DEV_RAW_LOGS === '1',
      color: process.stdout.isTTY,
      onUnexpectedExit: (name) => {
        if (shuttingDown) return;
        process.stdout.write(`\n${name} stopped unexpectedly; stopping the stack (fix the cause above, then run npm run dev again)\n`);
        void shutdown(1);
      },
    },
    names,
  );

  async function shutdown(code: number): Promise<void> {
    if (shuttingDown) return;
    shuttingDown = true;
    process.stdout.write('\nstopping the stack…\n');
    await supervisor.stop();
    process.stdout.write('stopped; no process left behind\n');
    process.exit(code);
  }
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  try {
    supervisor.start({ name: 'temporal', command: temporal, args: devServerArgs(stack, dataDir, { codecEndpoint }), env });
    await waitForPort(temporalPort, 60_000);
    await waitForTemporal(`127.0.0.1:${temporalPort}`, 60_000);

    const repository = tsNode('src/peers/ca-repository/main.ts');
    supervisor.start({ name: 'ca-repo', command: repository.command, args: [...repository.args, ...(useOrderCa ? ['--order-ca-sim'] : [])], env });
    supervisor.start({ name: 'ceg-sim', ...tsNode('src/peers/ceg-sim/main.ts'), env });
    supervisor.start({ name: 'uem-sim', ...tsNode('src/peers/uem-sim/main.ts'), env });
    if (useOrderCa) supervisor.start({ name: 'order-ca', ...tsNode('src/peers/order-ca-sim/main.ts'), env });
    // The worker reads the CA's root at start (certificate checks): let the CA processes make it first.
    await waitForPort(caRepositoryPort, 60_000);
    if (useOrderCa) await waitForPort(orderCaPort, 60_000);
    supervisor.start({ name: 'worker', ...tsNode('worker.ts'), env });
    supervisor.start({ name: 'api', ...tsNode('src/api/main.ts'), env });
    await waitForPort(apiPort, 90_000);
  } catch (err) {
    shuttingDown = true;
    await supervisor.stop();
    throw err;
  }

  const line = '─'.repeat(72);
  process.stdout.write(
    [
      '',
      line,
      ' smime-escrow-provider dev stack is up',
      `   Temporal UI        http://localhost:${uiPort}   (payloads decoded via ${codecEndpoint || 'no codec'})`,
      `   Temporal frontend  127.0.0.1:${temporalPort}   namespace ${stack.temporal.namespace}, SQLite ${join(dataDir, stack.temporal.dbFile)}`,
      `   API                http://localhost:${apiPort}   (OpenAPI: /openapi.json, health: /healthz, metrics: /metrics)`,
      `   UEM webhook        POST http://localhost:${apiPort}/webhooks/uem   Basic ${env.UEM_WEBHOOK_USERS!.split(',')[0]}`,
      `   API tokens         operator ${creds.operatorToken}   viewer ${creds.viewerToken}`,
      `   CEG simulator      https://localhost:${cegPort}   admin http://127.0.0.1:${cegAdminPort}/sim/uploads`,
      `   UEM simulator      http://127.0.0.1:${uemPort}`,
      `   CA repository      http://127.0.0.1:${caRepositoryPort}/${useOrderCa ? 'order-ca-sim' : 'embedded-ca'}/intermediate.crl   (CRL and CA certificates)`,
      `   Worker metrics     http://127.0.0.1:${stack.provider.workerMetricsPort}/metrics`,
      `   Try it             npm run simulate -- --devices 5 --wait`,
      ' Ctrl-C stops everything.',
      line,
      '',
    ].join('\n'),
  );
}

main().catch((err) => {
  process.stderr.write(`\n${err instanceof ToolUnavailable ? err.message : (err as Error).message}\n`);
  process.exit(1);
});
