/**
 * `npm run cluster`: the production topology on one machine — PostgreSQL over TLS, step-ca,
 * Temporal's four services with mutual TLS, the Temporal UI, the CEG and UEM simulators, two
 * provider workers and two API replicas from the compiled build, behind an HAProxy that
 * terminates TLS at https://127.0.0.1:3443. Prefixed output; Ctrl-C stops everything in order;
 * a second start reuses the database (DATA_DIR/cluster/). See src/tools/cluster/stack.ts.
 *
 *   npm run cluster [-- --workers 2] [--apis 2] [--no-ui] [--build auto|always|never]
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ToolUnavailable } from '../go-tool';
import { projectPath } from '../paths';
import { say } from '../progress';
import { LinePrinter } from '../supervisor';
import { defaultPorts } from './layout';
import { Cluster, manageSignalsYourself, NAMESPACE } from './stack';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      workers: { type: 'string', default: '2' },
      apis: { type: 'string', default: '2' },
      'no-ui': { type: 'boolean', default: false },
      build: { type: 'string', default: 'auto' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: npm run cluster -- [--workers 2] [--apis 2] [--no-ui] [--build auto|always|never]\n');
    return;
  }
  const workers = Number(values.workers);
  const apis = Number(values.apis);
  if (!Number.isInteger(workers) || workers < 1 || workers > 8) throw new Error('--workers must be 1 to 8');
  if (!Number.isInteger(apis) || apis < 1 || apis > 8) throw new Error('--apis must be 1 to 8');
  if (!['auto', 'always', 'never'].includes(values.build)) throw new Error('--build must be auto, always or never');
  const dataDir = resolve(process.env.DATA_DIR ?? projectPath('.data'));
  const names = ['postgres', 'step-ca', 'temporal-frontend', 'temporal-history', 'temporal-matching', 'temporal-worker', 'temporal-ui', 'ceg-sim', 'uem-sim', 'proxy', ...Array.from({ length: Math.max(workers, apis) }, (_, i) => `worker-${i + 1}`)];
  const printer = new LinePrinter(names, { raw: process.env.DEV_RAW_LOGS === '1', color: process.stdout.isTTY });
  manageSignalsYourself();

  let cluster: Cluster | undefined;
  let stopping = false;
  const started = Date.now();
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nstopping the cluster in order (proxy, APIs, workers, UI and simulators, Temporal, step-ca, PostgreSQL)…\n');
    await cluster?.stop();
    process.stdout.write('stopped; the data stays in DATA_DIR/cluster for the next start\n');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  cluster = await Cluster.start({
    dataDir,
    ports: defaultPorts(workers, apis),
    workers,
    apis,
    ui: !values['no-ui'],
    build: values.build as 'auto' | 'always' | 'never',
    printer,
    say: (line) => say('cluster', line),
    onUnexpectedExit: (name, how) => process.stdout.write(`${printer.prefix(name)} exited unexpectedly (${how}); the rest keeps running — Ctrl-C stops everything\n`),
  }).catch(async (err: unknown) => {
    stopping = true;
    throw err;
  });

  const { ports, credentials, layout } = cluster;
  const line = '─'.repeat(78);
  process.stdout.write(
    [
      '',
      line,
      ` smime-escrow-provider cluster is up (${((Date.now() - started) / 1000).toFixed(1)} s)`,
      `   Proxy (TLS)        ${cluster.proxyUrl}   webhook /webhooks/uem, API /v1, health /readyz`,
      `   UEM webhook        Basic ${credentials.webhookUser}:${credentials.webhookPassword}`,
      `   API tokens         operator ${credentials.operatorToken}   viewer ${credentials.viewerToken}`,
      `   CA certificate     ${cluster.pki.caFile}   (curl --cacert … ${cluster.proxyUrl}/readyz)`,
      `   Temporal frontend  ${cluster.temporalAddress}   mTLS: client certificates from ${layout.pki}/ (admin.pem, admin-key.pem)`,
      `   Temporal UI        ${cluster.uiUrl}   namespace ${NAMESPACE}, payloads decoded via ${cluster.proxyUrl}/codec`,
      `   PostgreSQL         127.0.0.1:${ports.postgres}   TLS only; passwords in ${layout.secretsFile}`,
      `   step-ca (S/MIME)   ${cluster.stepCaUrl}   root ${cluster.stepCaRootFile}`,
      `   Workers            ${cluster.workerNames.map((n, i) => `${n} metrics :${ports.workerMetrics[i]} health :${ports.workerHealth[i]}`).join(', ')}`,
      `   API replicas       ${cluster.apiNames.map((n, i) => `${n} 127.0.0.1:${ports.api[i]}`).join(', ')}`,
      `   CEG simulator      https://localhost:${ports.cegSim}   admin ${cluster.cegAdminUrl}/sim/uploads`,
      `   UEM simulator      http://127.0.0.1:${ports.uemSim}`,
      `   Processes          ${layout.pidsFile}`,
      `   Try it             DATA_DIR=${layout.root} NODE_EXTRA_CA_CERTS=${cluster.pki.caFile} \\`,
      `                        npm run simulate -- --devices 20 --url ${cluster.webhookUrl} --wait`,
      ' Ctrl-C stops everything.',
      line,
      '',
    ].join('\n'),
  );
  say('cluster', `start phases: ${cluster.startTimes.map((p) => `${p.phase} ${p.seconds} s`).join(', ')}`);
}

main().catch((err) => {
  process.stderr.write(`\n${err instanceof ToolUnavailable ? err.message : (err as Error).stack ?? (err as Error).message}\n`);
  process.exit(1);
});
