/**
 * UEM's EventTime comes in several spellings, depending on tenant version and format:
 * ISO 8601 with 0 to 7 fractional digits (.NET writes 7), with or without a zone (no zone = UTC),
 * and the legacy WCF form `/Date(1763630400000)/` or `/Date(1763630400000+0100)/` (the
 * milliseconds are UTC; the offset only says where the server was). The result is ISO 8601 UTC
 * with millisecond precision, or undefined when the text is not a time.
 */
const ISO_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
const LEGACY_PATTERN = /^\/Date\((-?\d+)(?:[+-]\d{4})?\)\/$/;

/** Epoch values below this are seconds, above it milliseconds (1e11 s is the year 5138). */
const SECONDS_LIMIT = 1e11;

export function parseEventTime(value: unknown): string | undefined {
  if (typeof value === 'number') return fromEpoch(Math.abs(value) < SECONDS_LIMIT ? value * 1000 : value);
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  const legacy = LEGACY_PATTERN.exec(text);
  if (legacy) return fromEpoch(Number(legacy[1]));
  if (/^\d+$/.test(text)) return parseEventTime(Number(text));
  const iso = ISO_PATTERN.exec(text);
  if (!iso) return undefined;
  const [, y, mo, d, h, mi, s = '0', fraction = '', zone = 'Z'] = iso;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  const millis = Number(fraction.slice(0, 3).padEnd(3, '0'));
  const local = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  // Date.UTC rolls 31 Feb into March: a round trip tells a real date from an overflow.
  const check = new Date(local);
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const offset = zoneOffsetMs(zone);
  if (offset === undefined) return undefined;
  return fromEpoch(local - offset);
}

function zoneOffsetMs(zone: string): number | undefined {
  if (zone.toUpperCase() === 'Z') return 0;
  const match = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
  if (!match) return undefined;
  const hours = Number(match[2]);
  const minutes = Number(match[3] ?? '0');
  if (hours > 14 || minutes > 59) return undefined;
  return (match[1] === '-' ? -1 : 1) * (hours * 60 + minutes) * 60_000;
}

function fromEpoch(ms: number): string | undefined {
  if (!Number.isFinite(ms)) return undefined;
  const date = new Date(ms);
  // Years outside 4 digits are not a UEM event; toISOString would also write them oddly.
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() < 1970 || date.getUTCFullYear() > 9999) return undefined;
  return date.toISOString();
}
