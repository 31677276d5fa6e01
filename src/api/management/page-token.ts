/**
 * Page tokens of the API's lists. A token carries where the next page starts plus a check value
 * over it and the query (the filters), so a token that was mangled, or is replayed with other
 * filters, is refused with 400 instead of reaching the store behind (Temporal's visibility answers
 * garbage with an internal error). A check value, not a MAC: a token is no secret and a forged one
 * can at worst fail further down.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

function pageTokenCheck(query: string, token: Uint8Array): string {
  return createHash('sha256').update(query).update('\0').update(token).digest('base64url').slice(0, 16);
}

/** Temporal's opaque token: `<base64url>.<check>`. */
export function encodePageToken(query: string, token: Uint8Array): string {
  return `${Buffer.from(token).toString('base64url')}.${pageTokenCheck(query, token)}`;
}

export function decodePageToken(query: string, text: string): Buffer | undefined {
  const [encoded, check, ...rest] = text.split('.');
  if (!encoded || !check || rest.length > 0) return undefined;
  const token = Buffer.from(encoded, 'base64url');
  return checks(query, token, check) ? token : undefined;
}

/** A position in a table (a row's sequence number): `<position>.<check>`. */
export function encodePosition(query: string, position: number): string {
  return `${position}.${pageTokenCheck(query, Buffer.from(String(position)))}`;
}

export function decodePosition(query: string, text: string): number | undefined {
  const match = /^([0-9]{1,15})\.([A-Za-z0-9_-]{16})$/.exec(text);
  if (!match) return undefined;
  const position = Number(match[1]);
  return Number.isSafeInteger(position) && checks(query, Buffer.from(String(position)), match[2]!) ? position : undefined;
}

function checks(query: string, token: Uint8Array, check: string): boolean {
  const expected = Buffer.from(pageTokenCheck(query, token));
  const given = Buffer.from(check);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
