/**
 * The embedded CA's certificate revocation lists (RFC 5280 v2 CRLs, as the S/MIME BR 7.2 want
 * them): issuer, thisUpdate, nextUpdate, authorityKeyIdentifier, a CRL number that only grows,
 * and per entry the revocation date and a reasonCode (never `unspecified`).
 *
 * Lifetimes follow BR 4.9.7: the CRL for end-entity certificates is reissued at least every 7
 * days with nextUpdate at most 10 days on (here: 7 days, refreshed after a day, and at once on
 * every revocation); the root's CRL, which could only ever list the intermediate, every 12 months
 * at most (here: a year, refreshed after 180 days).
 */
import { randomBytes, type webcrypto } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import * as asn1js from 'asn1js';
import type { RevocationReason } from '../certificate-authority';
import { x509 } from '../../crypto/x509';
import { DAY_MS } from '../../../domain/schedule';

const CRL_NUMBER_OID = '2.5.29.20';

export const CRL_LIFETIMES = {
  /** Leaves' CRL: nextUpdate this long after thisUpdate. */
  leavesValidMs: 7 * DAY_MS,
  /** Leaves' CRL: reissued when older than this, even without a revocation. */
  leavesRefreshMs: 1 * DAY_MS,
  rootValidMs: 365 * DAY_MS,
  rootRefreshMs: 180 * DAY_MS,
} as const;

export interface CrlEntryInput {
  /** Lower-case hex. */
  serial: string;
  reason: RevocationReason;
  revokedAt: string;
}

export interface SignCrlParams {
  issuer: x509.X509Certificate;
  signingKey: webcrypto.CryptoKey;
  entries: readonly CrlEntryInput[];
  thisUpdate: Date;
  nextUpdate: Date;
  /** Strictly greater than the previous CRL's number. */
  number: bigint;
}

const REASONS: Record<RevocationReason, x509.X509CrlReason> = {
  keyCompromise: x509.X509CrlReason.keyCompromise,
  affiliationChanged: x509.X509CrlReason.affiliationChanged,
  superseded: x509.X509CrlReason.superseded,
  cessationOfOperation: x509.X509CrlReason.cessationOfOperation,
};

export async function signCrl(params: SignCrlParams): Promise<Buffer> {
  const issuerKeyId = params.issuer.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  if (!issuerKeyId) throw new Error('a CRL issuer needs a subject key identifier');
  const crl = await x509.X509CrlGenerator.create({
    issuer: params.issuer.subjectName,
    thisUpdate: params.thisUpdate,
    nextUpdate: params.nextUpdate,
    signingKey: params.signingKey,
    signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    extensions: [new x509.AuthorityKeyIdentifierExtension(issuerKeyId), crlNumberExtension(params.number)],
    entries: params.entries.map((entry) => ({
      serialNumber: entry.serial.length % 2 === 0 ? entry.serial : `0${entry.serial}`,
      revocationDate: new Date(entry.revokedAt),
      reason: REASONS[entry.reason],
    })),
  });
  return Buffer.from(crl.rawData);
}

function crlNumberExtension(number: bigint): x509.Extension {
  let hex = number.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`; // keep the INTEGER positive
  const der = new asn1js.Integer({ valueHex: Buffer.from(hex, 'hex') }).toBER();
  return new x509.Extension(CRL_NUMBER_OID, false, der);
}

export interface StoredCrl {
  der: Buffer;
  crl: x509.X509Crl;
  number: bigint;
}

/** The CRL in `file`, or undefined when there is none (yet) or it does not parse. */
export async function readCrl(file: string): Promise<StoredCrl | undefined> {
  let der: Buffer;
  try {
    der = await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const crl = new x509.X509Crl(der);
    return { der, crl, number: crlNumberOf(crl) };
  } catch {
    return undefined;
  }
}

function crlNumberOf(crl: x509.X509Crl): bigint {
  const extension = crl.getExtension(CRL_NUMBER_OID);
  if (!extension) return 0n;
  const parsed = asn1js.fromBER(extension.value);
  if (parsed.offset === -1 || !(parsed.result instanceof asn1js.Integer)) return 0n;
  return BigInt(`0x${Buffer.from(parsed.result.valueBlock.valueHexView).toString('hex') || '0'}`);
}

/**
 * The next CRL number: above the previous one and at least the current time in milliseconds, so
 * numbers keep growing even when two processes each reissue from the same previous CRL.
 */
export function nextCrlNumber(previous: bigint | undefined, nowMs: number): bigint {
  const byClock = BigInt(nowMs);
  const afterPrevious = (previous ?? 0n) + 1n;
  return byClock > afterPrevious ? byClock : afterPrevious;
}

/** Replace `file` with `data` atomically (temporary file, fsync, rename): readers see the old CRL or the new one. */
export async function writeAtomically(file: string, data: Buffer): Promise<void> {
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temporary, 'w', 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, file);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}
