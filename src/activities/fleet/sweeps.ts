/**
 * The fleet sweeps' pages: each lists one page of devices (UEM's inventory, or the register),
 * decides per device, and starts (or retires) at the sweep's rate. Idempotent: a page retried
 * after a crash starts the same runs under the same request ids (Temporal answers with the runs it
 * already made), skips devices that meanwhile hold an active credential, and retires nothing twice.
 *
 * One device's failure is counted and logged, and the page goes on: the next sweep tries that
 * device again. Only an outage of Temporal itself fails the page, which Temporal then retries.
 */
import { Context, log } from '@temporalio/activity';
import { isGrpcServiceError, type Client } from '@temporalio/client';
import { nonRetryable } from '../../domain/errors';
import type { EnrollmentEvent } from '../../domain/enrollment';
import type { ProvisioningPolicy } from '../../domain/policy';
import { cancelProvisioning, startProvisioning, type StartOutcome } from '../../temporal/start';
import type { SweepCounts } from '../../workflows/fleet-definitions';
import { cleanUp, type CleanUpDeps } from '../lifecycle/clean-up';
import type { HeldDevice, HolderFilter } from '../register/credential-register';
import type { DeviceInventory, InventoryDevice } from '../uem/device-inventory';
import type { EnrollPageInput, FleetSettings, PageResult, RenewPageInput, RetirePageInput, RunOutcomes } from './contract';
import { REINSTALL_NOTICE_MAX_DEVICES, type Notifier } from '../notify/notifier';
import { Pacer } from './pacer';

/** How the worker reaches Temporal to start per-device runs. */
export interface ProvisioningStarter {
  client: Client;
  taskQueue: string;
}

export interface FleetDeps extends CleanUpDeps {
  inventory?: DeviceInventory;
  /** Set by the worker once it is connected; a sweep without it fails with ConfigurationError. */
  temporal?: ProvisioningStarter;
  policy: ProvisioningPolicy;
  settings: FleetSettings;
}

/** gRPC codes that mean Temporal itself is unreachable or overloaded: the page is retried whole. */
const TEMPORAL_OUTAGE_CODES = new Set([4 /* DEADLINE_EXCEEDED */, 8 /* RESOURCE_EXHAUSTED */, 14 /* UNAVAILABLE */]);

const HEARTBEAT_EVERY_MS = 2_000;

export async function enrollDevices(deps: FleetDeps, input: EnrollPageInput): Promise<PageResult> {
  const inventory = requireInventory(deps, input.kind);
  const temporal = requireTemporal(deps);
  const page = await inventory.listDevices(input.scope, { cursor: input.cursor, pageSize: input.pageSize });
  const counts = tally();
  counts.devicesSeen = page.devices.length;
  const enrolled = page.devices.filter((d) => d.enrolled && d.enrollmentUserUuid && d.deviceUuid);
  counts.skipped = page.devices.length - enrolled.length;
  if (input.recordSeen) await deps.register.markSeen(input.sweepId, enrolled.map((d) => d.deviceUuid));
  if (!input.startRuns) return { counts: {}, nextCursor: page.nextCursor, nextStartAtMs: input.notBeforeMs };
  const holding = await deps.register.devicesHoldingActive(enrolled.map((d) => d.deviceUuid));
  const pacer = new Pacer(input.ratePerSecond, input.notBeforeMs);
  await withHeartbeats(counts, async () => {
    for (const device of enrolled) {
      if (holding.has(device.deviceUuid)) {
        counts.alreadyDelivered += 1;
        continue;
      }
      await pacer.next();
      const outcome = await attemptStart(counts, device.deviceUuid, () =>
        startProvisioning(temporal.client, { event: eventFor(device, input.asOf), policy: deps.policy, taskQueue: temporal.taskQueue, sweepId: input.sweepId }),
      );
      if (outcome) count(counts, outcome.outcome);
    }
  });
  log.info('fleet page: enroll', { sweepId: input.sweepId, ...counts, more: page.nextCursor !== undefined });
  return { counts, nextCursor: page.nextCursor, nextStartAtMs: pacer.nextAtMs };
}

/**
 * Devices the register says hold credentials but UEM's inventory (the scan) no longer lists: an
 * unenrollment that never arrived. An open run of the device is cancelled (it cleans up what it
 * requested) and then everything the device held goes the unenroll path: removed from the gateway,
 * signing revoked by policy, register rows removed/revoked, escrowed keys kept.
 */
