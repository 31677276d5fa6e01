/**
 * The credential register: one row per credential the provider requested for a device, in the
 * provider's database (SQLite or PostgreSQL), kept for as long as the deployment lives — Temporal's
 * visibility forgets closed workflows after the namespace retention, the register does not. It
 * answers "which devices hold which certificate, expiring when" for renewal, audits and support.
 *
 * It is also where a credential's material waits between the lifecycle's steps, so the workflow
 * history carries only public facts: the row of a request holds its private key (envelope-
 * encrypted like the escrow's, see ../escrow/envelope.ts) from generation until delivery, and the
 * certificate once issued. A device's own key is wiped when the credential is delivered: from then
 * on it exists on the device (and at the gateway), nowhere here. A user's shared key lives in the
 * escrow; the row only names it.
 *
 * States: requested → pending → issued → active (delivered) → superseded (a newer credential of the
 * same kind reached the device) | revoked | removed (the device left); abandoned (the run ended
 * without delivering it). One row per request key (workflow, first run, kind), so every write is
 * idempotent.
 */
import { randomUUID } from 'node:crypto';
import type { CertificateInfo } from '../../domain/credentials';
import type { CredentialKind } from '../../domain/enrollment';
import type { Sealer } from '../crypto/sealing';
import { portableMigration, type ProviderDatabase, type SqlExecutor } from '../database/database';
import { decryptPrivateKey, encryptPrivateKey, type KeyOwnerIdentity } from '../escrow/envelope';

export const REGISTER_STATES = ['requested', 'pending', 'issued', 'active', 'superseded', 'revoked', 'removed', 'abandoned'] as const;
export type RegisterState = (typeof REGISTER_STATES)[number];
/** States in which a device holds (or is about to hold) the credential. */
export const HELD_STATES: readonly RegisterState[] = ['active'];

export interface RegisteredCredential {
  id: string;
  requestKey: string;
  workflowId: string;
  runId: string;
  enrollmentUserUuid: string;
  deviceUuid: string;
  /** UEM's numeric device id and platform, as the enrollment named them (renewal reuses them). */
  deviceId?: string;
  platform?: string;
  kind: CredentialKind;
  email: string;
  state: RegisterState;
  /** What the CA calls the request (to poll it). */
  caRequestId?: string;
  /** The user's escrowed credential this device receives (shared kinds). */
  escrowId?: string;
  csrPem?: string;
  /** Hex SHA-256 of the SubjectPublicKeyInfo of the key made for the request. */
  publicKeySha256?: string;
  certificate?: CertificateInfo;
  serialNumber?: string;
  thumbprintSha256?: string;
  notAfter?: string;
  gateway?: string;
  deliveredAt?: string;
  pkcs12Profile?: string;
  /** Why the state last changed (e.g. "unenrolled", "renewed by run …"). */
  stateReason?: string;
  createdAt: string;
  updatedAt: string;
  /** Whether the row still holds an encrypted private key. */
  holdsKey: boolean;
}

export interface NewRequest {
  requestKey: string;
  workflowId: string;
  runId: string;
  enrollmentUserUuid: string;
  deviceUuid: string;
  deviceId?: string;
  platform?: string;
  kind: CredentialKind;
  email: string;
  csrPem?: string;
  publicKeySha256?: string;
  /** PKCS#8 DER of a key made for this request (device credentials, or a shared one being issued). */
  privateKeyPkcs8?: Buffer;
}

export interface CredentialFilter {
  deviceUuid?: string;
  userUuid?: string;
  state?: RegisterState;
  /** notAfter strictly before this instant (ISO 8601). */
  expiringBefore?: string;
}

