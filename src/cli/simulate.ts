/**
 * `npm run simulate -- --devices N [--format json|xml] [--rate R] [--blank-email] [--wait] [--url URL]
 *                     [--silent | --drop F | --events-only] [--smart-group ID] [--uem-url URL]`
 *
 * Plays UEM: posts N "MDM Enrollment Complete" events (fresh user and device UUIDs, EventTime
 * now) to the webhook with the first UEM_WEBHOOK_USERS pair, shows progress, and prints a summary
 * (sent, accepted, rejected by status). With --wait it then follows every accepted workflow —
 * through the management API (first token in API_TOKENS) or, without a token, Temporal itself —
 * until each is Delivered or Failed, and prints the counts and the time it took.
 *
 * The devices UEM knows without the provider having heard of them:
 *   --silent        enrolls the N devices in the UEM simulator's inventory (POST /sim/devices on
 *                   --uem-url, default http://127.0.0.1:UEM_SIM_PORT) and sends no event at all:
 *                   devices enrolled before the provider existed, for a backfill to find
 *   --drop F        enrolls all N there too, but posts events for only a share 1-F of them, chosen
 *                   at random: the others' events are "lost" (UEM never redelivers), for a
 *                   reconcile to find
 *   --smart-group   puts the devices enrolled in the inventory in that smart group
 * Without either, the devices are enrolled in the UEM simulator too when it answers (UEM knows
 * every device that sends an event, and the reconcile compares with it); --events-only skips that.
 * Events then carry the ids the simulator gave (EnrollmentUserId, DeviceId).
 *
 * Exit code 1 if anything was rejected, failed or still open at --timeout, or the UEM simulator
 * refused the devices; 2 for bad arguments.
 *
 * Credentials: UEM_WEBHOOK_USERS and API_TOKENS from the environment, else the ones `npm run dev`
 * keeps in DATA_DIR/dev-credentials.json, so a second terminal needs no set-up. The webhook URL
 * defaults to http://127.0.0.1:API_PORT/webhooks/uem.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { parseApiTokens, parseWebhookUsers, type BasicCredential } from '../api/auth';
import { createTemporalClient } from '../api/temporal-client';
import { ConfigError, type Config } from '../config';
import { loadCliConfig } from './cli-config';
import type { EnrollmentEvent } from '../domain/enrollment';
import { parseDuration } from '../domain/schedule';
import { enrollmentPayload, type EventFormat } from '../peers/uem-sim/events';
import { SIM_EMAIL_DOMAIN } from '../peers/uem-sim/users';
import { readDevCredentials } from '../tools/dev-credentials';
import { Progress } from '../tools/progress';

export interface SimulateOptions {
  /** The webhook, e.g. http://127.0.0.1:3000/webhooks/uem. */
  url: string;
  devices: number;
  format: EventFormat;
  /** Events per second; unset: as fast as `concurrency` allows. */
  rate?: number;
  blankEmail: boolean;
  credential: BasicCredential;
  /** Requests in flight at once. */
  concurrency: number;
  /** The events to send (`devices` of them); by default fresh ones from simulatedEnrollment. */
  events?: readonly EnrollmentEvent[];
}

export type Rejection = number | 'network';

export interface SendSummary {
  sent: number;
  accepted: number;
  rejected: Map<Rejection, number>;
  /** Workflow ids of the accepted enrollments. */
  workflowIds: string[];
  elapsedMs: number;
}

export type FinalState = 'Delivered' | 'Failed' | 'open';

/** Where --wait learns how a workflow ended. */
export type StateSource = (workflowId: string) => Promise<FinalState>;

export interface WaitSummary {
  delivered: number;
  failed: number;
  open: number;
  elapsedMs: number;
}

export interface Reporter {
  update(detail: string): void;
  done(message: string): void;
}

