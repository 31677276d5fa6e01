/**
 * The escrow on the provider's database (SQLite or PostgreSQL, see ../database): written once for
 * both. `claim` and `store` for one escrow key run in a transaction locked on that key; inside it
 * they read the state, ask decisions.ts what to do, and write what the decision says. Crypto that
 * costs anything (checking the key against the certificate, encrypting) happens before a
 * transaction starts; decrypting what was read happens after it commits.
 */
import { randomUUID } from 'node:crypto';
import type { CredentialKind } from '../../domain/enrollment';
import type { Logger } from '../../logging';
import { Sealer, type Keyring } from '../crypto/sealing';
import { portableMigration, type Dialect, type ProviderDatabase } from '../database/database';
import { decideClaim, decideStore, type ActiveFacts, type ClaimFacts } from './decisions';
import { rewrapDataKey } from './envelope';
import * as escrow from './escrow-store';
import { claimAnswer, openCredential, prepareCredential, storeAnswer, type CredentialRow } from './records';

/** Schema migrations of the escrow's tables, in order (the database records which ran). */
const MIGRATIONS = [
  portableMigration(
    `
  CREATE TABLE escrowed_credentials (
    seq              {serial},
    id               {text} NOT NULL UNIQUE,
    enrollment_user_uuid {text} NOT NULL,
    kind             {text} NOT NULL CHECK (kind IN ('encryption', 'signing')),
    scope            {text} NOT NULL,
    status           {text} NOT NULL CHECK (status IN ('active', 'superseded')),
    created_at       {time} NOT NULL,
    superseded_at    {time},
    superseded_by    {text} REFERENCES escrowed_credentials (id) DEFERRABLE INITIALLY DEFERRED,
    certificate_json {text} NOT NULL,
    thumbprint       {text} NOT NULL,
    serial           {text} NOT NULL,
    not_after        {time} NOT NULL,
    key_ciphertext   {bytes} NOT NULL,
    dek_kid          {text} NOT NULL,
    dek_wrapped      {text} NOT NULL
  ){strict};
  CREATE UNIQUE INDEX escrowed_credentials_one_active ON escrowed_credentials (enrollment_user_uuid, kind, scope) WHERE status = 'active';
  CREATE INDEX escrowed_credentials_by_user ON escrowed_credentials (enrollment_user_uuid, kind, seq);
  CREATE INDEX escrowed_credentials_by_kid ON escrowed_credentials (dek_kid);

  CREATE TABLE escrow_claims (
    claim_id         {text} PRIMARY KEY,
    enrollment_user_uuid {text} NOT NULL,
    kind             {text} NOT NULL CHECK (kind IN ('encryption', 'signing')),
    scope            {text} NOT NULL,
    owner            {text} NOT NULL,
    replacing_id     {text} REFERENCES escrowed_credentials (id),
    granted_at       {time} NOT NULL,
    {expires} NOT NULL,
    ended_at         {time},
    outcome          {text} CHECK (outcome IN ('stored', 'released', 'expired')),
    credential_id    {text} REFERENCES escrowed_credentials (id),
    CHECK ((ended_at IS NULL) = (outcome IS NULL))
  ){strict};
  CREATE UNIQUE INDEX escrow_claims_one_open ON escrow_claims (enrollment_user_uuid, kind, scope) WHERE ended_at IS NULL;
  `,
    // Earlier releases kept a claim's expiry as milliseconds in SQLite and as a timestamp in PostgreSQL.
    { expires: { sqlite: 'expires_at_ms    INTEGER', postgres: 'expires_at       timestamptz' } },
  ),
];

/** Where the two dialects' escrow tables differ: how a claim's expiry is kept. */
const EXPIRY: Record<Dialect, { column: string; readMs: string; write: (ms: number) => number | string }> = {
  sqlite: { column: 'expires_at_ms', readMs: 'c.expires_at_ms', write: (ms) => ms },
  postgres: { column: 'expires_at', readMs: '(extract(epoch FROM c.expires_at) * 1000)::float8', write: (ms) => new Date(ms).toISOString() },
};