const MIGRATIONS = [
  portableMigration(`
  CREATE TABLE credentials (
    seq                  {serial},
    id                   {text} NOT NULL UNIQUE,
    request_key          {text} NOT NULL UNIQUE,
    workflow_id          {text} NOT NULL,
    run_id               {text} NOT NULL,
    enrollment_user_uuid {text} NOT NULL,
    device_uuid          {text} NOT NULL,
    device_id            {text},
    platform             {text},
    kind                 {text} NOT NULL CHECK (kind IN ('signing', 'encryption')),
    email                {text} NOT NULL,
    state                {text} NOT NULL CHECK (state IN ('requested', 'pending', 'issued', 'active', 'superseded', 'revoked', 'removed', 'abandoned')),
    state_reason         {text},
    ca_request_id        {text},
    escrow_id            {text},
    csr_pem              {text},
    public_key_sha256    {text},
    certificate_json     {text},
    serial               {text},
    thumbprint           {text},
    not_after            {time},
    gateway              {text},
    delivered_at         {time},
    pkcs12_profile       {text},
    key_ciphertext       {bytes},
    dek_wrapped          {text},
    created_at           {time} NOT NULL,
    updated_at           {time} NOT NULL
  ){strict};
  CREATE UNIQUE INDEX credentials_one_active ON credentials (enrollment_user_uuid, device_uuid, kind) WHERE state = 'active';
  CREATE INDEX credentials_by_device ON credentials (device_uuid, seq);
  CREATE INDEX credentials_by_user ON credentials (enrollment_user_uuid, seq);
  CREATE INDEX credentials_by_expiry ON credentials (state, not_after);

  CREATE TABLE inventory_scans (
    scan_id              {text} NOT NULL,
    device_uuid          {text} NOT NULL,
    PRIMARY KEY (scan_id, device_uuid)
  ){strict};
  `),
  // Devices whose renewed credentials wait for the S/MIME profile to be re-pushed by an
  // administrator (no UEM_SMIME_PROFILE_ID, or UEM refused the install): one notice per batch.
  portableMigration(`
  CREATE TABLE profile_reinstalls (
    seq                  {serial},
    workflow_id          {text} NOT NULL,
    run_id               {text} NOT NULL,
    sweep_id             {text} NOT NULL,
    reason               {text} NOT NULL,
    enrollment_user_uuid {text} NOT NULL,
    device_uuid          {text} NOT NULL,
    device_id            {text},
    serial               {text},
    email                {text},
    queued_at            {time} NOT NULL,
    notified_at          {time},
    UNIQUE (workflow_id, run_id)
  ){strict};
  CREATE INDEX profile_reinstalls_pending ON profile_reinstalls (notified_at, seq);
  `),
];

/** A device waiting for its S/MIME profile to be re-pushed after a renewal. */
export interface PendingReinstall {
  seq: number;
  sweepId: string;
  reason: string;
  enrollmentUserUuid: string;
  deviceUuid: string;
  deviceId?: string;
  serialNumber?: string;
  email?: string;
}

/** A page of devices holding active credentials; `nextAfter` is the cursor of the next page, absent on the last. */
export interface HeldPage {
  devices: HeldDevice[];
  nextAfter?: number;
}

/** A device holding an active credential, as the fleet sweeps see it (no certificate, no key). */
export interface HeldDevice {
  enrollmentUserUuid: string;
  deviceUuid: string;
  /** The provisioning run that delivered the device's (newest) active credential. */
  workflowId: string;
  runId: string;
  /** The address the credentials were issued for (the directory, when there is one, is asked again). */
  email: string;
  /** The earliest notAfter of the device's active credentials. */
  notAfter?: string;
  deviceId?: string;
  platform?: string;
  seq: number;
}

/** Which holders a sweep wants (all conditions must hold). */
export interface HolderFilter {
  expiringBefore?: string;
  deviceUuid?: string;
  userUuid?: string;
  deliveredBefore?: string;
}

const COLUMNS = `
  id, request_key AS "requestKey", workflow_id AS "workflowId", run_id AS "runId",
  enrollment_user_uuid AS "enrollmentUserUuid", device_uuid AS "deviceUuid", device_id AS "deviceId", platform, kind, email, state,
  state_reason AS "stateReason", ca_request_id AS "caRequestId", escrow_id AS "escrowId", csr_pem AS "csrPem",
  public_key_sha256 AS "publicKeySha256",
  certificate_json AS "certificateJson", serial, thumbprint, not_after AS "notAfter", gateway,
  delivered_at AS "deliveredAt", pkcs12_profile AS "pkcs12Profile", created_at AS "createdAt",
  updated_at AS "updatedAt", key_ciphertext AS "keyCiphertext", dek_wrapped AS "dekWrapped", seq`;

