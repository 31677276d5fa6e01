/**
 * The embedded escrow: one SQLite file (`<DATA_DIR>/escrow.db`, mode 0600) through better-sqlite3.
 *
 * Several processes may share the file (API and worker on one host, or two workers): WAL mode lets
 * readers run beside a writer, every claim/store runs in `BEGIN IMMEDIATE` (the write lock is taken
 * before anything is read, so two processes cannot both decide from the same state), and a busy
 * timeout makes a second writer wait instead of failing. better-sqlite3 is synchronous, so inside
 * one process the transactions also never interleave.
 *
 * Crypto that costs anything (checking the key against the certificate, encrypting) happens before
 * a transaction starts; decrypting what was read happens after it commits.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { nonRetryable } from '../../domain/errors';
import type { CredentialKind } from '../../domain/enrollment';
import type { Logger } from '../../logging';
import { Sealer, type Keyring } from '../crypto/sealing';
import { decideClaim, decideStore, type ActiveFacts, type ClaimFacts } from './decisions';
import { rewrapDataKey } from './envelope';
import {
  checkKey,
  checkLease,
  checkOwner,
  ESCROW_ERRORS,
  escrowFailure,
  renewBeforeMs,
  type ClaimOptions,
  type ClaimResult,
  type CredentialToStore,
  type EscrowedCredential,
  type EscrowKey,
  type EscrowStore,
  type StoreResult,
} from './escrow-store';
import { claimAnswer, openCredential, prepareCredential, storeAnswer, type CredentialRow } from './records';

export interface SqliteEscrowStoreOptions {
  /** The database file, e.g. `<DATA_DIR>/escrow.db`; created (mode 0600, folder 0700) if missing. */
  file: string;
  keyring: Keyring;
  logger: Logger;
  /** How long a writer waits for another process's write lock before `EscrowUnavailable`. Default 5 s. */
  busyTimeoutMs?: number;
  /** Upper bound of `retryAfterMs` in a 'wait' answer. Default 5 s. */
  waitPollMs?: number;
}

