/**
 * The credential register as the API reads it: GET /v1/credentials and the expiry gauge on
 * /metrics. The register is the worker's (src/activities/register): one table in the provider's
 * database — SQLite `DATA_DIR/escrow.db` shared with the worker on one host, or PostgreSQL
 * (ESCROW_DATABASE_URL) — which the API opens the same way it opens it for codec sessions: on first
 * use, so the API starts and takes webhooks while the database is away; a read then answers 503.
 *
 * The API holds no sealing keys (SEALING_KEYS is the worker's alone) and never needs them: it only
 * lists rows, and a row's private key is never read here. The register's constructor wants a
 * sealer all the same, so it gets one that refuses every use.
 */
import { randomBytes } from 'node:crypto';
import { Keyring, Sealer } from '../activities/crypto/sealing';
import type { ProviderDatabase } from '../activities/database/database';
import { CredentialRegister, type CredentialFilter, type RegisteredCredential } from '../activities/register/credential-register';
import type { Sealed } from '../domain/credentials';

/** What the API asks of the register. */
export interface CredentialReader {
  /** A page of rows, newest first, after the `after` cursor (a row's position); `last` is the next page's cursor. */
  list(filter: CredentialFilter, page: { size: number; after?: number }): Promise<{ items: RegisteredCredential[]; last?: number }>;
  /** Active credentials whose notAfter is before `before` (ISO 8601). */
  countActiveExpiringBefore(before: string): Promise<number>;
}

/** The register could not be opened or read: the caller answers 503 and the client repeats later. */
export class RegisterUnavailable extends Error {
  override readonly name = 'RegisterUnavailable';
}

/** A sealer for a process without sealing keys: any attempt to seal or open is a bug, and says so. */
class NoSealing extends Sealer {
  constructor() {
    // A throw-away key the refusing methods below never reach; the base class wants one.
    super(new Keyring([{ kid: 'api-holds-no-sealing-keys', key: randomBytes(32) }]));
  }

  override seal(): Sealed {
    throw new Error('the API process holds no sealing keys: it reads the credential register, never a private key');
  }

  override open(): Buffer {
    throw new Error('the API process holds no sealing keys: it reads the credential register, never a private key');
  }
}

/**
 * The register opened on first use (its schema migrated then, as the worker would), and again
 * after a failure; `close()` closes the database if it was opened.
 */
export class LazyCredentialRegister implements CredentialReader {
  #ready: Promise<{ db: ProviderDatabase; register: CredentialRegister }> | undefined;

  constructor(private readonly open: () => Promise<ProviderDatabase>) {}

  async list(filter: CredentialFilter, page: { size: number; after?: number }): Promise<{ items: RegisteredCredential[]; last?: number }> {
    return this.read((register) => register.list(filter, page));
  }

  async countActiveExpiringBefore(before: string): Promise<number> {
    return this.read((register) => register.countActiveExpiringBefore(before));
  }

  async close(): Promise<void> {
    const ready = this.#ready;
    this.#ready = undefined;
    const opened = await ready?.catch(() => undefined);
    await opened?.db.close();
  }

  private async read<T>(work: (register: CredentialRegister) => Promise<T>): Promise<T> {
    let register: CredentialRegister;
    try {
      ({ register } = await this.ready());
    } catch (err) {
      throw new RegisterUnavailable(`the credential register cannot be opened: ${(err as Error).message}`, { cause: err });
    }
    try {
      return await work(register);
    } catch (err) {
      throw new RegisterUnavailable(`the credential register cannot be read: ${(err as Error).message}`, { cause: err });
    }
  }

  private ready(): Promise<{ db: ProviderDatabase; register: CredentialRegister }> {
    this.#ready ??= (async () => {
      const db = await this.open();
      try {
        return { db, register: await CredentialRegister.open(db, new NoSealing()) };
      } catch (error) {
        await db.close().catch(() => undefined);
        throw error;
      }
    })();
    const ready = this.#ready;
    // A database that could not be opened is tried again by the next request.
    ready.catch(() => {
      if (this.#ready === ready) this.#ready = undefined;
    });
    return ready;
  }
}