interface Row {
  id: string;
  requestKey: string;
  workflowId: string;
  runId: string;
  enrollmentUserUuid: string;
  deviceUuid: string;
  deviceId: string | null;
  platform: string | null;
  kind: CredentialKind;
  email: string;
  state: RegisterState;
  stateReason: string | null;
  caRequestId: string | null;
  escrowId: string | null;
  csrPem: string | null;
  publicKeySha256: string | null;
  certificateJson: string | null;
  serial: string | null;
  thumbprint: string | null;
  notAfter: string | null;
  gateway: string | null;
  deliveredAt: string | null;
  pkcs12Profile: string | null;
  createdAt: string;
  updatedAt: string;
  keyCiphertext: Buffer | null;
  dekWrapped: string | null;
  seq: number;
}

export class CredentialRegister {
  private constructor(
    private readonly db: ProviderDatabase,
    private readonly sealer: Sealer,
  ) {}

  /** The register on an open database, its table migrated. */
  static async open(db: ProviderDatabase, sealer: Sealer): Promise<CredentialRegister> {
    await db.migrate('register', MIGRATIONS);
    return new CredentialRegister(db, sealer);
  }

  async byRequestKey(requestKey: string): Promise<RegisteredCredential | undefined> {
    const row = await this.db.one<Row>(`SELECT ${COLUMNS} FROM credentials WHERE request_key = $1`, [requestKey]);
    return row && toCredential(row);
  }

  /** The row of a request, created on first call with its key and CSR; later calls return it unchanged. */
  async begin(request: NewRequest): Promise<RegisteredCredential> {
    const id = randomUUID();
    const encrypted = request.privateKeyPkcs8 ? encryptPrivateKey(this.sealer, identity(id, request), request.privateKeyPkcs8) : undefined;
    return this.db.transaction(lockOf(request.requestKey), async (tx) => {
      const existing = await tx.one<Row>(`SELECT ${COLUMNS} FROM credentials WHERE request_key = $1`, [request.requestKey]);
      if (existing) return toCredential(existing);
      const now = new Date(tx.nowMs).toISOString();
      await tx.run(
        `INSERT INTO credentials (id, request_key, workflow_id, run_id, enrollment_user_uuid, device_uuid, device_id, platform, kind, email, state, csr_pem, public_key_sha256, key_ciphertext, dek_wrapped, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'requested', $11, $12, $13, $14, $15, $15)`,
        [
          id,
          request.requestKey,
          request.workflowId,
          request.runId,
          request.enrollmentUserUuid,
          request.deviceUuid,
          request.deviceId ?? null,
          request.platform ?? null,
          request.kind,
          request.email,
          request.csrPem ?? null,
          request.publicKeySha256 ?? null,
          encrypted?.keyCiphertext ?? null,
          encrypted?.wrappedDataKey ?? null,
          now,
        ],
      );
      return toCredential((await tx.one<Row>(`SELECT ${COLUMNS} FROM credentials WHERE id = $1`, [id]))!);
    });
  }

  /** The private key a request's row holds (a secret: decrypted here, never stored in the clear). */
  async privateKey(credential: RegisteredCredential): Promise<Buffer | undefined> {
    const row = await this.db.one<Pick<Row, 'keyCiphertext' | 'dekWrapped'>>('SELECT key_ciphertext AS "keyCiphertext", dek_wrapped AS "dekWrapped" FROM credentials WHERE id = $1', [credential.id]);
    if (!row?.keyCiphertext || !row.dekWrapped) return undefined;
    return decryptPrivateKey(this.sealer, identity(credential.id, credential), { keyCiphertext: row.keyCiphertext, wrappedDataKey: row.dekWrapped });
  }

