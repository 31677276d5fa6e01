/**
 * The fleet workflows' public surface: backfill (devices enrolled before S/MIME was on),
 * reconcile (what UEM has against what the register says was delivered; the Schedule runs it)
 * and renewal (credentials close to expiry, or re-issued on demand). Each is a sweep: pages of
 * devices, one activity per page that starts (or retires) per-device work at a bounded rate,
 * continue-as-new so its history stays small at 100,000 devices.
 *
 * Clients (API, CLI, tests, the worker's schedule) import this file; it has no workflow-only imports.
 */
import { defineQuery } from '@temporalio/workflow';
import { searchAttributes } from './definitions';

export const BACKFILL_WORKFLOW_TYPE = 'backfillSmime';
export const RECONCILE_WORKFLOW_TYPE = 'reconcileSmime';
export const RENEW_WORKFLOW_TYPE = 'renewSmime';
export const FLEET_WORKFLOW_TYPES = [BACKFILL_WORKFLOW_TYPE, RECONCILE_WORKFLOW_TYPE, RENEW_WORKFLOW_TYPE] as const;

/** The Schedule that runs reconcileSmime every RECONCILE_EVERY (one per namespace and task queue). */
export function reconcileScheduleId(taskQueue: string): string {
  return `smime-reconcile-${taskQueue}`;
}

export type SweepKind = 'backfill' | 'reconcile' | 'renewal';
export const SWEEP_ID_PREFIX: Record<SweepKind, string> = { backfill: 'smime-backfill-', reconcile: 'smime-reconcile-', renewal: 'smime-renewal-' };

/** The provisioning runs a sweep starts carry its id here, so their outcomes can be counted. */
export const fleetSearchAttributes = { sweep: searchAttributes.fleetSweep } as const;

/** Which devices: all of UEM's (default) or one smart group's. */
export interface DeviceScope {
  smartGroupId?: number;
}

/** Which credentials a renewal on demand re-issues: exactly one selector. */
export type RenewalSelector = { deviceUuid: string } | { userUuid: string } | { expiringBefore: string } | { all: true };

/**
 * How far a sweep has come. Every count is of devices.
 *  - devicesSeen: devices looked at (UEM's inventory for backfill and reconcile; the register for renewal)
 *  - started: provisioning runs started (renewals included)
 *  - alreadyDelivered: the device already holds an active credential
 *  - alreadyRunning: a run was open for the device (it joins that one)
 *  - skipped: UEM lists the device but it is not enrolled, or names no enrollment user
 *  - failed: the device's start (or retirement) failed; the next sweep tries again
 *  - retired: reconcile only: devices gone from UEM whose credentials were retired
 *  - selected: renewal only: devices whose credentials the selector chose
 */
export interface SweepCounts {
  devicesSeen: number;
  started: number;
  alreadyDelivered: number;
  alreadyRunning: number;
  skipped: number;
  failed: number;
  retired: number;
  selected: number;
}

export function noCounts(): SweepCounts {
  return { devicesSeen: 0, started: 0, alreadyDelivered: 0, alreadyRunning: 0, skipped: 0, failed: 0, retired: 0, selected: 0 };
}

export function addCounts(a: SweepCounts, b: Partial<SweepCounts>): SweepCounts {
  const sum = { ...a };
  for (const key of Object.keys(sum) as (keyof SweepCounts)[]) sum[key] += b[key] ?? 0;
  return sum;
}

/** The phases of a sweep, in order; a kind runs the ones it needs (scan: note what UEM has, start nothing). */
export type SweepPhase = 'enroll' | 'scan' | 'retire' | 'renew' | 'settle';

/** Where a sweep is: carried across continue-as-new, and shown by the `sweepProgress` query and the memo. */
export interface SweepProgress {
  kind: SweepKind;
  /** The sweep's workflow id. */
  sweepId?: string;
  phase: SweepPhase;
  counts: SweepCounts;
  /** When the sweep began (its first run), ISO 8601. */
  startedAt: string;
  /** Last page done, ISO 8601. */
  updatedAt: string;
  /** Runs of this workflow so far (1 + continue-as-new count). */
  runs: number;
  ratePerSecond: number;
  scope?: DeviceScope;
  selector?: RenewalSelector;
  reason?: string;
  /** What the sweep chose not to do, and why (e.g. a reconcile refusing to retire most of the fleet). */
  notes?: string[];
  /** Renewal: how the runs it started have ended so far (settle phase). */
  outcomes?: { running: number; completed: number; failed: number; cancelled: number };
}

/** Where the next page begins: a UEM cursor (inventory phases) or a register position (renew, retire). */
export interface SweepPosition {
  phase: SweepPhase;
  cursor?: string;
  after?: number;
  /** Epoch ms before which the next start must not happen (the rate, across pages and workers). */
  nextStartAtMs?: number;
}

/** What a backfill is asked to do (POST /v1/backfills, npm run backfill). */
export interface BackfillInput {
  scope: DeviceScope;
  /** Provisioning runs started per second at most (default FLEET_RATE, CEG's sizing). */
  ratePerSecond?: number;
  /** Carried by continue-as-new. */
  resume?: SweepResume;
}

/**
 * A reconcile takes no arguments when the Schedule starts it (its scope and rate are the worker's
 * settings, read when it runs), so changing RECONCILE_* needs no schedule rewrite. A run asked for
 * through the API may narrow the scope.
 */
export interface ReconcileInput {
  scope?: DeviceScope;
  resume?: SweepResume;
}

/** A renewal on demand (POST /v1/renewals, npm run renew). */
export interface RenewInput {
  selector: RenewalSelector;
  /** Why (e.g. "CA key compromise"): recorded in every run's input and the register. */
  reason: string;
  ratePerSecond?: number;
  resume?: SweepResume;
}

export interface SweepResume {
  progress: SweepProgress;
  position: SweepPosition;
}

/** The sweep's result (and, while it runs, the answer to `sweepProgress`). */
export type SweepResult = SweepProgress;

export const sweepProgressQuery = defineQuery<SweepProgress>('sweepProgress');

/** The memo key under which a sweep keeps its progress, readable without a worker. */
export const SWEEP_MEMO_KEY = 'sweep';
