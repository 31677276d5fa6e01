/**
 * What the HTTP clients of the outside systems (CA, CEG, UEM, notifiers) share when they read an
 * answer or a failure: JSON that may not be JSON, error codes along a cause chain, and the TLS
 * verification codes that mean "wrong trust anchor or host name" (a configuration problem, not
 * an outage).
 */
import { causeChain } from '../domain/errors';

/** Node/OpenSSL verification codes: the peer's certificate does not verify against our trust anchor. */
export const TLS_TRUST_ERRORS: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The body as JSON, or undefined when it is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The body as a JSON object, or undefined when it is not one. */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  const parsed = parseJson(text);
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
}

/** Error codes along the cause chain (`ECONNREFUSED`, `CERT_HAS_EXPIRED`...), plus `TimeoutError`/`AbortError` by name. */
export function errorCodes(err: unknown): string[] {
  const codes: string[] = [];
  for (const e of causeChain(err, 5)) {
    if (typeof e !== 'object') continue;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    const name = (e as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError') codes.push(name);
  }
  return codes;
}