const CREDENTIAL_COLUMNS = `
  id, enrollment_user_uuid AS "enrollmentUserUuid", kind, scope, status, created_at AS "createdAt",
  superseded_at AS "supersededAt", superseded_by AS "supersededBy", certificate_json AS "certificateJson",
  key_ciphertext AS "keyCiphertext", dek_wrapped AS "wrappedDataKey", thumbprint, not_after AS "notAfter"`;

const KEY = 'enrollment_user_uuid = $1 AND kind = $2 AND scope = $3';

function statements(dialect: Dialect) {
  const expiry = EXPIRY[dialect];
  const claimColumns = `
    c.claim_id AS "claimId", c.enrollment_user_uuid AS "enrollmentUserUuid", c.kind, c.scope, c.owner,
    c.replacing_id AS "replacingId", ${expiry.readMs} AS "expiresAtMs", c.ended_at AS "endedAt", c.outcome,
    c.credential_id AS "credentialId", s.thumbprint AS "storedThumbprint"`;
  const claims = `SELECT ${claimColumns} FROM escrow_claims c LEFT JOIN escrowed_credentials s ON s.id = c.credential_id`;
  return {
    active: `SELECT ${CREDENTIAL_COLUMNS} FROM escrowed_credentials WHERE ${KEY} AND status = 'active'`,
    byId: `SELECT ${CREDENTIAL_COLUMNS} FROM escrowed_credentials WHERE id = $1`,
    history: `SELECT ${CREDENTIAL_COLUMNS} FROM escrowed_credentials WHERE enrollment_user_uuid = $1 AND (CAST($2 AS TEXT) IS NULL OR kind = $2) ORDER BY seq DESC`,
    insertCredential: `
      INSERT INTO escrowed_credentials
        (id, enrollment_user_uuid, kind, scope, status, created_at, certificate_json, thumbprint, serial, not_after, key_ciphertext, dek_kid, dek_wrapped)
      VALUES ($1, $2, $3, $4, 'active', $5, $6, $7, $8, $9, $10, $11, $12)`,
    supersede: `UPDATE escrowed_credentials SET status = 'superseded', superseded_at = $2, superseded_by = $3 WHERE id = $1 AND status = 'active'`,
    notUnderKid: 'SELECT seq, id, dek_wrapped AS "dekWrapped" FROM escrowed_credentials WHERE dek_kid <> $1 AND seq > $2 ORDER BY seq LIMIT 200',
    rewrap: 'UPDATE escrowed_credentials SET dek_wrapped = $3, dek_kid = $4 WHERE id = $1 AND dek_wrapped = $2',
    openClaim: `${claims} WHERE c.enrollment_user_uuid = $1 AND c.kind = $2 AND c.scope = $3 AND c.ended_at IS NULL`,
    claimById: `${claims} WHERE c.claim_id = $1`,
    insertClaim: `
      INSERT INTO escrow_claims (claim_id, enrollment_user_uuid, kind, scope, owner, replacing_id, granted_at, ${expiry.column})
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    renewClaim: `UPDATE escrow_claims SET ${expiry.column} = $2 WHERE claim_id = $1 AND ended_at IS NULL`,
    endClaim: 'UPDATE escrow_claims SET ended_at = $2, outcome = $3, credential_id = $4 WHERE claim_id = $1 AND ended_at IS NULL',
    releaseClaim: "UPDATE escrow_claims SET ended_at = $3, outcome = 'released' WHERE claim_id = $1 AND owner = $2 AND ended_at IS NULL",
  } as const;
}

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

export interface SqlEscrowStoreOptions {
  keyring: Keyring;
  logger: Logger;
  /** Upper bound of `retryAfterMs` in a 'wait' answer. Default 5 s. */
  waitPollMs?: number;
  /** Close the database with the store (when the store opened it). */
  ownsDatabase?: boolean;
}

export class SqlEscrowStore implements escrow.EscrowStore {
  readonly type: escrow.EscrowStore['type'];
  #sealer: Sealer;
  readonly #db: ProviderDatabase;
  readonly #sql: ReturnType<typeof statements>;
  readonly #expiry: (typeof EXPIRY)[Dialect];
  readonly #logger: Logger;
  readonly #options: SqlEscrowStoreOptions;

  /** The escrow on an open database, its tables migrated. */
  static async open(db: ProviderDatabase, options: SqlEscrowStoreOptions): Promise<SqlEscrowStore> {
    try {
      await db.migrate('escrow', MIGRATIONS);
    } catch (error) {
      if (options.ownsDatabase) await db.close();
      throw error;
    }
    return new SqlEscrowStore(db, options);
  }

  private constructor(db: ProviderDatabase, options: SqlEscrowStoreOptions) {
    this.type = db.dialect;
    this.#db = db;
    this.#sql = statements(db.dialect);
    this.#expiry = EXPIRY[db.dialect];
    this.#sealer = new Sealer(options.keyring);
    this.#logger = options.logger;
    this.#options = options;
  }

  async claim(key: escrow.EscrowKey, owner: string, options: escrow.ClaimOptions = {}): Promise<escrow.ClaimResult> {
    const k = escrow.checkKey(key);
    escrow.checkOwner(owner);
    const leaseMs = escrow.checkLease(options.leaseMs);
    const renewBefore = escrow.renewBeforeMs(options.renewBefore);
    const renewIssuedBefore = escrow.renewBeforeMs(options.renewIssuedBefore);
    const outcome = await this.#db.transaction(lockKeyOf(k), async (tx) => {
      const active = await tx.one<StoredRow>(this.#sql.active, keyParams(k));
      const open = await tx.one<ClaimRow>(this.#sql.openClaim, keyParams(k));
      const decision = decideClaim(
        { active: active && activeFacts(active), openClaim: open && claimFacts(open) },
        { owner, nowMs: tx.nowMs, leaseMs, renewBeforeMs: renewBefore, renewIssuedBeforeMs: renewIssuedBefore, waitPollMs: this.#options.waitPollMs },
      );
      switch (decision.action) {
        case 'exists':
          return { decision, active: active! };
        case 'renew':
          await tx.run(this.#sql.renewClaim, [decision.claimId, this.#expiry.write(decision.expiresAtMs)]);
          return { decision, claimId: decision.claimId };
        case 'grant': {
          const now = new Date(tx.nowMs).toISOString();
          if (decision.takeOverClaimId) await tx.run(this.#sql.endClaim, [decision.takeOverClaimId, now, 'expired', null]);
          const claimId = randomUUID();
          await tx.run(this.#sql.insertClaim, [claimId, ...keyParams(k), owner, decision.replacingId ?? null, now, this.#expiry.write(decision.expiresAtMs)]);
          return { decision, claimId, tookOverFrom: open?.owner };
        }
        case 'wait':
          return { decision };
      }
    });
    return claimAnswer(this.#sealer, this.#logger, k, owner, outcome);
  }

  async store(claimId: string, owner: string, credential: escrow.CredentialToStore): Promise<escrow.StoreResult> {
    escrow.checkOwner(owner);
    const prepared = prepareCredential(this.#sealer, credential);
    const k = prepared.key;
    const outcome = await this.#db.transaction(lockKeyOf(k), async (tx) => {
      const claim = await tx.one<ClaimRow>(this.#sql.claimById, [claimId]);
      const active = await tx.one<StoredRow>(this.#sql.active, keyParams(k));
      const decision = decideStore({ claim: claim && claimFacts(claim), active: active && activeFacts(active) }, { claimId, owner, key: k, thumbprint: prepared.thumbprint });
      switch (decision.action) {
        case 'store': {
          const now = new Date(tx.nowMs).toISOString();
          if (decision.supersedeId) await tx.run(this.#sql.supersede, [decision.supersedeId, now, prepared.id]);
          await tx.run(this.#sql.insertCredential, [
            prepared.id,
            ...keyParams(k),
            now,
            prepared.certificateJson,
            prepared.thumbprint,
            prepared.serial,
            prepared.notAfter,
            prepared.encrypted.keyCiphertext,
            prepared.encrypted.dataKeyKid,
            prepared.encrypted.wrappedDataKey,
          ]);
          await tx.run(this.#sql.endClaim, [claimId, now, 'stored', prepared.id]);
          return { decision, createdAt: now };
        }
        case 'already-stored':
        case 'theirs':
          return { decision, row: (await tx.one<StoredRow>(this.#sql.byId, [decision.credentialId]))! };
        case 'lost':
          return { decision };
      }
    });
    return storeAnswer(this.#sealer, this.#logger, { claimId, owner, prepared, credential }, outcome);
  }

  async release(claimId: string, owner: string): Promise<void> {
    escrow.checkOwner(owner);
    const changed = await this.#db.transaction(undefined, (tx) => tx.run(this.#sql.releaseClaim, [claimId, owner, new Date(tx.nowMs).toISOString()]));
    if (changed > 0) this.#logger.debug({ claimId, owner }, 'escrow claim released');
  }

  async active(key: escrow.EscrowKey): Promise<escrow.EscrowedCredential | undefined> {
    const row = await this.#db.one<StoredRow>(this.#sql.active, keyParams(escrow.checkKey(key)));
    return row && openCredential(this.#sealer, row);
  }

  async get(id: string): Promise<escrow.EscrowedCredential | undefined> {
    const row = await this.#db.one<StoredRow>(this.#sql.byId, [id]);
    return row && openCredential(this.#sealer, row);
  }

  async history(enrollmentUserUuid: string, kind?: CredentialKind): Promise<escrow.EscrowedCredential[]> {
    const rows = await this.#db.all<StoredRow>(this.#sql.history, [enrollmentUserUuid, kind ?? null]);
    return rows.map((row) => openCredential(this.#sealer, row));
  }

  async rewrap(keyring: Keyring): Promise<{ rewrapped: number }> {
    const sealer = new Sealer(keyring);
    const currentKid = keyring.current.kid;
    let rewrapped = 0;
    let afterSeq = 0;
    for (;;) {
      const batch = await this.#db.all<{ seq: number; id: string; dekWrapped: string }>(this.#sql.notUnderKid, [currentKid, afterSeq]);
      if (batch.length === 0) break;
      // Open everything in the batch before writing any of it: a missing kid stops the batch whole.
      const updates = batch.map((row) => ({ id: row.id, old: row.dekWrapped, ...rewrapDataKey(sealer, row.id, row.dekWrapped) }));
      rewrapped += await this.#db.transaction(undefined, async (tx) => {
        let changed = 0;
        for (const u of updates) changed += await tx.run(this.#sql.rewrap, [u.id, u.old, u.wrappedDataKey, u.dataKeyKid]);
        return changed;
      });
      afterSeq = batch[batch.length - 1]!.seq;
    }
    this.#sealer = sealer;
    this.#logger.info({ rewrapped, kid: currentKid }, 'escrow data keys re-wrapped under the current key-encryption key');
    return { rewrapped };
  }

  async close(): Promise<void> {
    if (this.#options.ownsDatabase) await this.#db.close();
  }
}

/** The lock for one escrow key (the same id earlier releases took on PostgreSQL). */
function lockKeyOf(key: escrow.EscrowKey): string {
  return JSON.stringify(['smime-escrow-provider/escrow-key', key.enrollmentUserUuid, key.kind, key.scope]);
}

function keyParams(k: escrow.EscrowKey): [string, string, string] {
  return [k.enrollmentUserUuid, k.kind, k.scope];
}

function activeFacts(row: StoredRow): ActiveFacts {
  return { id: row.id, thumbprint: row.thumbprint, notAfterMs: Date.parse(row.notAfter), createdAtMs: Date.parse(row.createdAt) };
}

function claimFacts(row: ClaimRow): ClaimFacts {
  return {
    claimId: row.claimId,
    key: { enrollmentUserUuid: row.enrollmentUserUuid, kind: row.kind, scope: row.scope },
    owner: row.owner,
    expiresAtMs: Number(row.expiresAtMs),
    replacingId: row.replacingId ?? undefined,
    ended: row.endedAt !== null,
    outcome: row.outcome ?? undefined,
    storedCredentialId: row.credentialId ?? undefined,
    storedThumbprint: row.storedThumbprint ?? undefined,
  };
}
