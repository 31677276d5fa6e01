/**
 * `npm run replay -- ...`: replay workflow histories with the current workflow code, the way
 * on-call checks that a deploy will not break running workflows or reproduces a failure locally.
 *
 *   npm run replay -- --workflow-id smime-<user>-<device> [--run-id <id>]   fetch from the server
 *   npm run replay -- --file history.json                                   exported from the UI or CLI
 *   npm run replay -- --query 'Stage="Failed"' [--limit 100]                 many, via visibility
 *
 * Prints OK per history, or the determinism error with the event id where it diverged.
 * Exit code 0 when all replayed cleanly, 1 when any did not, 2 on bad usage.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { historyFromJSON } from '../temporal/sdk-internals';
import { DefaultLogger, Runtime, Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import type { temporal } from '@temporalio/proto';
import type { Config } from '../config';
import { loadCliConfig } from './cli-config';
import { temporalConnectionOptions } from '../temporal/connection';
import { WORKFLOW_ID_METADATA } from '../temporal/codec';
import { codecKeyring, codecPolicy, providerDataConverter, WORKFLOW_INTERCEPTOR_MODULES } from '../temporal/data-converter';
import { workflowCode } from '../temporal/workflow-code';

type History = temporal.api.history.v1.IHistory;

export interface ReplayOutcome {
  workflowId: string;
  runId: string;
  ok: boolean;
  /** The determinism (or other replay) error, in words, with the event id when the SDK names one. */
  error?: string;
}

/**
 * Replay options for the provider's workflows: the code a worker started from the same place would
 * run (the prebuilt bundle in dist/, the sources otherwise), and the provider's data converter.
 */
export function replayOptions(config?: Config): ReplayWorkerOptions {
  const { source: _source, ...code } = workflowCode();
  return {
    ...code,
    dataConverter: config ? providerDataConverter(codecKeyring(config), codecPolicy(config)) : undefined,
    // A prebuilt bundle carries the workflow interceptors already (src/tools/build.ts).
    ...('workflowBundle' in code ? {} : { interceptors: { workflowModules: WORKFLOW_INTERCEPTOR_MODULES } }),
    replayName: 'smime-replay',
  };
}

/** Replay many histories with one worker; yields one outcome per history. */
export async function* replayAll(options: ReplayWorkerOptions, histories: AsyncIterable<{ workflowId: string; history: History }>): AsyncGenerator<ReplayOutcome> {
  for await (const result of Worker.runReplayHistories(options, histories)) {
    const error = result.error ? describeReplayError(result.error) : undefined;
    yield { workflowId: result.workflowId, runId: result.runId, ok: !error, error };
  }
}

export function describeReplayError(error: Error): string {
  const event = /event[ _]?id[^0-9]*(\d+)/i.exec(error.message)?.[1];
  return `${error.name}: ${error.message}${event && !error.message.includes(`event ${event}`) ? ` (at event ${event})` : ''}`;
}

/**
 * The workflow ID a history was recorded under: payloads are bound to it (codec.ts), so a replay
 * must run under the same ID. From the start event when the server wrote it there, else from the
 * binding of the first input payload, else `fallback` (a history without either carries no bound
 * payload, so any ID replays it).
 */
export function recordedWorkflowId(history: History, fallback: string): string {
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  if (started?.workflowId) return started.workflowId;
  const bound = started?.input?.payloads?.[0]?.metadata?.[WORKFLOW_ID_METADATA];
  return bound && bound.length > 0 ? Buffer.from(bound).toString('utf8') : fallback;
}

/** Read a history exported by the Temporal UI ("Download") or `temporal workflow show --output json`. */
export function readHistoryFile(path: string): History {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  return historyFromJSON(parsed);
}

async function* fromServer(client: Client, ids: { workflowId: string; runId?: string }[]) {
  for (const { workflowId, runId } of ids) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    yield { workflowId, history };
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'workflow-id': { type: 'string' },
      'run-id': { type: 'string' },
      file: { type: 'string', multiple: true },
      query: { type: 'string' },
      limit: { type: 'string', default: '1000' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const modes = [values['workflow-id'], values.file, values.query].filter((v) => v !== undefined).length;
  if (values.help || modes !== 1) {
    process.stderr.write('usage: npm run replay -- (--workflow-id <id> [--run-id <id>] | --file <history.json>... | --query "<visibility query>" [--limit N])\n');
    return values.help ? 0 : 2;
  }
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const config = loadCliConfig();
  const options = replayOptions(config);
  let histories: AsyncIterable<{ workflowId: string; history: History }>;
  let connection: Connection | undefined;
  if (values.file) {
    const files = values.file;
    histories = (async function* () {
      for (const file of files) {
        const history = readHistoryFile(file);
        yield { workflowId: recordedWorkflowId(history, file), history };
      }
    })();
  } else {
    connection = await Connection.connect(temporalConnectionOptions(config));
    const client = new Client({ connection, namespace: config.temporalNamespace, dataConverter: providerDataConverter(codecKeyring(config), codecPolicy(config)) });
    if (values['workflow-id']) {
      histories = fromServer(client, [{ workflowId: values['workflow-id'], runId: values['run-id'] }]);
    } else {
      const limit = Number(values.limit);
      const ids: { workflowId: string; runId: string }[] = [];
      for await (const execution of client.workflow.list({ query: values.query })) {
        ids.push({ workflowId: execution.workflowId, runId: execution.runId });
        if (ids.length >= limit) break;
      }
      process.stdout.write(`replaying ${ids.length} workflow${ids.length === 1 ? '' : 's'} matching ${values.query}\n`);
      histories = fromServer(client, ids);
    }
  }
  let failed = 0;
  let total = 0;
  try {
    for await (const outcome of replayAll(options, histories)) {
      total += 1;
      if (outcome.ok) process.stdout.write(`OK    ${outcome.workflowId} ${outcome.runId}\n`);
      else {
        failed += 1;
        process.stdout.write(`FAIL  ${outcome.workflowId} ${outcome.runId}\n      ${outcome.error}\n`);
      }
    }
  } finally {
    await connection?.close();
  }
  process.stdout.write(`${total - failed} of ${total} replayed cleanly\n`);
  return failed === 0 ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`replay failed: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
