/**
 * A pool of pre-generated key pairs, so a burst of enrollments does not wait for RSA key
 * generation (tens to hundreds of milliseconds of CPU per key, the largest cost of a delivery).
 *
 * - Filled in idle time: one key at a time on the libuv pool, and only once no key has been
 *   taken for a moment (REFILL_AFTER_IDLE_MS) and no on-demand generation is running, so a
 *   burst that drains the pool gets the cores to itself instead of competing with its refill;
 *   under load that never pauses, still one key every few seconds (maxRefillDeferMs).
 * - Bounded: at most `size` keys wait; the pool stops generating when full.
 * - Sealed at rest: each waiting key is a file in `dir`, sealed with the provider's key-encryption
 *   key (context `key-pool`), so a restart keeps the pool and the disk never holds a clear key.
 * - Single use: a key is claimed by an atomic rename before it is read, so two worker processes
 *   sharing the folder can never hand out the same key; the claimed file is deleted at once.
 * Keys of another algorithm or size than the current options are discarded, never handed out.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../logging';
import { generateKeyPair, spkiSha256, type GeneratedKey, type KeyOptions } from './keys';
import type { Sealer } from './sealing';

export interface KeySource {
  take(): Promise<GeneratedKey & { fromPool: boolean }>;
}

/** No pool: every key made on demand. */
export function onDemandKeys(options: KeyOptions): KeySource {
  return { take: async () => ({ ...(await generateKeyPair(options)), fromPool: false }) };
}

export interface KeyPoolOptions {
  keyOptions: KeyOptions;
  /** Keys kept ready; 0 disables the pool. */
  size: number;
  dir: string;
  sealer: Sealer;
  logger?: Logger;
  /**
   * Under steady load (a take more often than every second, or on-demand generation always
   * running) the pool still makes one key at least this often, so it recovers. Default 5 s.
   */
  maxRefillDeferMs?: number;
}

const SEAL_CONTEXT = 'key-pool';
/** A burst takes keys every few milliseconds; a second without a take means the burst is over. */
const REFILL_AFTER_IDLE_MS = 1000;
const DEFAULT_MAX_REFILL_DEFER_MS = 5000;
const READY = '.key';

interface PooledKeyFile {
  algorithm: string;
  privateKeyPkcs8: string; // sealed
  publicKeySpki: string; // base64
}

export class KeyPool implements KeySource {
  private onDemand = 0;
  private lastTake = 0;
  private filling = false;
  private stopped = false;
  private readonly algorithm: string;
  readonly stats = { fromPool: 0, onDemand: 0, generatedInBackground: 0, discarded: 0 };

  constructor(private readonly options: KeyPoolOptions) {
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    const { keyOptions } = options;
    this.algorithm = keyOptions.algorithm === 'rsa' ? `RSA-${keyOptions.rsaBits}` : `EC-${keyOptions.ecCurve}`;
  }

  /** Keys waiting on disk. */
  get available(): number {
    return this.readyFiles().length;
  }

  async take(): Promise<GeneratedKey & { fromPool: boolean }> {
    this.lastTake = Date.now();
    for (const file of this.readyFiles()) {
      const key = await this.claim(file);
      if (key) {
        this.stats.fromPool += 1;
        this.refill();
        return { ...key, fromPool: true };
      }
    }
    this.onDemand += 1;
    try {
      const key = await generateKeyPair(this.options.keyOptions);
      this.stats.onDemand += 1;
      return { ...key, fromPool: false };
    } finally {
      this.onDemand -= 1;
      this.refill();
    }
  }

  /** Start filling in the background (idempotent). */
  refill(): void {
    if (this.filling || this.stopped || this.options.size <= 0) return;
    this.filling = true;
    void this.fillLoop().finally(() => {
      this.filling = false;
    });
  }

  /** Stop background generation (the keys already on disk stay for the next start). */
  stop(): void {
    this.stopped = true;
  }

  /** Resolves when the pool is full (for tests and the benchmark's warm-up). */
  async untilFull(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.refill();
    while (this.available < this.options.size) {
      if (Date.now() > deadline) throw new Error(`key pool holds ${this.available} of ${this.options.size} keys after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async fillLoop(): Promise<void> {
    const maxDeferMs = this.options.maxRefillDeferMs ?? DEFAULT_MAX_REFILL_DEFER_MS;
    let deferringSince: number | undefined;
    while (!this.stopped && this.available < this.options.size) {
      const busy = this.onDemand > 0 || Date.now() - this.lastTake < REFILL_AFTER_IDLE_MS;
      if (busy && Date.now() - (deferringSince ??= Date.now()) < maxDeferMs) {
        // Live enrollments are taking or generating keys: leave them the cores, for a while.
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      deferringSince = undefined;
      try {
        const key = await generateKeyPair(this.options.keyOptions);
        await this.put(key);
        this.stats.generatedInBackground += 1;
      } catch (err) {
        this.options.logger?.warn({ err: (err as Error).message }, 'key pool could not generate a key; pausing');
        await new Promise((r) => setTimeout(r, 5000));
      }
    }
  }

  private async put(key: GeneratedKey): Promise<void> {
    const record: PooledKeyFile = {
      algorithm: key.algorithm,
      privateKeyPkcs8: this.options.sealer.seal(key.privateKeyPkcs8, SEAL_CONTEXT),
      publicKeySpki: key.publicKeySpki.toString('base64'),
    };
    const name = `${Date.now()}-${randomUUID()}`;
    const partial = join(this.options.dir, `${name}.partial`);
    await writeFile(partial, JSON.stringify(record), { mode: 0o600 });
    await rename(partial, join(this.options.dir, `${name}${READY}`)); // appears whole or not at all
  }

  /** Claim a ready file by renaming it; undefined when another taker got it first. */
  private async claim(file: string): Promise<GeneratedKey | undefined> {
    const claimed = join(this.options.dir, `${file}.claimed-${process.pid}-${randomUUID()}`);
    try {
      await rename(join(this.options.dir, file), claimed);
    } catch {
      return undefined;
    }
    try {
      const record = JSON.parse(await readFile(claimed, 'utf8')) as PooledKeyFile;
      if (record.algorithm !== this.algorithm) {
        this.stats.discarded += 1;
        return undefined;
      }
      const publicKeySpki = Buffer.from(record.publicKeySpki, 'base64');
      return {
        privateKeyPkcs8: this.options.sealer.open(record.privateKeyPkcs8, SEAL_CONTEXT),
        publicKeySpki,
        publicKeySha256: spkiSha256(publicKeySpki),
        algorithm: record.algorithm,
      };
    } catch (err) {
      this.stats.discarded += 1;
      this.options.logger?.warn({ err: (err as Error).message }, 'discarded an unreadable pooled key');
      return undefined;
    } finally {
      await unlink(claimed).catch(() => undefined);
    }
  }

  private readyFiles(): string[] {
    try {
      return readdirSync(this.options.dir)
        .filter((f) => f.endsWith(READY))
        .sort();
    } catch {
      return [];
    }
  }
}