/** One fresh enrollment, shaped like a real device's. The email is the one the UEM simulator would answer. */
export function simulatedEnrollment(n: number): EnrollmentEvent {
  const enrollmentUserUuid = randomUUID();
  const short = enrollmentUserUuid.slice(0, 8);
  const apple = n % 2 === 0;
  return {
    enrollmentUserUuid,
    deviceUuid: randomUUID(),
    enrollmentUserId: String(randomInt(1000, 10_000_000)),
    deviceId: String(randomInt(1000, 10_000_000)),
    email: `user-${short}@${SIM_EMAIL_DOMAIN}`,
    userName: `user-${short}`,
    deviceName: `Sim ${apple ? 'iPhone' : 'Pixel'} ${n + 1}`,
    platform: apple ? 'Apple' : 'Android',
    os: apple ? '17.5' : '14.0.0',
    eventTime: new Date().toISOString(),
    eventId: '148',
    organizationGroup: 'Simulation',
  };
}

export async function sendEnrollments(options: SimulateOptions, reporter: Reporter): Promise<SendSummary> {
  const started = Date.now();
  const summary: SendSummary = { sent: 0, accepted: 0, rejected: new Map(), workflowIds: [], elapsedMs: 0 };
  const authorization = `Basic ${Buffer.from(`${options.credential.username}:${options.credential.password}`, 'utf8').toString('base64')}`;
  let next = 0;

  const sendOne = async (n: number) => {
    if (options.rate) {
      const due = started + (n * 1000) / options.rate;
      if (due > Date.now()) await sleep(due - Date.now());
    }
    const payload = enrollmentPayload(options.events?.[n] ?? simulatedEnrollment(n), options.format, { blankEmail: options.blankEmail });
    summary.sent += 1;
    try {
      const response = await fetch(options.url, {
        method: 'POST',
        headers: { 'Content-Type': payload.contentType, Authorization: authorization },
        body: payload.body,
        signal: AbortSignal.timeout(60_000),
      });
      const text = await response.text();
      if (response.status === 200 || response.status === 202) {
        summary.accepted += 1;
        const workflowId = (JSON.parse(text) as { workflowId?: string }).workflowId;
        if (workflowId) summary.workflowIds.push(workflowId);
      } else {
        summary.rejected.set(response.status, (summary.rejected.get(response.status) ?? 0) + 1);
      }
    } catch {
      summary.rejected.set('network', (summary.rejected.get('network') ?? 0) + 1);
    }
    reporter.update(`sent ${summary.sent}/${options.devices}, accepted ${summary.accepted}, rejected ${totalRejected(summary)}`);
  };

  const lanes = Array.from({ length: Math.min(options.concurrency, options.devices) }, async () => {
    while (next < options.devices) await sendOne(next++);
  });
  await Promise.all(lanes);
  summary.elapsedMs = Date.now() - started;
  reporter.done(`sent ${summary.sent}, accepted ${summary.accepted}, rejected ${totalRejected(summary)}`);
  return summary;
}

// --- devices UEM knows without an event ----------------------------------------------------------

/** What the UEM simulator answers for each device it enrolled (POST /sim/devices). */
interface SimEnrolled {
  deviceUuid: string;
  deviceId: string;
  enrollmentUserId: string;
}

export interface SilentOptions {
  /** The UEM simulator, e.g. http://127.0.0.1:8081 (its admin routes are under /sim). */
  uemUrl: string;
  smartGroupId?: number;
  /** Devices per POST /sim/devices. */
  batchSize?: number;
  /** Events follow for these devices (said in the progress line). */
  eventsFollow?: boolean;
}

/** The UEM simulator did not take the devices. */
export class SimulatorError extends Error {}

/**
 * Enroll the devices of these events in the UEM simulator's inventory, sending no event; the
 * events come back with the ids UEM gave (EnrollmentUserId, DeviceId), as its own events would
 * carry them.
 */