  async markPending(requestKey: string, caRequestId: string): Promise<void> {
    await this.update(requestKey, "state = 'pending', ca_request_id = $2", [caRequestId], ['requested', 'pending']);
  }

  /**
   * The certificate is known: the request's own (a device credential, or the shared one this run
   * issued and escrowed), or the user's escrowed one (`escrowId`). A shared credential's key lives
   * in the escrow from now on, so the row's copy goes.
   */
  async markIssued(requestKey: string, issued: { certificate: CertificateInfo; caRequestId?: string; escrowId?: string }): Promise<void> {
    const { certificate } = issued;
    await this.update(
      requestKey,
      `state = 'issued', certificate_json = $2, serial = $3, thumbprint = $4, not_after = $5, ca_request_id = COALESCE($6, ca_request_id), escrow_id = $7,
       key_ciphertext = CASE WHEN CAST($7 AS TEXT) IS NULL THEN key_ciphertext ELSE NULL END, dek_wrapped = CASE WHEN CAST($7 AS TEXT) IS NULL THEN dek_wrapped ELSE NULL END`,
      [JSON.stringify(certificate), certificate.serial, certificate.thumbprint, certificate.notAfter, issued.caRequestId ?? null, issued.escrowId ?? null],
      ['requested', 'pending', 'issued'],
    );
  }

  /**
   * The credential reached the device's gateway: it becomes the device's active one (the one it
   * replaces is superseded), and the device's own private key is wiped from the register.
   */
  async markDelivered(requestKey: string, delivery: { gateway: string; deliveredAt: string; pkcs12Profile: string }): Promise<RegisteredCredential> {
    return this.db.transaction(lockOf(requestKey), async (tx) => {
      const row = await tx.one<Row>(`SELECT ${COLUMNS} FROM credentials WHERE request_key = $1`, [requestKey]);
      if (!row) throw new Error(`no register row for request ${requestKey}`);
      if (row.state === 'active') return toCredential(row);
      const now = new Date(tx.nowMs).toISOString();
      await tx.run(
        `UPDATE credentials SET state = 'superseded', state_reason = $4, updated_at = $5
         WHERE enrollment_user_uuid = $1 AND device_uuid = $2 AND kind = $3 AND state = 'active'`,
        [row.enrollmentUserUuid, row.deviceUuid, row.kind, `replaced by ${row.serial ?? row.id}`, now],
      );
      await tx.run(
        `UPDATE credentials SET state = 'active', gateway = $2, delivered_at = $3, pkcs12_profile = $4, key_ciphertext = NULL, dek_wrapped = NULL, updated_at = $5 WHERE id = $1`,
        [row.id, delivery.gateway, delivery.deliveredAt, delivery.pkcs12Profile, now],
      );
      return toCredential((await tx.one<Row>(`SELECT ${COLUMNS} FROM credentials WHERE id = $1`, [row.id]))!);
    });
  }

  /** A device's credentials in the given states (e.g. what it holds, for retirement). */
  async ofDevice(enrollmentUserUuid: string, deviceUuid: string, states: readonly RegisterState[]): Promise<RegisteredCredential[]> {
    const rows = await this.db.all<Row>(`SELECT ${COLUMNS} FROM credentials WHERE enrollment_user_uuid = $1 AND device_uuid = $2 ORDER BY seq`, [enrollmentUserUuid, deviceUuid]);
    return rows.filter((r) => states.includes(r.state)).map(toCredential);
  }

  /** Move one row to a final state (revoked, removed, abandoned, superseded) with a reason; a no-op if it is there already. */
  async retire(id: string, state: Extract<RegisterState, 'revoked' | 'removed' | 'abandoned' | 'superseded'>, reason: string): Promise<void> {
    await this.db.transaction(undefined, (tx) =>
      tx.run(`UPDATE credentials SET state = $2, state_reason = $3, key_ciphertext = NULL, dek_wrapped = NULL, updated_at = $4 WHERE id = $1 AND state <> $2`, [id, state, reason, new Date(tx.nowMs).toISOString()]),
    );
  }

