/**
 * The fleet activities: one call per page of devices. The sweep workflows (src/workflows/fleet)
 * import this file for types only.
 *
 * A page starts per-device provisioning runs itself, through Temporal's client, at the sweep's
 * rate: the runs are not children of the sweep (a device's run must outlive a cancelled sweep, and
 * joins an enrollment event's run under the same workflow id), and starting them from an activity
 * costs the sweep's history a handful of events per page instead of several per device.
 */
import type { DeviceScope, RenewalSelector, SweepCounts, SweepKind } from '../../workflows/fleet-definitions';

/** The worker's fleet settings, read when a sweep runs (a scheduled reconcile has no arguments). */
export interface FleetSettings {
  /** RECONCILE_SMART_GROUP_ID: the reconcile's scope (all devices when absent). */
  reconcileScope: DeviceScope;
  /** FLEET_RATE: runs started per second at most. */
  ratePerSecond: number;
  /** FLEET_PAGE_SIZE: devices per page (UEM's cap of 500 applies). */
  pageSize: number;
  /** RENEW_BEFORE: credentials expiring within this are renewed by the reconcile (0: never). */
  renewBeforeMs: number;
  /**
   * RECONCILE_RETIRE_LIMIT: a reconcile that would retire more than this share (percent) of the
   * devices holding credentials retires none and says why — an empty or wrong UEM answer must not
   * wipe the fleet. Applies from 10 devices up.
   */
  retireLimitPercent: number;
}

/** What every page knows about its sweep. */
export interface SweepPage {
  /** The sweep's workflow id: names the runs it starts (FleetSweep) and a reconcile's scan. */
  sweepId: string;
  kind: SweepKind;
  pageSize: number;
  ratePerSecond: number;
  /** No start before this instant (epoch ms): the previous page's last start + 1/rate. */
  notBeforeMs?: number;
  /** The workflow's time when it scheduled the page (ISO 8601): the EventTime of the runs it starts. */
  asOf: string;
}

export interface EnrollPageInput extends SweepPage {
  scope: DeviceScope;
  /** Where UEM's listing continues; absent for the first page. */
  cursor?: string;
  /** Reconcile: remember the devices UEM listed, to find the ones it no longer has afterwards. */
  recordSeen: boolean;
  /** False: only remember what UEM lists (a reconcile of one smart group scans all of UEM for what is gone). */
  startRuns: boolean;
}

export interface RetirePageInput extends SweepPage {
  /** Register position after which the page starts (0 for the first). */
  after: number;
}

export interface RenewPageInput extends SweepPage {
  after: number;
  /** Devices holding an active credential that expires before this instant, or the operator's selector. */
  selector: RenewalSelector;
  /** Only credentials delivered before the sweep began: what it renews itself is never picked again. */
  deliveredBefore: string;
  reason: string;
  /** On demand: the user's shared (escrowed) credentials issued before this are re-issued too. */
  reissueSharedIssuedBefore?: string;
}

/** Runs a sweep started, by how they stand now. */
export interface RunOutcomes {
  running: number;
  completed: number;
  /** Failed, timed out or terminated. */
  failed: number;
  cancelled: number;
}

/** One page done: what it counted, and where the next one starts (absent: the phase is over). */
export interface PageResult {
  counts: Partial<SweepCounts>;
  nextCursor?: string;
  nextAfter?: number;
  /** The next page's `notBeforeMs`. */
  nextStartAtMs?: number;
}

export interface FleetActivities {
  fleetSettings(): Promise<FleetSettings>;
  /** One page of UEM's inventory: start provisioning for every enrolled device without an active credential. */
  enrollDevices(input: EnrollPageInput): Promise<PageResult>;
  /** Reconcile: retire one page of devices that hold active credentials but UEM no longer lists. */
  retireDevices(input: RetirePageInput): Promise<PageResult>;
  /** Start a renewal run for one page of the selected devices. */
  renewDevices(input: RenewPageInput): Promise<PageResult>;
  /** Reconcile: devices holding credentials, and how many of them the scan did not see in UEM. */
  countUnseen(input: { sweepId: string }): Promise<{ holders: number; unseen: number }>;
  /** How the provisioning runs a sweep started are doing (Temporal's visibility, by FleetSweep). */
  sweepOutcomes(input: { sweepId: string }): Promise<RunOutcomes>;
  /**
   * One notice to the administrators listing the renewed devices whose S/MIME profile must be
   * re-pushed (those of one sweep, or every device still waiting): the renewal batch's notice.
   */
  notifyReinstalls(input: { sweepId?: string; reason: string }): Promise<{ devices: number }>;
  /** The sweep is over (completed or cancelled): drop what it kept in the database. */
  finishSweep(input: { sweepId: string }): Promise<void>;
}