export async function enrollSilently(events: readonly EnrollmentEvent[], options: SilentOptions, reporter: Reporter): Promise<EnrollmentEvent[]> {
  const url = `${options.uemUrl.replace(/\/+$/, '')}/sim/devices`;
  const batchSize = options.batchSize ?? 1000;
  const enrolled = new Map<string, SimEnrolled>();
  for (let start = 0; start < events.length; start += batchSize) {
    const batch = events.slice(start, start + batchSize).map((event) => ({
      deviceUuid: event.deviceUuid,
      enrollmentUserUuid: event.enrollmentUserUuid,
      ...(event.email ? { email: event.email } : {}),
      ...(event.platform ? { platform: event.platform } : {}),
      ...(options.smartGroupId !== undefined ? { smartGroupIds: [options.smartGroupId] } : {}),
    }));
    let response: Response;
    try {
      response = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(batch), signal: AbortSignal.timeout(60_000) });
    } catch (err) {
      throw new SimulatorError(`the UEM simulator at ${url} did not answer (${(err as Error).message}): is \`npm run dev\` or \`npm run uem-sim\` running? (--uem-url)`);
    }
    const text = await response.text();
    if (response.status !== 201) throw new SimulatorError(`the UEM simulator at ${url} answered ${response.status}: ${text.slice(0, 300)}`);
    for (const device of JSON.parse(text) as SimEnrolled[]) enrolled.set(device.deviceUuid, device);
    reporter.update(`enrolled ${Math.min(start + batchSize, events.length)}/${events.length} in the UEM simulator`);
  }
  reporter.done(`enrolled ${events.length} device(s) in the UEM simulator's inventory${options.smartGroupId !== undefined ? ` (smart group ${options.smartGroupId})` : ''}${options.eventsFollow ? '' : ', no event sent'}`);
  return events.map((event) => {
    const device = enrolled.get(event.deviceUuid.toLowerCase());
    return device ? { ...event, enrollmentUserId: device.enrollmentUserId, deviceId: device.deviceId } : event;
  });
}

/** `keep` of the indexes 0..n-1, chosen at random, in order. */
export function pickShare(n: number, keep: number): number[] {
  const indexes = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i -= 1) {
    const j = randomInt(i + 1);
    [indexes[i], indexes[j]] = [indexes[j]!, indexes[i]!];
  }
  return indexes.slice(0, keep).sort((a, b) => a - b);
}

export async function waitForOutcomes(
  workflowIds: readonly string[],
  state: StateSource,
  reporter: Reporter,
  options: { timeoutMs: number; pollIntervalMs: number; concurrency: number },
): Promise<WaitSummary> {
  const started = Date.now();
  const open = new Set(workflowIds);
  const result = { delivered: 0, failed: 0 };
  while (open.size > 0 && Date.now() - started < options.timeoutMs) {
    const batch = [...open];
    let index = 0;
    const lanes = Array.from({ length: Math.min(options.concurrency, batch.length) }, async () => {
      while (index < batch.length) {
        const workflowId = batch[index++]!;
        const final = await state(workflowId).catch((): FinalState => 'open');
        if (final === 'open') continue;
        open.delete(workflowId);
        if (final === 'Delivered') result.delivered += 1;
        else result.failed += 1;
      }
    });
    await Promise.all(lanes);
    reporter.update(`delivered ${result.delivered}, failed ${result.failed}, waiting for ${open.size}`);
    if (open.size > 0) await sleep(options.pollIntervalMs);
  }
  const summary = { ...result, open: open.size, elapsedMs: Date.now() - started };
  reporter.done(`delivered ${summary.delivered}, failed ${summary.failed}${summary.open ? `, still open ${summary.open}` : ''}`);
  return summary;
}

/** Follow workflows through the management API. */
export function apiStateSource(apiBaseUrl: string, token: string): StateSource {
  return async (workflowId) => {
    const response = await fetch(`${apiBaseUrl}/v1/enrollments/${encodeURIComponent(workflowId)}`, {
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
      signal: AbortSignal.timeout(15_000),
    });
    if (!response.ok) {
      await response.body?.cancel();
      return 'open';
    }
    const view = (await response.json()) as { executionStatus?: string; stage?: string };
    return finalState(view.executionStatus, view.stage);
  };
}

export function finalState(executionStatus: string | undefined, stage: string | undefined): FinalState {
  if (executionStatus === 'RUNNING' || executionStatus === 'PAUSED' || executionStatus === undefined) return 'open';
  return executionStatus === 'COMPLETED' && (stage === undefined || stage === 'Delivered') ? 'Delivered' : 'Failed';
}