  /** A page of rows, newest first, after the `after` cursor (a row's seq). */
  async list(filter: CredentialFilter, page: { size: number; after?: number }): Promise<{ items: RegisteredCredential[]; last?: number }> {
    const clauses: string[] = [];
    const params: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      params.push(value);
      clauses.push(clause.replace('?', `$${params.length}`));
    };
    if (filter.deviceUuid) add('device_uuid = ?', filter.deviceUuid);
    if (filter.userUuid) add('enrollment_user_uuid = ?', filter.userUuid);
    if (filter.state) add('state = ?', filter.state);
    if (filter.expiringBefore) add('not_after < ?', filter.expiringBefore);
    if (page.after !== undefined) add('seq < ?', page.after);
    params.push(page.size);
    const where = clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '';
    const rows = await this.db.all<Row>(`SELECT ${COLUMNS} FROM credentials ${where} ORDER BY seq DESC LIMIT $${params.length}`, params);
    return { items: rows.map(toCredential), last: rows.length === page.size ? rows[rows.length - 1]!.seq : undefined };
  }

  /** Of these devices, those holding an active credential. */
  async devicesHoldingActive(deviceUuids: readonly string[]): Promise<Set<string>> {
    if (deviceUuids.length === 0) return new Set();
    const placeholders = deviceUuids.map((_, i) => `$${i + 1}`).join(', ');
    const rows = await this.db.all<{ deviceUuid: string }>(`SELECT DISTINCT device_uuid AS "deviceUuid" FROM credentials WHERE state = 'active' AND device_uuid IN (${placeholders})`, deviceUuids);
    return new Set(rows.map((r) => r.deviceUuid));
  }

  /** A reconciliation's scan saw these devices in UEM. */
  async markSeen(scanId: string, deviceUuids: readonly string[]): Promise<void> {
    if (deviceUuids.length === 0) return;
    await this.db.transaction(undefined, async (tx) => {
      for (const deviceUuid of deviceUuids) await tx.run('INSERT INTO inventory_scans (scan_id, device_uuid) VALUES ($1, $2) ON CONFLICT DO NOTHING', [scanId, deviceUuid]);
    });
  }

  async forgetScan(scanId: string): Promise<void> {
    await this.db.run('DELETE FROM inventory_scans WHERE scan_id = $1', [scanId]);
  }

  /** A page of devices holding an active credential that the scan did not see in UEM. */
  async unseenHolders(scanId: string, page: { after: number; limit: number }): Promise<HeldPage> {
    return this.held(
      `AND NOT EXISTS (SELECT 1 FROM inventory_scans s WHERE s.scan_id = $1 AND s.device_uuid = c.device_uuid)`,
      [scanId],
      page,
    );
  }

  /**
   * A page of devices holding an active credential that matches: expiring before an instant, of
   * one device or user, delivered before an instant (a sweep never picks what it renewed itself).
   */
  async holders(filter: HolderFilter, page: { after: number; limit: number }): Promise<HeldPage> {
    const clauses: string[] = [];
    const params: unknown[] = [];
    if (filter.expiringBefore) clauses.push(`AND c.not_after < $${params.push(filter.expiringBefore)}`);
    if (filter.deviceUuid) clauses.push(`AND c.device_uuid = $${params.push(filter.deviceUuid)}`);
    if (filter.userUuid) clauses.push(`AND c.enrollment_user_uuid = $${params.push(filter.userUuid)}`);
    if (filter.deliveredBefore) clauses.push(`AND c.delivered_at < $${params.push(filter.deliveredBefore)}`);
    return this.held(clauses.join(' '), params, page);
  }

  /**
   * Devices with active credentials matching `where` (params $1…), one entry per device, ordered by
   * the newest matching row's seq — the cursor — so a device never straddles two pages.
   */
  private async held(where: string, params: unknown[], page: { after: number; limit: number }): Promise<HeldPage> {
    const after = `$${params.length + 1}`;
    const limit = `$${params.length + 2}`;
    const rows = await this.db.all<{ enrollmentUserUuid: string; deviceUuid: string; workflowId: string; runId: string; email: string; notAfter: string | null; deviceId: string | null; platform: string | null; seq: number }>(
      `SELECT c.enrollment_user_uuid AS "enrollmentUserUuid", c.device_uuid AS "deviceUuid", MAX(c.workflow_id) AS "workflowId", MAX(c.run_id) AS "runId",
              MAX(c.email) AS email, MIN(c.not_after) AS "notAfter", MAX(c.device_id) AS "deviceId", MAX(c.platform) AS platform, MAX(c.seq) AS seq
       FROM credentials c WHERE c.state = 'active' ${where}
       GROUP BY c.enrollment_user_uuid, c.device_uuid HAVING MAX(c.seq) > ${after} ORDER BY MAX(c.seq) LIMIT ${limit}`,
      [...params, page.after, page.limit],
    );
    const devices = rows.map((row) => ({ ...row, seq: Number(row.seq), notAfter: row.notAfter ?? undefined, deviceId: row.deviceId ?? undefined, platform: row.platform ?? undefined }));
    return { devices, nextAfter: rows.length === page.limit ? devices[devices.length - 1]!.seq : undefined };
  }

  /** Devices holding an active credential, and how many of them a scan did not see in UEM (the reconcile's safety check). */
  async unseenShare(scanId: string): Promise<{ holders: number; unseen: number }> {
    const device = "c.enrollment_user_uuid || '/' || c.device_uuid";
    const row = await this.db.one<{ holders: number; unseen: number }>(
      `SELECT COUNT(DISTINCT ${device}) AS holders,
              COUNT(DISTINCT CASE WHEN NOT EXISTS (SELECT 1 FROM inventory_scans s WHERE s.scan_id = $1 AND s.device_uuid = c.device_uuid) THEN ${device} END) AS unseen
       FROM credentials c WHERE c.state = 'active'`,
      [scanId],
    );
    return { holders: Number(row?.holders ?? 0), unseen: Number(row?.unseen ?? 0) };
  }

  /**
   * A device's signing certificates that a newer one replaced and that are still unrevoked: what a
   * renewal revokes once the new credential is at the gateway. Shared (escrowed) credentials are
   * the user's, never revoked here.
   */
  async supersededSigning(enrollmentUserUuid: string, deviceUuid: string): Promise<RegisteredCredential[]> {
    const rows = await this.db.all<Row>(
      `SELECT ${COLUMNS} FROM credentials WHERE enrollment_user_uuid = $1 AND device_uuid = $2 AND kind = 'signing' AND state = 'superseded' AND escrow_id IS NULL AND serial IS NOT NULL ORDER BY seq`,
      [enrollmentUserUuid, deviceUuid],
    );
    return rows.map(toCredential);
  }

  /** Queue a device for the next profile re-install notice (once per renewal run). */
  async queueReinstall(entry: Omit<PendingReinstall, 'seq'> & { workflowId: string; runId: string }): Promise<void> {
    await this.db.transaction(undefined, (tx) =>
      tx.run(
        `INSERT INTO profile_reinstalls (workflow_id, run_id, sweep_id, reason, enrollment_user_uuid, device_uuid, device_id, serial, email, queued_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
        [entry.workflowId, entry.runId, entry.sweepId, entry.reason, entry.enrollmentUserUuid, entry.deviceUuid, entry.deviceId ?? null, entry.serialNumber ?? null, entry.email ?? null, new Date(tx.nowMs).toISOString()],
      ),
    );
  }

  /** Devices queued for a re-install notice and not yet in one: of one sweep, or all. */
  async pendingReinstalls(sweepId: string | undefined, limit: number): Promise<PendingReinstall[]> {
    const rows = await this.db.all<{ seq: number; sweepId: string; reason: string; enrollmentUserUuid: string; deviceUuid: string; deviceId: string | null; serial: string | null; email: string | null }>(
      `SELECT seq, sweep_id AS "sweepId", reason, enrollment_user_uuid AS "enrollmentUserUuid", device_uuid AS "deviceUuid", device_id AS "deviceId", serial, email
       FROM profile_reinstalls WHERE notified_at IS NULL ${sweepId ? 'AND sweep_id = $2' : ''} ORDER BY seq LIMIT $1`,
      sweepId ? [limit, sweepId] : [limit],
    );
    return rows.map((r) => ({ seq: Number(r.seq), sweepId: r.sweepId, reason: r.reason, enrollmentUserUuid: r.enrollmentUserUuid, deviceUuid: r.deviceUuid, deviceId: r.deviceId ?? undefined, serialNumber: r.serial ?? undefined, email: r.email ?? undefined }));
  }

  /** These queued devices went out in a notice. */
  async markReinstallsNotified(seqs: readonly number[]): Promise<void> {
    if (seqs.length === 0) return;
    await this.db.transaction(undefined, async (tx) => {
      const at = new Date(tx.nowMs).toISOString();
      for (const seq of seqs) await tx.run('UPDATE profile_reinstalls SET notified_at = $2 WHERE seq = $1 AND notified_at IS NULL', [seq, at]);
    });
  }

  /** How many active credentials expire before `before` (the expiry gauge). */
  async countActiveExpiringBefore(before: string): Promise<number> {
    const row = await this.db.one<{ n: number }>("SELECT count(*) AS n FROM credentials WHERE state = 'active' AND not_after < $1", [before]);
    return Number(row?.n ?? 0);
  }

  private async update(requestKey: string, assignments: string, params: unknown[], fromStates: readonly RegisterState[]): Promise<void> {
    await this.db.transaction(lockOf(requestKey), async (tx: SqlExecutor & { nowMs: number }) => {
      const row = await tx.one<Pick<Row, 'state'>>('SELECT state FROM credentials WHERE request_key = $1', [requestKey]);
      if (!row) throw new Error(`no register row for request ${requestKey}`);
      if (!fromStates.includes(row.state)) return; // a later step already moved on: a repeat changes nothing
      const updatedAt = `$${params.length + 2}`;
      await tx.run(`UPDATE credentials SET ${assignments}, updated_at = ${updatedAt} WHERE request_key = $1`, [requestKey, ...params, new Date(tx.nowMs).toISOString()]);
    });
  }
}

function toCredential(row: Row): RegisteredCredential {
  const certificate = row.certificateJson ? (JSON.parse(row.certificateJson) as CertificateInfo) : undefined;
  const optional = <T>(value: T | null): T | undefined => (value === null ? undefined : value);
  return {
    id: row.id,
    requestKey: row.requestKey,
    workflowId: row.workflowId,
    runId: row.runId,
    enrollmentUserUuid: row.enrollmentUserUuid,
    deviceUuid: row.deviceUuid,
    deviceId: optional(row.deviceId),
    platform: optional(row.platform),
    kind: row.kind,
    email: row.email,
    state: row.state,
    caRequestId: optional(row.caRequestId),
    escrowId: optional(row.escrowId),
    csrPem: optional(row.csrPem),
    publicKeySha256: optional(row.publicKeySha256),
    certificate,
    serialNumber: optional(row.serial),
    thumbprintSha256: optional(row.thumbprint),
    notAfter: optional(row.notAfter),
    gateway: optional(row.gateway),
    deliveredAt: optional(row.deliveredAt),
    pkcs12Profile: optional(row.pkcs12Profile),
    stateReason: optional(row.stateReason),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    holdsKey: row.keyCiphertext !== null,
  };
}

/** What a row's private key is bound to (its ciphertext does not open on another row). */
function identity(id: string, owner: { enrollmentUserUuid: string; kind: CredentialKind; deviceUuid: string }): KeyOwnerIdentity {
  return { id, enrollmentUserUuid: owner.enrollmentUserUuid, kind: owner.kind, scope: `register:${owner.deviceUuid}` };
}

function lockOf(requestKey: string): string {
  return JSON.stringify(['smime-escrow-provider/credential', requestKey]);
}
