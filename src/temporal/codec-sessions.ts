/**
 * Codec sessions (the browser's `/codec/login` cookie), kept server-side in the provider's
 * database so that logging out ends a session for good and every API replica agrees.
 *
 * The cookie holds a random 256-bit session token; the table holds only its SHA-256, with the
 * expiry and, after a logout, the time it was revoked. Every decode request looks its session up
 * (one indexed read): a revoked or expired session is refused at once, on whichever replica the
 * request lands — no cache, so no replica can honour a session another one has ended. Rows are
 * deleted a day after they expire.
 *
 * The database is SQLite (`DATA_DIR/escrow.db`, one host: the API and the worker may share it)
 * or PostgreSQL (ESCROW_DATABASE_URL, several hosts), as ESCROW_STORE says. It is opened on first
 * use, so the API starts and takes webhooks while the database is away; a codec request then
 * answers 503.
 */
import { createHash, randomBytes } from 'node:crypto';
import { portableMigration, type ProviderDatabase } from '../activities/database/database';

export interface CodecSessionStore {
  /** A new session until `expiresAtMs`: the token for the cookie. */
  create(expiresAtMs: number): Promise<string>;
  /** True while the session exists, has not expired and has not been revoked. */
  isActive(token: string): Promise<boolean>;
  /** End the session (logout); unknown tokens are ignored. */
  revoke(token: string): Promise<void>;
}

const MIGRATIONS = [
  portableMigration(`
  CREATE TABLE codec_sessions (
    token_sha256 {text} PRIMARY KEY,
    created_at   {time} NOT NULL,
    expires_at   {time} NOT NULL,
    revoked_at   {time}
  ){strict};
  CREATE INDEX codec_sessions_by_expiry ON codec_sessions (expires_at);
  `),
];

/** Expired rows are kept this long (a late logout still finds its row), then deleted. */
const KEEP_EXPIRED_MS = 24 * 60 * 60 * 1000;
/** A token is 32 random bytes, base64url: anything else is not one of ours and is not looked up. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export class SqlCodecSessionStore implements CodecSessionStore {
  #ready: Promise<ProviderDatabase> | undefined;

  /** `open` is called on first use (and again after a failure); the table is migrated then. */
  constructor(
    private readonly open: () => Promise<ProviderDatabase>,
    private readonly now: () => number = Date.now,
  ) {}

  async create(expiresAtMs: number): Promise<string> {
    const db = await this.database();
    const token = randomBytes(32).toString('base64url');
    const now = this.now();
    await db.run('DELETE FROM codec_sessions WHERE expires_at < $1', [iso(now - KEEP_EXPIRED_MS)]);
    await db.run('INSERT INTO codec_sessions (token_sha256, created_at, expires_at) VALUES ($1, $2, $3)', [digest(token), iso(now), iso(expiresAtMs)]);
    return token;
  }

  async isActive(token: string): Promise<boolean> {
    if (!TOKEN_PATTERN.test(token)) return false;
    const db = await this.database();
    const row = await db.one<{ ok: number }>('SELECT 1 AS ok FROM codec_sessions WHERE token_sha256 = $1 AND revoked_at IS NULL AND expires_at > $2', [
      digest(token),
      iso(this.now()),
    ]);
    return row !== undefined;
  }

  async revoke(token: string): Promise<void> {
    if (!TOKEN_PATTERN.test(token)) return;
    const db = await this.database();
    await db.run('UPDATE codec_sessions SET revoked_at = $1 WHERE token_sha256 = $2 AND revoked_at IS NULL', [iso(this.now()), digest(token)]);
  }

  /** Close the database if it was opened. */
  async close(): Promise<void> {
    const ready = this.#ready;
    this.#ready = undefined;
    const db = await ready?.catch(() => undefined);
    await db?.close();
  }

  private database(): Promise<ProviderDatabase> {
    this.#ready ??= (async () => {
      const db = await this.open();
      try {
        await db.migrate('codec-sessions', MIGRATIONS);
      } catch (error) {
        await db.close().catch(() => undefined);
        throw error;
      }
      return db;
    })();
    const ready = this.#ready;
    // A database that could not be opened is tried again by the next request.
    ready.catch(() => {
      if (this.#ready === ready) this.#ready = undefined;
    });
    return ready;
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