export function totalRejected(summary: Pick<SendSummary, 'rejected'>): number {
  return [...summary.rejected.values()].reduce((a, b) => a + b, 0);
}

export interface SilentSummary {
  /** Devices enrolled in the UEM simulator's inventory. */
  registered: number;
  /** Of those, devices whose event was not sent. */
  dropped: number;
  smartGroupId?: number;
}

export function formatSummary(send: SendSummary, wait?: WaitSummary, silent?: SilentSummary): string {
  const rejected = [...send.rejected.entries()].map(([status, count]) => `${status}: ${count}`).join(', ');
  const lines = silent
    ? [`in UEM:    ${silent.registered}${silent.smartGroupId !== undefined ? ` (smart group ${silent.smartGroupId})` : ''}`, `no event:  ${silent.dropped}`]
    : [];
  lines.push(
    `sent:      ${send.sent}`,
    `accepted:  ${send.accepted}`,
    `rejected:  ${totalRejected(send)}${rejected ? ` (${rejected})` : ''}`,
    `send time: ${(send.elapsedMs / 1000).toFixed(1)} s`,
  );
  if (wait) {
    lines.push(`delivered: ${wait.delivered}`, `failed:    ${wait.failed}`);
    if (wait.open > 0) lines.push(`open:      ${wait.open} (gave up waiting)`);
    lines.push(`wait time: ${(wait.elapsedMs / 1000).toFixed(1)} s`);
  }
  return `${lines.join('\n')}\n`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// --- the command ------------------------------------------------------------------------------

const USAGE = `usage: npm run simulate -- --devices N [--format json|xml] [--rate R] [--blank-email] [--wait] [--timeout 10m] [--url URL] [--api-url URL]
                             [--silent | --drop FRACTION | --events-only] [--smart-group ID] [--uem-url URL]`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: '1' },
      format: { type: 'string', default: 'json' },
      rate: { type: 'string' },
      'blank-email': { type: 'boolean', default: false },
      wait: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '10m' },
      url: { type: 'string' },
      'api-url': { type: 'string' },
      concurrency: { type: 'string', default: '8' },
      silent: { type: 'boolean', default: false },
      'events-only': { type: 'boolean', default: false },
      drop: { type: 'string' },
      'smart-group': { type: 'string' },
      'uem-url': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const devices = Number(values.devices);
  const rate = values.rate === undefined ? undefined : Number(values.rate);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(devices) || devices < 1) throw new UsageError('--devices must be a whole number of at least 1');
  if (values.format !== 'json' && values.format !== 'xml') throw new UsageError('--format must be json or xml');
  if (rate !== undefined && !(rate > 0)) throw new UsageError('--rate must be a number of events per second above 0');
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError('--concurrency must be at least 1');
  const drop = values.drop === undefined ? undefined : Number(values.drop);
  if (drop !== undefined && !(drop >= 0 && drop <= 1)) throw new UsageError('--drop must be a fraction between 0 and 1 (the share of events not sent)');
  if (drop !== undefined && values.silent) throw new UsageError('--silent sends no event at all; --drop sends some: choose one');
  const smartGroupId = values['smart-group'] === undefined ? undefined : Number(values['smart-group']);
  if (smartGroupId !== undefined && !(Number.isInteger(smartGroupId) && smartGroupId >= 1 && smartGroupId <= 2_147_483_647)) throw new UsageError('--smart-group must be a UEM smart group id (a whole number of at least 1)');
  const inInventory = values.silent || drop !== undefined;
  if (smartGroupId !== undefined && !inInventory) throw new UsageError('--smart-group applies to devices enrolled in the UEM simulator (--silent or --drop)');
  const timeoutMs = parseDuration(values.timeout);

  const config = loadCliConfig();
  const dev = readDevCredentials(config.dataDirAbsolute);
  const credential = parseWebhookUsers(config.webhookUsers)[0] ?? (dev ? { username: dev.webhookUser, password: dev.webhookPassword } : undefined);
  if (!credential) throw new ConfigError(['UEM_WEBHOOK_USERS: the simulator posts with its first user:password pair; none is set (and no dev stack credentials in DATA_DIR)']);
  const apiBase = values['api-url'] ?? (values.url ? new URL(values.url).origin : localApiBase(config));
  const url = values.url ?? `${apiBase}/webhooks/uem`;

  let events: EnrollmentEvent[] = Array.from({ length: devices }, (_, n) => simulatedEnrollment(n));
  let silent: SilentSummary | undefined;
  if (inInventory) {
    const uemUrl = values['uem-url'] ?? `http://127.0.0.1:${config.uemSimPort}`;
    process.stderr.write(`enrolling ${devices} device(s) in the UEM simulator at ${uemUrl} without events\n`);
    events = await enrollSilently(events, { uemUrl, smartGroupId }, new Progress('uem'));
    const keep = values.silent ? 0 : devices - Math.round(devices * drop!);
    const kept = pickShare(devices, keep);
    silent = { registered: devices, dropped: devices - keep, ...(smartGroupId !== undefined ? { smartGroupId } : {}) };
    events = kept.map((i) => events[i]!);
  } else if (!values['events-only']) {
    // UEM knows every device that sends an event: without it, the dev stack's reconcile would
    // count the simulated devices as gone. Best effort: a stack without the UEM simulator still gets its events.
    const uemUrl = values['uem-url'] ?? `http://127.0.0.1:${config.uemSimPort}`;
    try {
      events = await enrollSilently(events, { uemUrl, eventsFollow: true }, new Progress('uem'));
    } catch (err) {
      if (!(err instanceof SimulatorError)) throw err;
      process.stderr.write(`note: the devices are not in a UEM inventory (${err.message}); a reconcile would not find them in UEM\n`);
    }
  }

  let send: SendSummary = { sent: 0, accepted: 0, rejected: new Map(), workflowIds: [], elapsedMs: 0 };
  if (events.length > 0) {
    process.stderr.write(`posting ${events.length} enrollment event(s) as ${values.format.toUpperCase()} to ${url}${rate ? ` at ${rate}/s` : ''}\n`);
    send = await sendEnrollments(
      { url, devices: events.length, events, format: values.format, rate, blankEmail: values['blank-email'], credential, concurrency },
      new Progress('simulate'),
    );
  } else if (values.wait) {
    process.stderr.write('no event sent, so nothing to wait for: silent devices get their credentials from a backfill or a reconcile\n');
  }

  let wait: WaitSummary | undefined;
  if (values.wait && send.workflowIds.length > 0) {
    const token = parseApiTokens(config.apiTokens)[0]?.token ?? dev?.viewerToken ?? dev?.operatorToken;
    const temporal = token ? undefined : createTemporalClient(config);
    const source: StateSource = token
      ? apiStateSource(apiBase, token)
      : async (workflowId) => {
          const description = await temporal!.client.workflow.getHandle(workflowId).describe();
          return finalState(description.status.name, undefined);
        };
    process.stderr.write(`waiting for ${send.workflowIds.length} workflow(s) via ${token ? `the management API at ${apiBase}` : `Temporal at ${config.temporalAddress}`}\n`);
    try {
      wait = await waitForOutcomes(send.workflowIds, source, new Progress('wait'), { timeoutMs, pollIntervalMs: 1000, concurrency });
    } finally {
      await temporal?.connection.close();
    }
  }

  process.stdout.write(formatSummary(send, wait, silent));
  const ok = totalRejected(send) === 0 && (!wait || (wait.failed === 0 && wait.open === 0));
  return ok ? 0 : 1;
}

function localApiBase(config: Config): string {
  const host = config.apiHost === '0.0.0.0' || config.apiHost === '::' ? '127.0.0.1' : config.apiHost;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.apiPort}`;
}

class UsageError extends Error {}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      if (err instanceof SimulatorError) {
        process.stderr.write(`${err.message}\n`);
        process.exit(1);
      }
      if (err instanceof UsageError) process.stderr.write(`${err.message}\n${USAGE}\n`);
      else process.stderr.write(`${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
      process.exit(2);
    },
  );
}
