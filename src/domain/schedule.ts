/**
 * When delivery attempts happen. Pure and deterministic: the workflow computes its whole window
 * up front from the schedule, its first attempt time and the event time.
 *
 * Why these numbers: UEM 2009 and older look for the certificate in CEG every 4 hours, 75 times,
 * and give up 12.5 days after the enrollment; an attempt after that is wasted, because the profile
 * install has already failed. UEM 2010+ with CEG 1.4 looks on events, so early attempts should
 * come quickly, then settle into the same 4-hour rhythm.
 */
export type ScheduleName = 'legacy-4h' | 'event-driven';
export const SCHEDULE_NAMES: readonly ScheduleName[] = ['legacy-4h', 'event-driven'];

export interface DeliverySchedule {
  name: ScheduleName;
  /** At most this many attempts (UEM: 75). */
  maxAttempts: number;
  /** No attempt later than the event time plus this (UEM: 12.5 days). */
  windowMs: number;
  /** The steady interval between attempts (UEM: 4 hours). */
  intervalMs: number;
}

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

export const UEM_MAX_ATTEMPTS = 75;
export const UEM_WINDOW_MS = 12.5 * DAY_MS;
export const UEM_INTERVAL_MS = 4 * HOUR_MS;

/** The event-driven schedule's quick early retries, as offsets from the first attempt. */
export const EVENT_DRIVEN_EARLY_OFFSETS_MS: readonly number[] = [
  0,
  1 * MINUTE_MS,
  5 * MINUTE_MS,
  15 * MINUTE_MS,
  30 * MINUTE_MS,
  1 * HOUR_MS,
  2 * HOUR_MS,
];

export function defaultSchedule(name: ScheduleName = 'legacy-4h'): DeliverySchedule {
  return { name, maxAttempts: UEM_MAX_ATTEMPTS, windowMs: UEM_WINDOW_MS, intervalMs: UEM_INTERVAL_MS };
}

export interface DeliveryWindow {
  /** Planned attempt times (epoch ms), ascending; the first is the start itself. */
  attemptTimes: number[];
  /** Nothing happens after this instant (epoch ms). */
  deadline: number;
}

/**
 * The attempt times for a delivery that starts at `startedAt` for an event that happened at
 * `eventTime`. The deadline counts from the earlier of the two, so an event stamped in the future
 * by a skewed UEM clock cannot stretch the window. An event already older than the window gets
 * no attempt at all.
 */
export function deliveryWindow(schedule: DeliverySchedule, eventTime: number, startedAt: number): DeliveryWindow {
  const deadline = Math.min(eventTime, startedAt) + schedule.windowMs;
  const offsets = attemptOffsets(schedule);
  const attemptTimes = offsets.map((offset) => startedAt + offset).filter((time) => time <= deadline);
  return { attemptTimes, deadline };
}

function attemptOffsets(schedule: DeliverySchedule): number[] {
  const offsets: number[] = [];
  if (schedule.name === 'event-driven') {
    for (const offset of EVENT_DRIVEN_EARLY_OFFSETS_MS) {
      if (offset >= schedule.intervalMs) break;
      offsets.push(offset);
    }
  }
  let next = offsets.length === 0 ? 0 : schedule.intervalMs;
  while (offsets.length < schedule.maxAttempts) {
    offsets.push(next);
    next += schedule.intervalMs;
    if (next > schedule.windowMs) break;
  }
  return offsets.slice(0, schedule.maxAttempts);
}

/** Human form of a duration for logs and status: "4h", "2d 6h", "90s". */
export function formatDuration(ms: number): string {
  if (ms < MINUTE_MS) return `${Math.round(ms / 1000)}s`;
  if (ms < HOUR_MS) return `${Math.round(ms / MINUTE_MS)}m`;
  const days = Math.floor(ms / DAY_MS);
  const hours = Math.round((ms % DAY_MS) / HOUR_MS);
  if (days === 0) return `${hours}h`;
  return hours === 0 ? `${days}d` : `${days}d ${hours}h`;
}

/** Parse "4h", "15m", "30s", "2d", "500ms" or a bare number of milliseconds. */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text);
  if (!match) throw new Error(`not a duration: "${text}" (use e.g. 30s, 15m, 4h, 2d)`);
  const value = Number(match[1]);
  const unit = (match[2] ?? 'ms').toLowerCase();
  const factor = { ms: 1, s: 1000, m: MINUTE_MS, h: HOUR_MS, d: DAY_MS }[unit]!;
  return Math.round(value * factor);
}
