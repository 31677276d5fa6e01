/**
 * The production escrow: PostgreSQL through `pg` (a connection pool), for several workers on
 * several hosts.
 *
 * claim and store for one escrow key are serialised by a transaction-scoped advisory lock on a
 * hash of the key (`pg_advisory_xact_lock`), taken before anything is read; under READ COMMITTED
 * every later statement of the transaction then sees what the previous holder committed. Partial
 * unique indexes (one active credential, one open claim per key) back the rules up: a bug could
 * only ever fail, never leave two active encryption keys for a user. Lease times come from the
 * database clock, so workers with skewed clocks agree on when a lease ends.
 *
 * The schema is created and migrated at open, under a second advisory lock, so workers starting
 * together do not race. Connection problems become `EscrowUnavailable` (retryable); bad
 * credentials or a missing database `ConfigurationError`. The connection string never appears in
 * a log line or an error.
 */
import { createHash, randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { Pool, type PoolClient, type QueryResultRow } from 'pg';
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

export interface PostgresEscrowStoreOptions {
  /** postgresql://user:password@host:port/database[?sslmode=...]. A secret: never logged. */
  connectionString: string;
  keyring: Keyring;
  logger: Logger;
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /** How long to wait for a connection before `EscrowUnavailable`. Default 10 s. */
  connectTimeoutMs?: number;
  /** Upper bound of `retryAfterMs` in a 'wait' answer. Default 5 s. */
  waitPollMs?: number;
}

/** Schema migrations, applied in order, each recorded in escrow_schema_migrations. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE escrowed_credentials (
    seq              bigserial PRIMARY KEY,
    id               text NOT NULL UNIQUE,
    enrollment_user_uuid text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('encryption', 'signing')),
    scope            text NOT NULL,
    status           text NOT NULL CHECK (status IN ('active', 'superseded')),
    created_at       timestamptz NOT NULL,
    superseded_at    timestamptz,
    superseded_by    text REFERENCES escrowed_credentials (id) DEFERRABLE INITIALLY DEFERRED,
    certificate_json text NOT NULL,
    thumbprint       text NOT NULL,
    serial           text NOT NULL,
    not_after        timestamptz NOT NULL,
    key_ciphertext   bytea NOT NULL,
    dek_kid          text NOT NULL,
    dek_wrapped      text NOT NULL
  );
  CREATE UNIQUE INDEX escrowed_credentials_one_active ON escrowed_credentials (enrollment_user_uuid, kind, scope) WHERE status = 'active';
  CREATE INDEX escrowed_credentials_by_user ON escrowed_credentials (enrollment_user_uuid, kind, seq);
  CREATE INDEX escrowed_credentials_by_kid ON escrowed_credentials (dek_kid);

  CREATE TABLE escrow_claims (
    claim_id         text PRIMARY KEY,
    enrollment_user_uuid text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('encryption', 'signing')),
    scope            text NOT NULL,
    owner            text NOT NULL,
    replacing_id     text REFERENCES escrowed_credentials (id),
    granted_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    ended_at         timestamptz,
    outcome          text CHECK (outcome IN ('stored', 'released', 'expired')),
    credential_id    text REFERENCES escrowed_credentials (id),
    CHECK ((ended_at IS NULL) = (outcome IS NULL))
  );
  CREATE UNIQUE INDEX escrow_claims_one_open ON escrow_claims (enrollment_user_uuid, kind, scope) WHERE ended_at IS NULL;
  `,
];

const CREDENTIAL_COLUMNS = `
  id, enrollment_user_uuid AS "enrollmentUserUuid", kind, scope, status, created_at AS "createdAt",
  superseded_at AS "supersededAt", superseded_by AS "supersededBy", certificate_json AS "certificateJson",
  key_ciphertext AS "keyCiphertext", dek_wrapped AS "wrappedDataKey", thumbprint, not_after AS "notAfter"`;

const CLAIM_COLUMNS = `
  c.claim_id AS "claimId", c.enrollment_user_uuid AS "enrollmentUserUuid", c.kind, c.scope, c.owner,
  c.replacing_id AS "replacingId", (extract(epoch FROM c.expires_at) * 1000)::float8 AS "expiresAtMs",
  c.ended_at AS "endedAt", c.outcome, c.credential_id AS "credentialId", s.thumbprint AS "storedThumbprint"`;

const SQL = {
  active: `SELECT ${CREDENTIAL_COLUMNS} FROM escrowed_credentials WHERE enrollment_user_uuid = $1 AND kind = $2 AND scope = $3 AND status = 'active'`,
  byId: `SELECT ${CREDENTIAL_COLUMNS} FROM escrowed_credentials WHERE id = $1`,
  history: `SELECT ${CREDENTIAL_COLUMNS} FROM escrowed_credentials WHERE enrollment_user_uuid = $1 AND ($2::text IS NULL OR kind = $2) ORDER BY seq DESC`,
  insertCredential: `
    INSERT INTO escrowed_credentials
      (id, enrollment_user_uuid, kind, scope, status, created_at, certificate_json, thumbprint, serial, not_after, key_ciphertext, dek_kid, dek_wrapped)
    VALUES ($1, $2, $3, $4, 'active', $5, $6, $7, $8, $9, $10, $11, $12)`,
  supersede: `UPDATE escrowed_credentials SET status = 'superseded', superseded_at = $2, superseded_by = $3 WHERE id = $1 AND status = 'active'`,
  notUnderKid: 'SELECT seq::text AS seq, id, dek_wrapped AS "dekWrapped" FROM escrowed_credentials WHERE dek_kid <> $1 AND seq > $2::bigint ORDER BY seq LIMIT 200',
  rewrap: 'UPDATE escrowed_credentials SET dek_wrapped = $3, dek_kid = $4 WHERE id = $1 AND dek_wrapped = $2',
  openClaim: `SELECT ${CLAIM_COLUMNS} FROM escrow_claims c LEFT JOIN escrowed_credentials s ON s.id = c.credential_id
              WHERE c.enrollment_user_uuid = $1 AND c.kind = $2 AND c.scope = $3 AND c.ended_at IS NULL`,
  claimById: `SELECT ${CLAIM_COLUMNS} FROM escrow_claims c LEFT JOIN escrowed_credentials s ON s.id = c.credential_id WHERE c.claim_id = $1`,
  insertClaim: `
    INSERT INTO escrow_claims (claim_id, enrollment_user_uuid, kind, scope, owner, replacing_id, granted_at, expires_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
  renewClaim: 'UPDATE escrow_claims SET expires_at = $2 WHERE claim_id = $1 AND ended_at IS NULL',
  endClaim: 'UPDATE escrow_claims SET ended_at = $2, outcome = $3, credential_id = $4 WHERE claim_id = $1 AND ended_at IS NULL',
  releaseClaim: "UPDATE escrow_claims SET ended_at = clock_timestamp(), outcome = 'released' WHERE claim_id = $1 AND owner = $2 AND ended_at IS NULL",
  lockAndNow: 'SELECT pg_advisory_xact_lock($1::bigint), (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS "nowMs"',
  now: 'SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS "nowMs"',
} as const;

type StoredRow = Omit<CredentialRow, 'createdAt' | 'supersededAt'> & { createdAt: Date; supersededAt: Date | null; thumbprint: string; notAfter: Date };

interface ClaimRow {
  claimId: string;
  enrollmentUserUuid: string;
  kind: CredentialKind;
  scope: string;
  owner: string;
  replacingId: string | null;
  expiresAtMs: number;
  endedAt: Date | null;
  outcome: 'stored' | 'released' | 'expired' | null;
  credentialId: string | null;
  storedThumbprint: string | null;
}

type Work<T> = (client: PoolClient, nowMs: number) => Promise<T>;

export class PostgresEscrowStore implements EscrowStore {
  readonly type = 'postgres';
  #sealer: Sealer;
  readonly #pool: Pool;
  readonly #logger: Logger;
  readonly #waitPollMs: number | undefined;
  #closed = false;

  static async open(options: PostgresEscrowStoreOptions): Promise<PostgresEscrowStore> {
    const store = new PostgresEscrowStore(options);
    try {
      await store.#migrate();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  private constructor(options: PostgresEscrowStoreOptions) {
    this.#logger = options.logger;
    this.#sealer = new Sealer(options.keyring);
    this.#waitPollMs = options.waitPollMs;
    this.#pool = new Pool({
      connectionString: options.connectionString,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      idleTimeoutMillis: 30_000,
      application_name: 'smime-escrow-provider',
    });
    // An idle connection dropped by the server must not crash the process; the next query reconnects.
    this.#pool.on('error', (error) => this.#logger.warn({ error: error.message }, 'escrow database: an idle connection failed'));
  }

  async claim(key: EscrowKey, owner: string, options: ClaimOptions = {}): Promise<ClaimResult> {
    const k = checkKey(key);
    checkOwner(owner);
    const leaseMs = checkLease(options.leaseMs);
    const renewBefore = renewBeforeMs(options.renewBefore);
    const outcome = await this.#transaction(lockIdOf(k), async (client, nowMs) => {
      const active = await one<StoredRow>(client, SQL.active, keyParams(k));
      const open = await one<ClaimRow>(client, SQL.openClaim, keyParams(k));
      const decision = decideClaim(
        { active: active && activeFacts(active), openClaim: open && claimFacts(open) },
        { owner, nowMs, leaseMs, renewBeforeMs: renewBefore, waitPollMs: this.#waitPollMs },
      );
      switch (decision.action) {
        case 'exists':
          return { decision, active: active! };
        case 'renew':
          await client.query(SQL.renewClaim, [decision.claimId, new Date(decision.expiresAtMs)]);
          return { decision, claimId: decision.claimId };
        case 'grant': {
          const now = new Date(nowMs);
          if (decision.takeOverClaimId) await client.query(SQL.endClaim, [decision.takeOverClaimId, now, 'expired', null]);
          const claimId = randomUUID();
          await client.query(SQL.insertClaim, [claimId, ...keyParams(k), owner, decision.replacingId ?? null, now, new Date(decision.expiresAtMs)]);
          return { decision, claimId, tookOverFrom: open?.owner };
        }
        case 'wait':
          return { decision };
      }
    });
    return claimAnswer(this.#sealer, this.#logger, k, owner, { ...outcome, active: outcome.active && toCredentialRow(outcome.active) });
  }

  async store(claimId: string, owner: string, credential: CredentialToStore): Promise<StoreResult> {
    checkOwner(owner);
    const prepared = prepareCredential(this.#sealer, credential);
    const k = prepared.key;
    const outcome = await this.#transaction(lockIdOf(k), async (client, nowMs) => {
      const claim = await one<ClaimRow>(client, SQL.claimById, [claimId]);
      const active = await one<StoredRow>(client, SQL.active, keyParams(k));
      const decision = decideStore(
        { claim: claim && claimFacts(claim), active: active && activeFacts(active) },
        { claimId, owner, key: k, thumbprint: prepared.thumbprint },
      );
      switch (decision.action) {
        case 'store': {
          const now = new Date(nowMs);
          if (decision.supersedeId) await client.query(SQL.supersede, [decision.supersedeId, now, prepared.id]);
          await client.query(SQL.insertCredential, [
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
          await client.query(SQL.endClaim, [claimId, now, 'stored', prepared.id]);
          return { decision, createdAt: now.toISOString() };
        }
        case 'already-stored':
        case 'theirs':
          return { decision, row: (await one<StoredRow>(client, SQL.byId, [decision.credentialId]))! };
        case 'lost':
          return { decision };
      }
    });
    return storeAnswer(this.#sealer, this.#logger, { claimId, owner, prepared, credential }, { ...outcome, row: outcome.row && toCredentialRow(outcome.row) });
  }

  async release(claimId: string, owner: string): Promise<void> {
    checkOwner(owner);
    const { rowCount } = await this.#query(SQL.releaseClaim, [claimId, owner]);
    if (rowCount) this.#logger.debug({ claimId, owner }, 'escrow claim released');
  }

  async active(key: EscrowKey): Promise<EscrowedCredential | undefined> {
    const { rows } = await this.#query<StoredRow>(SQL.active, keyParams(checkKey(key)));
    return rows[0] && openCredential(this.#sealer, toCredentialRow(rows[0]));
  }

  async get(id: string): Promise<EscrowedCredential | undefined> {
    const { rows } = await this.#query<StoredRow>(SQL.byId, [id]);
    return rows[0] && openCredential(this.#sealer, toCredentialRow(rows[0]));
  }

  async history(enrollmentUserUuid: string, kind?: CredentialKind): Promise<EscrowedCredential[]> {
    const { rows } = await this.#query<StoredRow>(SQL.history, [enrollmentUserUuid, kind ?? null]);
    return rows.map((row) => openCredential(this.#sealer, toCredentialRow(row)));
  }

  async rewrap(keyring: Keyring): Promise<{ rewrapped: number }> {
    const sealer = new Sealer(keyring);
    const currentKid = keyring.current.kid;
    let rewrapped = 0;
    let afterSeq = '0';
    for (;;) {
      const { rows: batch } = await this.#query<{ seq: string; id: string; dekWrapped: string }>(SQL.notUnderKid, [currentKid, afterSeq]);
      if (batch.length === 0) break;
      // Open everything in the batch before writing any of it: a missing kid stops the batch whole.
      const updates = batch.map((row) => ({ id: row.id, old: row.dekWrapped, ...rewrapDataKey(sealer, row.id, row.dekWrapped) }));
      rewrapped += await this.#transaction(undefined, async (client) => {
        let changed = 0;
        for (const u of updates) changed += (await client.query(SQL.rewrap, [u.id, u.old, u.wrappedDataKey, u.dataKeyKid])).rowCount ?? 0;
        return changed;
      });
      afterSeq = batch[batch.length - 1]!.seq;
    }
    this.#sealer = sealer;
    this.#logger.info({ rewrapped, kid: currentKid }, 'escrow data keys re-wrapped under the current key-encryption key');
    return { rewrapped };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  async #migrate(): Promise<void> {
    await this.#transaction(SCHEMA_LOCK_ID, async (client) => {
      await client.query('CREATE TABLE IF NOT EXISTS escrow_schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
      const { rows } = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM escrow_schema_migrations');
      const applied = rows[0]?.version ?? 0;
      if (applied > MIGRATIONS.length) {
        throw nonRetryable('ConfigurationError', `escrow database has schema version ${applied}, newer than this build knows (${MIGRATIONS.length}); run a newer build`);
      }
      for (let version = applied; version < MIGRATIONS.length; version++) {
        await client.query(MIGRATIONS[version]!);
        await client.query('INSERT INTO escrow_schema_migrations (version) VALUES ($1)', [version + 1]);
      }
      if (applied < MIGRATIONS.length) this.#logger.info({ from: applied, to: MIGRATIONS.length }, 'escrow database schema migrated');
    });
  }

  /** One transaction on one pooled connection, after taking the advisory lock `lockId` (if any). */
  async #transaction<T>(lockId: string | undefined, work: Work<T>): Promise<T> {
    const client = await this.#pool.connect().catch((error: unknown) => {
      throw classify(error);
    });
    let discard = false;
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ nowMs: number }>(lockId ? SQL.lockAndNow : SQL.now, lockId ? [lockId] : []);
      const result = await work(client, rows[0]!.nowMs);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        discard = true; // the connection is broken: do not hand it to the next caller
      });
      throw classify(error);
    } finally {
      client.release(discard);
    }
  }

  async #query<R extends QueryResultRow>(text: string, params: unknown[]): Promise<{ rows: R[]; rowCount: number | null }> {
    try {
      return await this.#pool.query<R>(text, params);
    } catch (error) {
      throw classify(error);
    }
  }
}