/** Schema migrations, applied in order; `PRAGMA user_version` records how many ran. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE escrowed_credentials (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    enrollment_user_uuid TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('encryption', 'signing')),
    scope            TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('active', 'superseded')),
    created_at       TEXT NOT NULL,
    superseded_at    TEXT,
    superseded_by    TEXT REFERENCES escrowed_credentials (id) DEFERRABLE INITIALLY DEFERRED,
    certificate_json TEXT NOT NULL,
    thumbprint       TEXT NOT NULL,
    serial           TEXT NOT NULL,
    not_after        TEXT NOT NULL,
    key_ciphertext   BLOB NOT NULL,
    dek_kid          TEXT NOT NULL,
    dek_wrapped      TEXT NOT NULL
  ) STRICT;
  CREATE UNIQUE INDEX escrowed_credentials_one_active ON escrowed_credentials (enrollment_user_uuid, kind, scope) WHERE status = 'active';
  CREATE INDEX escrowed_credentials_by_user ON escrowed_credentials (enrollment_user_uuid, kind, seq);
  CREATE INDEX escrowed_credentials_by_kid ON escrowed_credentials (dek_kid);

  CREATE TABLE escrow_claims (
    claim_id         TEXT PRIMARY KEY,
    enrollment_user_uuid TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('encryption', 'signing')),
    scope            TEXT NOT NULL,
    owner            TEXT NOT NULL,
    replacing_id     TEXT REFERENCES escrowed_credentials (id),
    granted_at       TEXT NOT NULL,
    expires_at_ms    INTEGER NOT NULL,
    ended_at         TEXT,
    outcome          TEXT CHECK (outcome IN ('stored', 'released', 'expired')),
    credential_id    TEXT REFERENCES escrowed_credentials (id),
    CHECK ((ended_at IS NULL) = (outcome IS NULL))
  ) STRICT;
  CREATE UNIQUE INDEX escrow_claims_one_open ON escrow_claims (enrollment_user_uuid, kind, scope) WHERE ended_at IS NULL;
  `,
];

const CREDENTIAL_COLUMNS = `
  id, enrollment_user_uuid AS enrollmentUserUuid, kind, scope, status, created_at AS createdAt,
  superseded_at AS supersededAt, superseded_by AS supersededBy, certificate_json AS certificateJson,
  key_ciphertext AS keyCiphertext, dek_wrapped AS wrappedDataKey, thumbprint, not_after AS notAfter`;

type StoredRow = CredentialRow & { thumbprint: string; notAfter: string };

interface ClaimRow {
  claimId: string;
  enrollmentUserUuid: string;
  kind: CredentialKind;
  scope: string;
  owner: string;
  replacingId: string | null;
  expiresAtMs: number;
  endedAt: string | null;
  outcome: 'stored' | 'released' | 'expired' | null;
  credentialId: string | null;
  storedThumbprint: string | null;
}

const CLAIM_COLUMNS = `
  c.claim_id AS claimId, c.enrollment_user_uuid AS enrollmentUserUuid, c.kind, c.scope, c.owner,
  c.replacing_id AS replacingId, c.expires_at_ms AS expiresAtMs, c.ended_at AS endedAt, c.outcome,
  c.credential_id AS credentialId, s.thumbprint AS storedThumbprint`;

export class SqliteEscrowStore implements EscrowStore {
  readonly type = 'sqlite';
  #sealer: Sealer;
  readonly #db: Database.Database;
  readonly #logger: Logger;
  readonly #file: string;
  readonly #waitPollMs: number | undefined;
  readonly #sql;

  static async open(options: SqliteEscrowStoreOptions): Promise<SqliteEscrowStore> {
    return new SqliteEscrowStore(options);
  }

  private constructor(options: SqliteEscrowStoreOptions) {
    this.#file = options.file;
    this.#logger = options.logger;
    this.#sealer = new Sealer(options.keyring);
    this.#waitPollMs = options.waitPollMs;
    mkdirSync(dirname(options.file), { recursive: true, mode: 0o700 });
    // Create the file ourselves so it starts at 0600; SQLite gives -wal and -shm the same mode.
    closeSync(openSync(options.file, 'a', 0o600));
    this.#db = this.#guard(() => new Database(options.file, { timeout: options.busyTimeoutMs ?? 5_000 }));
    try {
      this.#guard(() => {
        this.#db.pragma('journal_mode = WAL');
        // Escrowed keys are the only copy of a user's decryption key: every commit reaches the disk.
        this.#db.pragma('synchronous = FULL');
        this.#db.pragma('foreign_keys = ON');
        this.#migrate();
      });
    } catch (error) {
      this.#db.close();
      throw error;
    }
    this.#sql = this.#prepare();
  }

  async claim(key: EscrowKey, owner: string, options: ClaimOptions = {}): Promise<ClaimResult> {
    const k = checkKey(key);
    checkOwner(owner);
    const leaseMs = checkLease(options.leaseMs);
    const renewBefore = renewBeforeMs(options.renewBefore);
    const outcome = this.#guard(() =>
      this.#db
        .transaction(() => {
          const nowMs = Date.now();
          const active = this.#sql.active.get(k) as StoredRow | undefined;
          const open = this.#sql.openClaim.get(k) as ClaimRow | undefined;
          const decision = decideClaim(
            { active: active && activeFacts(active), openClaim: open && claimFacts(open) },
            { owner, nowMs, leaseMs, renewBeforeMs: renewBefore, waitPollMs: this.#waitPollMs },
          );
          switch (decision.action) {
            case 'exists':
              return { decision, active: active! };
            case 'renew':
              this.#sql.renewClaim.run({ claimId: decision.claimId, expiresAtMs: decision.expiresAtMs });
              return { decision, claimId: decision.claimId };
            case 'grant': {
              const now = new Date(nowMs).toISOString();
              if (decision.takeOverClaimId) this.#sql.endClaim.run({ claimId: decision.takeOverClaimId, endedAt: now, outcome: 'expired', credentialId: null });
              const claimId = randomUUID();
              this.#sql.insertClaim.run({ claimId, ...k, owner, replacingId: decision.replacingId ?? null, grantedAt: now, expiresAtMs: decision.expiresAtMs });
              return { decision, claimId, tookOverFrom: open?.owner };
            }
            case 'wait':
              return { decision };
          }
        })
        .immediate(),
    );
    return claimAnswer(this.#sealer, this.#logger, k, owner, outcome);
  }

  async store(claimId: string, owner: string, credential: CredentialToStore): Promise<StoreResult> {
    checkOwner(owner);
    const prepared = prepareCredential(this.#sealer, credential);
    const k = prepared.key;
    const outcome = this.#guard(() =>
      this.#db
        .transaction(() => {
          const claim = this.#sql.claimById.get({ claimId }) as ClaimRow | undefined;
          const active = this.#sql.active.get(k) as StoredRow | undefined;
          const decision = decideStore(
            { claim: claim && claimFacts(claim), active: active && activeFacts(active) },
            { claimId, owner, key: k, thumbprint: prepared.thumbprint },
          );
          switch (decision.action) {
            case 'store': {
              const now = new Date().toISOString();
              if (decision.supersedeId) this.#sql.supersede.run({ id: decision.supersedeId, supersededAt: now, supersededBy: prepared.id });
              this.#sql.insertCredential.run({
                id: prepared.id,
                ...k,
                createdAt: now,
                certificateJson: prepared.certificateJson,
                thumbprint: prepared.thumbprint,
                serial: prepared.serial,
                notAfter: prepared.notAfter,
                keyCiphertext: prepared.encrypted.keyCiphertext,
                dekKid: prepared.encrypted.dataKeyKid,
                dekWrapped: prepared.encrypted.wrappedDataKey,
              });
              this.#sql.endClaim.run({ claimId, endedAt: now, outcome: 'stored', credentialId: prepared.id });
              return { decision, createdAt: now };
            }
            case 'already-stored':
            case 'theirs':
              return { decision, row: this.#sql.byId.get({ id: decision.credentialId }) as StoredRow };
            case 'lost':
              return { decision };
          }
        })
        .immediate(),
    );
    return storeAnswer(this.#sealer, this.#logger, { claimId, owner, prepared, credential }, outcome);
  }

  async release(claimId: string, owner: string): Promise<void> {
    checkOwner(owner);
    const changes = this.#guard(
      () => this.#sql.releaseClaim.run({ claimId, owner, endedAt: new Date().toISOString() }).changes,
    );
    if (changes > 0) this.#logger.debug({ claimId, owner }, 'escrow claim released');
  }

  async active(key: EscrowKey): Promise<EscrowedCredential | undefined> {
    const row = this.#guard(() => this.#sql.active.get(checkKey(key)) as StoredRow | undefined);
    return row && openCredential(this.#sealer, row);
  }

  async get(id: string): Promise<EscrowedCredential | undefined> {
    const row = this.#guard(() => this.#sql.byId.get({ id }) as StoredRow | undefined);
    return row && openCredential(this.#sealer, row);
  }

  async history(enrollmentUserUuid: string, kind?: CredentialKind): Promise<EscrowedCredential[]> {
    const rows = this.#guard(
      () => (kind ? this.#sql.historyOfKind.all({ enrollmentUserUuid, kind }) : this.#sql.history.all({ enrollmentUserUuid })) as StoredRow[],
    );
    return rows.map((row) => openCredential(this.#sealer, row));
  }

  async rewrap(keyring: Keyring): Promise<{ rewrapped: number }> {
    const sealer = new Sealer(keyring);
    const currentKid = keyring.current.kid;
    let rewrapped = 0;
    let afterSeq = 0;
    for (;;) {
      const batch = this.#guard(
        () => this.#sql.notUnderKid.all({ kid: currentKid, afterSeq }) as { seq: number; id: string; dekWrapped: string }[],
      );
      if (batch.length === 0) break;
      // Open everything in the batch before writing any of it: a missing kid stops the batch whole.
      const updates = batch.map((row) => ({ id: row.id, old: row.dekWrapped, ...rewrapDataKey(sealer, row.id, row.dekWrapped) }));
      rewrapped += this.#guard(() =>
        this.#db
          .transaction(() =>
            updates.reduce(
              (n, u) => n + this.#sql.rewrap.run({ id: u.id, old: u.old, dekWrapped: u.wrappedDataKey, dekKid: u.dataKeyKid }).changes,
              0,
            ),
          )
          .immediate(),
      );
      afterSeq = batch[batch.length - 1]!.seq;
    }
    this.#sealer = sealer;
    this.#logger.info({ rewrapped, kid: currentKid }, 'escrow data keys re-wrapped under the current key-encryption key');
    return { rewrapped };
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }

  #migrate(): void {
    this.#db
      .transaction(() => {
        const applied = this.#db.pragma('user_version', { simple: true }) as number;
        if (applied > MIGRATIONS.length) {
          throw nonRetryable(
            'ConfigurationError',
            `escrow database ${this.#file} has schema version ${applied}, newer than this build knows (${MIGRATIONS.length}); run a newer build`,
          );
        }
        for (let version = applied; version < MIGRATIONS.length; version++) this.#db.exec(MIGRATIONS[version]!);
        if (applied < MIGRATIONS.length) {
          this.#db.pragma(`user_version = ${MIGRATIONS.length}`);
          this.#logger.info({ file: this.#file, from: applied, to: MIGRATIONS.length }, 'escrow database schema migrated');
        }
      })
      .immediate();
  }

  #prepare() {
    const db = this.#db;
    const key = 'enrollment_user_uuid = @enrollmentUserUuid AND kind = @kind AND scope = @scope';
    return {
      active: db.prepare(`SELECT ${CREDENTIAL_COLUMNS} FROM escrowed_credentials WHERE ${key} AND status = 'active'`),
      byId: db.prepare(`SELECT ${CREDENTIAL_COLUMNS} FROM escrowed_credentials WHERE id = @id`),
      history: db.prepare(`SELECT ${CREDENTIAL_COLUMNS} FROM escrowed_credentials WHERE enrollment_user_uuid = @enrollmentUserUuid ORDER BY seq DESC`),
      historyOfKind: db.prepare(
        `SELECT ${CREDENTIAL_COLUMNS} FROM escrowed_credentials WHERE enrollment_user_uuid = @enrollmentUserUuid AND kind = @kind ORDER BY seq DESC`,
      ),
      insertCredential: db.prepare(`
        INSERT INTO escrowed_credentials
          (id, enrollment_user_uuid, kind, scope, status, created_at, certificate_json, thumbprint, serial, not_after, key_ciphertext, dek_kid, dek_wrapped)
        VALUES (@id, @enrollmentUserUuid, @kind, @scope, 'active', @createdAt, @certificateJson, @thumbprint, @serial, @notAfter, @keyCiphertext, @dekKid, @dekWrapped)`),
      supersede: db.prepare(
        `UPDATE escrowed_credentials SET status = 'superseded', superseded_at = @supersededAt, superseded_by = @supersededBy WHERE id = @id AND status = 'active'`,
      ),
      notUnderKid: db.prepare(
        'SELECT seq, id, dek_wrapped AS dekWrapped FROM escrowed_credentials WHERE dek_kid <> @kid AND seq > @afterSeq ORDER BY seq LIMIT 200',
      ),
      rewrap: db.prepare('UPDATE escrowed_credentials SET dek_wrapped = @dekWrapped, dek_kid = @dekKid WHERE id = @id AND dek_wrapped = @old'),
      openClaim: db.prepare(
        `SELECT ${CLAIM_COLUMNS} FROM escrow_claims c LEFT JOIN escrowed_credentials s ON s.id = c.credential_id WHERE c.enrollment_user_uuid = @enrollmentUserUuid AND c.kind = @kind AND c.scope = @scope AND c.ended_at IS NULL`,
      ),
      claimById: db.prepare(`SELECT ${CLAIM_COLUMNS} FROM escrow_claims c LEFT JOIN escrowed_credentials s ON s.id = c.credential_id WHERE c.claim_id = @claimId`),
      insertClaim: db.prepare(`
        INSERT INTO escrow_claims (claim_id, enrollment_user_uuid, kind, scope, owner, replacing_id, granted_at, expires_at_ms)
        VALUES (@claimId, @enrollmentUserUuid, @kind, @scope, @owner, @replacingId, @grantedAt, @expiresAtMs)`),
      renewClaim: db.prepare('UPDATE escrow_claims SET expires_at_ms = @expiresAtMs WHERE claim_id = @claimId AND ended_at IS NULL'),
      endClaim: db.prepare(
        'UPDATE escrow_claims SET ended_at = @endedAt, outcome = @outcome, credential_id = @credentialId WHERE claim_id = @claimId AND ended_at IS NULL',
      ),
      releaseClaim: db.prepare(
        "UPDATE escrow_claims SET ended_at = @endedAt, outcome = 'released' WHERE claim_id = @claimId AND owner = @owner AND ended_at IS NULL",
      ),
    };
  }

  /** SQLite failures that waiting can cure become `EscrowUnavailable` (retryable); the rest stay as they are. */
  #guard<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (error instanceof Database.SqliteError && typeof code === 'string' && /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN)/.test(code)) {
        throw escrowFailure(ESCROW_ERRORS.Unavailable, `escrow database ${this.#file}: ${code} (${error.message})`);
      }
      throw error;
    }
  }
}

function activeFacts(row: StoredRow): ActiveFacts {
  return { id: row.id, thumbprint: row.thumbprint, notAfterMs: Date.parse(row.notAfter) };
}

function claimFacts(row: ClaimRow): ClaimFacts {
  return {
    claimId: row.claimId,
    key: { enrollmentUserUuid: row.enrollmentUserUuid, kind: row.kind, scope: row.scope },
    owner: row.owner,
    expiresAtMs: row.expiresAtMs,
    replacingId: row.replacingId ?? undefined,
    ended: row.endedAt !== null,
    outcome: row.outcome ?? undefined,
    storedCredentialId: row.credentialId ?? undefined,
    storedThumbprint: row.storedThumbprint ?? undefined,
  };
}