export async function retireDevices(deps: FleetDeps, input: RetirePageInput): Promise<PageResult> {
  const temporal = requireTemporal(deps);
  const page = await deps.register.unseenHolders(input.sweepId, { after: input.after, limit: input.pageSize });
  const counts = tally();
  counts.devicesSeen = page.devices.length;
  const pacer = new Pacer(input.ratePerSecond, input.notBeforeMs);
  await withHeartbeats(counts, async () => {
    for (const device of page.devices) {
      await pacer.next();
      const reason = `device no longer in UEM (reconciliation ${input.sweepId})`;
      const retired = await attemptStart(counts, device.deviceUuid, async () => {
        await cancelProvisioning(temporal.client, device.workflowId, reason);
        await cleanUp(deps, { event: heldEvent(device, input.asOf), reason: 'unenrolled', credentials: [] });
        return 'retired' as const;
      });
      if (retired) counts.retired += 1;
    }
  });
  log.info('fleet page: retire', { sweepId: input.sweepId, ...counts, more: page.nextAfter !== undefined });
  return { counts, nextAfter: page.nextAfter, nextStartAtMs: pacer.nextAtMs };
}

/** Start a renewal run for each selected device (an open run of the device is joined instead). */
export async function renewDevices(deps: FleetDeps, input: RenewPageInput): Promise<PageResult> {
  const temporal = requireTemporal(deps);
  const page = await deps.register.holders(holderFilter(input), { after: input.after, limit: input.pageSize });
  const counts = tally();
  counts.devicesSeen = page.devices.length;
  counts.selected = page.devices.length;
  const pacer = new Pacer(input.ratePerSecond, input.notBeforeMs);
  await withHeartbeats(counts, async () => {
    for (const device of page.devices) {
      await pacer.next();
      const reason = 'expiringBefore' in input.selector && input.kind === 'reconcile' ? `expires ${device.notAfter ?? 'soon'}` : input.reason;
      const outcome = await attemptStart(counts, device.deviceUuid, () =>
        startProvisioning(temporal.client, {
          event: heldEvent(device, input.asOf),
          policy: deps.policy,
          taskQueue: temporal.taskQueue,
          sweepId: input.sweepId,
          renewal: { reason, sweepId: input.sweepId, ...(input.reissueSharedIssuedBefore ? { reissueSharedIssuedBefore: input.reissueSharedIssuedBefore } : {}) },
        }),
      );
      if (outcome) count(counts, outcome.outcome);
    }
  });
  log.info('fleet page: renew', { sweepId: input.sweepId, ...counts, more: page.nextAfter !== undefined });
  return { counts, nextAfter: page.nextAfter, nextStartAtMs: pacer.nextAtMs };
}

function holderFilter(input: RenewPageInput): HolderFilter {
  const { selector } = input;
  const base: HolderFilter = { deliveredBefore: input.deliveredBefore };
  if ('deviceUuid' in selector) return { ...base, deviceUuid: selector.deviceUuid };
  if ('userUuid' in selector) return { ...base, userUuid: selector.userUuid };
  if ('expiringBefore' in selector) return { ...base, expiringBefore: selector.expiringBefore };
  return base;
}

/** A device UEM lists, as the enrollment event its run is started for (EventTime: the page's time). */
function eventFor(device: InventoryDevice, asOf: string): EnrollmentEvent {
  return {
    enrollmentUserUuid: device.enrollmentUserUuid.toLowerCase(),
    deviceUuid: device.deviceUuid.toLowerCase(),
    eventTime: asOf,
    ...(device.deviceId ? { deviceId: device.deviceId } : {}),
    ...(device.email ? { email: device.email } : {}),
    ...(device.platform ? { platform: device.platform } : {}),
  };
}

/** A device the register knows, as an event: what it was delivered for. */
function heldEvent(device: HeldDevice, asOf: string): EnrollmentEvent {
  return {
    enrollmentUserUuid: device.enrollmentUserUuid,
    deviceUuid: device.deviceUuid,
    eventTime: asOf,
    email: device.email,
    ...(device.deviceId ? { deviceId: device.deviceId } : {}),
    ...(device.platform ? { platform: device.platform } : {}),
  };
}

