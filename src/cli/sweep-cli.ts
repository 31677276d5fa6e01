/**
 * What `npm run backfill` and `npm run renew` share: argument checks by the management API's own
 * request schemas (so a command line and a POST accept exactly the same things), the Temporal
 * client from the CLI configuration, and `--wait`: the sweep followed every second from its memo
 * (describeSweep), a progress line on stderr — redrawn in place on a terminal, a plain line per
 * change (at most one a second, and one every 30 s while nothing moves) when stderr is a file or a
 * pipe — then a summary on stdout.
 *
 * Exit codes: 0 started (or, with --wait, Completed); 1 the sweep ended Failed or Cancelled, or
 * Temporal could not be reached; 2 bad usage.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Client } from '@temporalio/client';
import type { z } from 'zod';
import { ConfigError, type Config } from '../config';
import { createTemporalClient } from '../api/temporal-client';
import { describeSweep, type SweepView } from '../temporal/fleet';
import { noCounts, type SweepKind } from '../workflows/fleet-definitions';
import { sweepFailure, type SweepFailureInfo } from '../api/management/sweep-view';
import { loadCliConfig } from './cli-config';

export class UsageError extends Error {}

/** Check CLI input with a request schema; the first problem becomes a usage error naming the flag. */
export function checkedInput<S extends z.ZodType>(schema: S, input: unknown, flags: Record<string, string>): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const key = String(issue.path[0] ?? (issue as { keys?: string[] }).keys?.[0] ?? '');
  const flag = flags[key];
  // "give one of smartGroupId, all" reads better in the command's own words: "give one of --smart-group, --all".
  let message = issue.code === 'custom' ? issue.message.replace(/\b\w+\b/g, (word) => flags[word] ?? word) : issue.message;
  if (/received undefined/.test(message)) message = 'required';
  else if (/received NaN/.test(message)) message = 'must be a number';
  else if (issue.code === 'invalid_format' && /datetime/i.test(message)) message = 'must be an ISO 8601 time with Z or an offset (e.g. 2027-03-01T00:00:00Z)';
  throw new UsageError(flag && !message.includes(flag) ? `${flag}: ${message}` : message);
}

/** A number from a flag, or NaN (which the schema then refuses with its own words). */
export function numberFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  return /^\s*$/.test(value) ? Number.NaN : Number(value);
}

const NOUN: Record<SweepKind, string> = { backfill: 'backfill', reconcile: 'reconciliation', renewal: 'renewal' };
const API_PATH: Record<SweepKind, string> = { backfill: '/v1/backfills', reconcile: '/v1/reconciliations', renewal: '/v1/renewals' };

export interface SweepCommand {
  kind: SweepKind;
  /** Start the sweep: its id. */
  start(client: Client, config: Config): Promise<string>;
  /** What it is about, for the first line ("smart group 42"). */
  what: string;
  wait: boolean;
}

/** Run a command: start, then (with --wait) follow to the end. The exit code. */
export async function runSweepCommand(command: SweepCommand, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WriteStream | NodeJS.WritableStream } = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const config = loadCliConfig('tool');
  const { client, connection } = createTemporalClient(config);
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  try {
    const id = await command.start(client, config);
    io.stderr.write(`${NOUN[command.kind]} ${id} started (${command.what}) on task queue ${config.taskQueue}\n`);
    if (!command.wait) {
      io.stdout.write(`${id}\n`);
      io.stderr.write(`follow it: GET ${API_PATH[command.kind]}/${id} (or run again with --wait)\n`);
      return 0;
    }
    process.once('SIGINT', onSignal);
    const final = await follow(client, command.kind, id, io.stderr, () => interrupted);
    if (!final) {
      io.stderr.write(`\nstopped watching; the ${NOUN[command.kind]} goes on: GET ${API_PATH[command.kind]}/${id}\n`);
      return 1;
    }
    const failure = final.state === 'Failed' ? await failureOf(client, id) : undefined;
    io.stdout.write(formatSummary(final, failure));
    return final.state === 'Completed' ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    await connection.close();
  }
}

