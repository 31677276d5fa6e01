/**
 * `npm run setup:namespace` (compiled: `node dist/src/cli/setup-namespace.js`): prepare a
 * self-hosted Temporal namespace for the provider, idempotently — what a deployment runs once per
 * namespace and again after each upgrade (the Helm chart's setup Job, `npm run cluster`).
 *
 *   --create-namespace [--retention 30d]   register TEMPORAL_NAMESPACE when it does not exist
 *                                          (a self-hosted server does not create it by itself)
 *   --wait 60s                             keep trying while Temporal is not answering yet
 *
 * Then it adds the search attributes the workflows set (SEARCH_ATTRIBUTE_TYPES), skipping those
 * already there, waits until the namespace lists them, and creates or updates the reconcile
 * Schedule as RECONCILE_EVERY says (`--no-schedule` leaves it to the workers, which do the same at
 * start). Temporal Cloud: namespaces and search attributes are managed in Cloud (UI, tcld,
 * Terraform), and the workers create the Schedule; this tool is for self-hosted clusters.
 */
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { msNumberToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { parseDuration } from '../domain/schedule';
import { ConfigError, loadConfig } from '../config';
import { temporalConnectionOptions } from '../temporal/connection';
import { codecKeyring, codecPolicy, providerDataConverter } from '../temporal/data-converter';
import { ensureReconcileSchedule } from '../temporal/fleet';
import { SEARCH_ATTRIBUTE_TYPES } from '../workflows/definitions';

const { IndexedValueType } = temporal.api.enums.v1;
const INDEXED_TYPE = { Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD, Int: IndexedValueType.INDEXED_VALUE_TYPE_INT } as const;

export interface SetupNamespaceOptions {
  namespace: string;
  /** Register the namespace when it is missing, with this retention for closed workflows. */
  create?: { retentionMs: number };
  /** How long to keep trying while the frontend is not answering or not ready. */
  waitMs?: number;
  log?: (line: string) => void;
}

export interface SetupNamespaceResult {
  namespaceCreated: boolean;
  searchAttributesAdded: string[];
}

/** Make the namespace ready for the provider's workflows; safe to run any number of times. */
export async function setupNamespace(connection: Connection, options: SetupNamespaceOptions): Promise<SetupNamespaceResult> {
  const log = options.log ?? (() => undefined);
  const deadline = Date.now() + (options.waitMs ?? 0);
  const { namespace } = options;
  const retrying = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`);
        if (attempt === 1 || attempt % 10 === 0) log(`${what}: ${(err as Error).message}; retrying`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  };

  let namespaceCreated = false;
  const exists = await retrying('describe namespace', async () => {
    try {
      await connection.workflowService.describeNamespace({ namespace });
      return true;
    } catch (err) {
      if ((err as { code?: number }).code === 5 /* NOT_FOUND */) return false;
      throw err;
    }
  });
  if (!exists) {
    if (!options.create) throw new Error(`namespace "${namespace}" does not exist (run with --create-namespace on a self-hosted cluster)`);
    const seconds = Math.round(options.create.retentionMs / 1000);
    await retrying('register namespace', async () => {
      try {
        await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msNumberToTs(seconds * 1000) });
      } catch (err) {
        if ((err as { code?: number }).code !== 6 /* ALREADY_EXISTS */) throw err;
      }
    });
    namespaceCreated = true;
    log(`namespace ${namespace} registered (retention ${seconds / 86_400} days)`);
  }

  const present = async () => (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};
  const have = await retrying('list search attributes', present);
  const missing = Object.entries(SEARCH_ATTRIBUTE_TYPES).filter(([name]) => !(name in have));
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTE_TYPES)) {
    const existing = have[name];
    if (existing !== undefined && existing !== INDEXED_TYPE[type]) {
      throw new Error(`search attribute ${name} exists in ${namespace} with another type (${IndexedValueType[existing]}), the workflows need ${type}`);
    }
  }
  if (missing.length > 0) {
    await retrying('add search attributes', async () => {
      try {
        await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, INDEXED_TYPE[type]])) });
      } catch (err) {
        if ((err as { code?: number }).code !== 6 /* ALREADY_EXISTS: another run was first */) throw err;
      }
    });
    log(`search attributes added to ${namespace}: ${missing.map(([n, t]) => `${n} (${t})`).join(', ')}`);
  }
  // The frontend caches namespace metadata: wait until it lists every attribute, or workflows
  // started right away would fail their first upsert.
  await retrying('wait for the search attributes', async () => {
    const now = await present();
    const absent = Object.keys(SEARCH_ATTRIBUTE_TYPES).filter((name) => !(name in now));
    if (absent.length > 0) throw new Error(`not listed yet: ${absent.join(', ')}`);
  });
  return { namespaceCreated, searchAttributesAdded: missing.map(([name]) => name) };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'create-namespace': { type: 'boolean', default: false },
      retention: { type: 'string', default: '30d' },
      wait: { type: 'string', default: '60s' },
      'no-schedule': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: setup-namespace [--create-namespace [--retention 30d]] [--wait 60s] [--no-schedule]   (settings from the environment, as the worker reads them)\n');
    return 0;
  }
  const config = loadConfig({ role: 'tool' });
  const connection = await Connection.connect({ ...temporalConnectionOptions(config), connectTimeout: parseDuration(values.wait) });
  try {
    const result = await setupNamespace(connection, {
      namespace: config.temporalNamespace,
      create: values['create-namespace'] ? { retentionMs: parseDuration(values.retention) } : undefined,
      waitMs: parseDuration(values.wait),
      log: (line) => process.stdout.write(`${line}\n`),
    });
    let schedule = 'left to the workers';
    if (!values['no-schedule']) {
      const client = new Client({ connection, namespace: config.temporalNamespace, dataConverter: providerDataConverter(codecKeyring(config), codecPolicy(config)) });
      schedule = `reconcile schedule ${String(await ensureReconcileSchedule(client, { taskQueue: config.taskQueue, everyMs: config.reconcileEvery }))}`;
    }
    process.stdout.write(
      `namespace ${config.temporalNamespace} ready: ${result.namespaceCreated ? 'registered now' : 'already registered'}, search attributes ${result.searchAttributesAdded.length > 0 ? `added ${result.searchAttributesAdded.join(', ')}` : 'already there'}, ${schedule}\n`,
    );
    return 0;
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`setup-namespace failed: ${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
      process.exit(1);
    },
  );
}