function tally(): SweepCounts {
  return { devicesSeen: 0, started: 0, alreadyDelivered: 0, alreadyRunning: 0, skipped: 0, failed: 0, retired: 0, selected: 0 };
}

function count(counts: SweepCounts, outcome: StartOutcome): void {
  // 'duplicate': this very page started the run before a retry, and it has closed since.
  if (outcome === 'joined') counts.alreadyRunning += 1;
  else counts.started += 1;
}

/** One device's work: its failure is counted and logged, unless Temporal itself is down (the page is retried). */
async function attemptStart<T>(counts: SweepCounts, deviceUuid: string, work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work();
  } catch (err) {
    if (isGrpcServiceError(err) && TEMPORAL_OUTAGE_CODES.has(err.code)) throw err;
    if (Context.current().cancellationSignal.aborted) throw err;
    counts.failed += 1;
    log.warn('fleet: device skipped after an error; the next sweep tries again', { deviceUuid, errorType: (err as { type?: string }).type ?? (err as Error).name, error: (err as Error).message });
    return undefined;
  }
}

/** Heartbeats the page's running counts, so a long page is watched and can be cancelled. */
async function withHeartbeats(counts: SweepCounts, work: () => Promise<void>): Promise<void> {
  const context = Context.current();
  const timer = setInterval(() => context.heartbeat({ ...counts }), HEARTBEAT_EVERY_MS);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
}

function requireInventory(deps: FleetDeps, kind: string): DeviceInventory {
  if (!deps.inventory) throw nonRetryable('ConfigurationError', `a ${kind} lists UEM's devices: set UEM_API_URL and its credentials`);
  return deps.inventory;
}

function requireTemporal(deps: FleetDeps): ProvisioningStarter {
  if (!deps.temporal) throw nonRetryable('ConfigurationError', 'fleet sweeps start provisioning runs through the worker\'s Temporal connection, which this worker was built without');
  return deps.temporal;
}

/** Counted by Temporal's visibility: the runs carry the sweep's id as FleetSweep. */
export async function sweepOutcomes(deps: FleetDeps, sweepId: string): Promise<RunOutcomes> {
  const { client } = requireTemporal(deps);
  const count = async (status: string) => (await client.workflow.count(`FleetSweep = '${sweepId.replace(/'/g, '')}' AND ExecutionStatus = '${status}'`)).count;
  const [running, completed, failed, timedOut, terminated, cancelled] = await Promise.all(['Running', 'Completed', 'Failed', 'TimedOut', 'Terminated', 'Canceled'].map(count));
  return { running: running!, completed: completed!, failed: failed! + timedOut! + terminated!, cancelled: cancelled! };
}

/**
 * The renewal batch's notice: every device still waiting for its profile to be re-pushed (of one
 * sweep, or all), in one message — the first REINSTALL_NOTICE_MAX_DEVICES listed, `total` counting
 * them all. The queue is marked only after the notifier took the notice: a retry may repeat the
 * notice, never lose it.
 */
export async function notifyReinstalls(deps: FleetDeps & { notifier: Notifier }, input: { sweepId?: string; reason: string }): Promise<{ devices: number }> {
  const pending = await deps.register.pendingReinstalls(input.sweepId, REINSTALL_NOTICE_MAX_DEVICES * 100);
  if (pending.length === 0) return { devices: 0 };
  const { workflowId = '', runId = '' } = Context.current().info.workflowExecution ?? {};
  await deps.notifier.notifyProfileReinstall({
    workflowId,
    runId,
    reason: input.reason,
    devices: pending.slice(0, REINSTALL_NOTICE_MAX_DEVICES).map((d) => ({ deviceUuid: d.deviceUuid, enrollmentUserUuid: d.enrollmentUserUuid, deviceId: d.deviceId, serialNumber: d.serialNumber, email: d.email })),
    total: pending.length,
    howToFind: `GET /v1/credentials?state=active&deviceUuid=… for each device, or the Temporal UI: FleetSweep = '${input.sweepId ?? workflowId}'`,
    sentAt: new Date().toISOString(),
    workflowUrl: '',
  });
  await deps.register.markReinstallsNotified(pending.map((d) => d.seq));
  log.info('profile re-install notice sent', { devices: pending.length });
  return { devices: pending.length };
}
