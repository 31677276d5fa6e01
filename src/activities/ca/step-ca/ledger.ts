import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * What the step-ca adapter submitted for one (idempotency key, CSR), written *before* each
 * submission and again when the answer is in: the write-ahead half tells a retry which token may
 * already have been spent, the other half lets a retry answer without asking the CA again.
 * Only public facts: hashes, serials, certificates. Never the token itself.
 */
export const ledgerEntrySchema = z.object({
  version: z.literal(1),
  idempotencyKey: z.string(),
  csrSha256: z.string(),
  kind: z.enum(['signing', 'encryption']),
  email: z.string(),
  /** The submission whose token is, or was last, on its way to the CA (0, 1, ...). */
  attempt: z.number().int().nonnegative(),
  /** Serial number (lower-case hex) the template gives the certificate of `attempt`. */
  serial: z.string(),
  submittedAt: z.string(),
  /** Serials of earlier attempts whose answers were lost; each was revoked before moving on. */
  supersededSerials: z.array(z.string()),
  issued: z
    .object({
      certificatePem: z.string(),
      chainPem: z.array(z.string()),
      serial: z.string(),
      issuedAt: z.string(),
    })
    .optional(),
});

export type LedgerEntry = z.infer<typeof ledgerEntrySchema>;

/**
 * A folder of small JSON files, one per (idempotency key, CSR), each replaced atomically (write,
 * fsync, rename) so a crash leaves the old or the new entry, never half of one. Calls for the same
 * entry are serialised inside the process; the folder belongs to one worker host (see the design
 * notes in step-ca.ts for what that means with several).
 */
export class SubmissionLedger {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** The entry id: also the adapter's request id, so `poll` finds the entry again. */
  static entryId(idempotencyKey: string, csrSha256Hex: string): string {
    return createHash('sha256').update(`${idempotencyKey}\0${csrSha256Hex}`).digest('hex').slice(0, 40);
  }

  async read(id: string): Promise<LedgerEntry | undefined> {
    let text: string;
    try {
      text = await readFile(this.file(id), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const parsed = ledgerEntrySchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(`step-ca ledger entry ${this.file(id)} is damaged: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return parsed.data;
  }

  async write(id: string, entry: LedgerEntry): Promise<void> {
    const target = this.file(id);
    const temporary = `${target}.${process.pid}.tmp`;
    const handle = await open(temporary, 'w', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(entry, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, target);
  }

  /** Run `work` with no other call for the same entry running in this process. */
  async exclusive<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(id) ?? Promise.resolve();
    const current = previous.then(work, work);
    const settled = current.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(id, settled);
    try {
      return await current;
    } finally {
      if (this.locks.get(id) === settled) this.locks.delete(id);
    }
  }

  private file(id: string): string {
    if (!/^[0-9a-f]{40}$/.test(id)) throw new Error('not a step-ca ledger id');
    return join(this.dir, `${id}.json`);
  }
}