/** Poll the sweep every `intervalMs` until it has ended (its final view) or `stop()` says so (undefined). */
export async function follow(
  client: Client,
  kind: SweepKind,
  id: string,
  stream: NodeJS.WriteStream | NodeJS.WritableStream,
  stop: () => boolean = () => false,
  options: { intervalMs?: number; giveUpAfterMs?: number } = {},
): Promise<SweepView | undefined> {
  const intervalMs = options.intervalMs ?? 1000;
  const giveUpAfterMs = options.giveUpAfterMs ?? 120_000;
  const line = new ProgressLine(stream);
  let failingSince: number | undefined;
  for (;;) {
    if (stop()) return undefined;
    let view: SweepView | undefined;
    try {
      view = await describeSweep(client, kind, id);
      failingSince = undefined;
    } catch (err) {
      failingSince ??= Date.now();
      if (Date.now() - failingSince > giveUpAfterMs) throw new Error(`Temporal has not answered for ${Math.round(giveUpAfterMs / 1000)} s: ${(err as Error).message}`);
      line.show(`(Temporal is not answering, still trying: ${(err as Error).message.split('\n')[0]})`);
    }
    if (view) {
      line.show(progressText(view));
      if (view.state !== 'Running') {
        line.end();
        return view;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

async function failureOf(client: Client, id: string): Promise<SweepFailureInfo | undefined> {
  try {
    await client.workflow.getHandle(id).result();
    return undefined;
  } catch (err) {
    return sweepFailure(err);
  }
}

/** One line of progress: state, phase, the counts that matter for the kind, elapsed time. */
export function progressText(view: SweepView, nowMs = Date.now()): string {
  const counts = { ...noCounts(), ...view.progress?.counts };
  const started = Date.parse(view.progress?.startedAt ?? view.startTime);
  const elapsed = formatElapsed((view.closeTime ? Date.parse(view.closeTime) : nowMs) - started);
  const parts: string[] = [`${view.state}${view.progress ? ` · ${view.progress.phase}` : ' · first page'}`];
  if (view.kind === 'renewal') {
    const outcomes = view.progress?.outcomes;
    parts.push(`selected ${counts.selected}`, `started ${counts.started}`);
    if (outcomes) {
      const ended = outcomes.completed + outcomes.failed + outcomes.cancelled;
      parts.push(`${bar(ended, counts.started)} ${ended}/${counts.started} ended`, `completed ${outcomes.completed}`, `failed ${counts.failed + outcomes.failed}`);
    } else parts.push(`failed ${counts.failed}`);
  } else {
    parts.push(`devices seen ${counts.devicesSeen}`, `started ${counts.started}`, `already delivered ${counts.alreadyDelivered}`, `already running ${counts.alreadyRunning}`);
    if (view.kind === 'reconcile') parts.push(`retired ${counts.retired}`);
    parts.push(`skipped ${counts.skipped}`, `failed ${counts.failed}`);
  }
  parts.push(elapsed);
  return `[${NOUN[view.kind]}] ${parts.join(' · ')}`;
}

/** A bar of 20 cells for a known total. */
export function bar(done: number, total: number): string {
  const width = 20;
  const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : width;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

function formatElapsed(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}:${String(s).padStart(2, '0')}`;
}

/** The final summary: one fact a line, for people and for scripts (grep "^started:"). */
export function formatSummary(view: SweepView, failure?: SweepFailureInfo): string {
  const counts = { ...noCounts(), ...view.progress?.counts };
  const rows: [string, string | number][] = [
    ['id', view.id],
    ['state', view.state],
  ];
  if (view.kind === 'renewal') {
    const outcomes = view.progress?.outcomes;
    rows.push(['selected', counts.selected], ['started', counts.started], ['already running', counts.alreadyRunning], ['completed', outcomes?.completed ?? 0], ['failed', counts.failed + (outcomes?.failed ?? 0)], ['cancelled', outcomes?.cancelled ?? 0]);
    if (outcomes && outcomes.running > 0) rows.push(['still running', outcomes.running]);
  } else {
    rows.push(['devices seen', counts.devicesSeen], ['started', counts.started], ['already delivered', counts.alreadyDelivered], ['already running', counts.alreadyRunning], ['skipped', counts.skipped], ['failed', counts.failed]);
    if (view.kind === 'reconcile') rows.push(['retired', counts.retired]);
  }
  if (view.progress?.ratePerSecond) rows.push(['rate', `${view.progress.ratePerSecond}/s`]);
  const started = Date.parse(view.progress?.startedAt ?? view.startTime);
  if (view.closeTime) rows.push(['took', formatElapsed(Date.parse(view.closeTime) - started)]);
  for (const note of view.progress?.notes ?? []) rows.push(['note', note]);
  if (failure) rows.push(['failure', `${failure.type}: ${failure.message}`]);
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  return rows.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}\n`).join('');
}

/**
 * The progress line: on a terminal one line redrawn in place; elsewhere (a log file, CI) a plain
 * line when the text changes, or every 30 s while it does not, so a log shows the sweep is alive.
 */
export class ProgressLine {
  private last = '';
  private lastPrintedAt = 0;
  private drawn = false;

  constructor(
    private readonly stream: NodeJS.WriteStream | NodeJS.WritableStream,
    private readonly keepAliveMs = 30_000,
  ) {}

  private get tty(): boolean {
    return (this.stream as NodeJS.WriteStream).isTTY === true;
  }

  show(text: string): void {
    // The elapsed time changes every second: whether anything else did decides a plain line.
    const substance = text.replace(/ · \d+(:\d\d|h\d\dm)$/, '');
    if (this.tty) {
      const columns = (this.stream as NodeJS.WriteStream).columns ?? 120;
      this.stream.write(`\r\x1b[2K${text.slice(0, Math.max(20, columns - 1))}`);
      this.drawn = true;
    } else if (substance !== this.last || Date.now() - this.lastPrintedAt >= this.keepAliveMs) {
      this.stream.write(`${text}\n`);
      this.lastPrintedAt = Date.now();
    }
    this.last = substance;
  }

  /** Leave the last drawn line on screen and move below it. */
  end(): void {
    if (this.tty && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}

/** node:util parseArgs, its complaints (an unknown flag, a missing value) as usage errors. */
export function parseFlags<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The entry point of a sweep command: usage errors → 2 with the usage, other errors → 1. */
export function main(run: () => Promise<number>, usage: string): void {
  run().then(
    (code) => process.exit(code),
    (err) => {
      if (err instanceof UsageError) {
        process.stderr.write(`${err.message}\n${usage}\n`);
        process.exit(2);
      }
      process.stderr.write(`${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
      process.exit(1);
    },
  );
}