/** The advisory lock for one escrow key: 64 bits of a SHA-256, namespaced to this application. */
function lockIdOf(key: EscrowKey): string {
  return createHash('sha256')
    .update(JSON.stringify(['smime-escrow-provider/escrow-key', key.enrollmentUserUuid, key.kind, key.scope]))
    .digest()
    .readBigInt64BE(0)
    .toString();
}

const SCHEMA_LOCK_ID = createHash('sha256').update('smime-escrow-provider/escrow-schema').digest().readBigInt64BE(0).toString();

function keyParams(k: EscrowKey): [string, string, string] {
  return [k.enrollmentUserUuid, k.kind, k.scope];
}

async function one<R extends QueryResultRow>(client: PoolClient, text: string, params: unknown[]): Promise<R | undefined> {
  return (await client.query<R>(text, params)).rows[0];
}

function toCredentialRow(row: StoredRow): CredentialRow {
  return { ...row, createdAt: row.createdAt.toISOString(), supersededAt: row.supersededAt?.toISOString() ?? null };
}

function activeFacts(row: StoredRow): ActiveFacts {
  return { id: row.id, thumbprint: row.thumbprint, notAfterMs: row.notAfter.getTime() };
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

/** SQLSTATE classes and codes that waiting can cure. */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0[1-4]|40001|40P01|55P03)/;
/** SQLSTATEs an administrator must fix: authentication, missing database, missing privilege. */
const CONFIGURATION_SQLSTATE = /^(28|3D000|42501)/;
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);

/** Typed failures for the outside system's errors; our own (already typed) pass through. */
function classify(error: unknown): unknown {
  if (error instanceof ApplicationFailure) return error;
  const code = (error as { code?: unknown })?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string' && CONFIGURATION_SQLSTATE.test(code)) {
    return nonRetryable('ConfigurationError', `escrow database (ESCROW_DATABASE_URL) refused us: ${message} [SQLSTATE ${code}]`);
  }
  if (
    (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_ERRNO.has(code))) ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message)
  ) {
    return escrowFailure(ESCROW_ERRORS.Unavailable, `escrow database unavailable: ${message}${typeof code === 'string' ? ` [${code}]` : ''}`);
  }
  return error;
}
