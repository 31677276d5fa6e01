/**
 * What the CEG simulator holds: one credential per (EnrollmentUserUUID, DeviceUUID, kind) slot,
 * in memory and on disk under `<dataDir>/ceg-sim/received/<user>/<device>/`:
 *
 *   <kind>.p12    the PKCS#12 as received                      (0600)
 *   <kind>.pass   its password                                 (0600)
 *   <kind>.json   the public record (no secret), written last  (0600)
 *   <kind>.archived/<thumbprint>.p12
 *                 each archived credential of an encryption upload (the user's earlier keys),
 *                 opening with the same <kind>.pass                   (folder 0700, files 0600)
 *
 * SIMULATOR ONLY. Writing PKCS#12 files and their passwords to disk is a development feature so a
 * developer can inspect what was delivered (`openssl pkcs12 -in ... -passin file:...`). The real
 * CEG never writes secrets to disk.
 *
 * The records are read back at start, so a restarted simulator still knows what it holds and a
 * repeated upload stays harmless across restarts.
 */
import { mkdir, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Pkcs12Profile } from '../../domain/credentials';
import type { CredentialKind } from '../../domain/enrollment';
import type { Logger } from '../../logging';
import type { Pkcs12Algorithms } from './inspect-credential';

/** One stored credential, as `GET /sim/uploads` lists it: public facts only. */
export interface SimUploadRecord {
  enrollmentUserUuid: string;
  deviceUuid: string;
  kind: CredentialKind;
  thumbprint: string;
  email: string;
  enrollmentUserId?: string;
  receivedAt: string;
  receiptId: string;
  /** The profile the file's algorithms match (checked by the simulator, not taken from the sender). */
  profile?: Pkcs12Profile;
  algorithms: Pkcs12Algorithms;
  /** How the password arrived: in the clear (inside TLS) or encrypted to the recipient certificate. */
  passwordTransport: 'clear' | 'encrypted';
  /** Thumbprint of the client certificate that uploaded it. */
  uploadedBy: string;
  /** Encryption only: the archived credentials that came with it (the user's earlier keys), newest first. */
  archivedThumbprints?: string[];
}

/** An archived credential as the simulator keeps it (the file opens with the slot's password). */
export interface ArchivedFile {
  thumbprint: string;
  pkcs12: Buffer;
}

export interface SimDeletionRecord {
  enrollmentUserUuid: string;
  deviceUuid: string;
  removedKinds: CredentialKind[];
  receivedAt: string;
}

const KINDS: CredentialKind[] = ['signing', 'encryption'];

export class CredentialStore {
  private readonly root: string;
  private readonly held = new Map<string, SimUploadRecord>();
  private readonly deletions: SimDeletionRecord[] = [];
  /** Per-slot chains, so two uploads to one slot are decided one after the other. */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(dataDir: string, private readonly logger?: Logger) {
    this.root = join(dataDir, 'ceg-sim', 'received');
  }

  get directory(): string {
    return this.root;
  }

  /** Read back what earlier runs stored. */
  async load(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    for (const user of await readdir(this.root)) {
      const userDir = join(this.root, user);
      for (const device of await readdir(userDir).catch(() => [] as string[])) {
        for (const kind of KINDS) {
          const file = join(userDir, device, `${kind}.json`);
          let record: SimUploadRecord;
          try {
            record = JSON.parse(await readFile(file, 'utf8')) as SimUploadRecord;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.logger?.warn({ file }, 'ceg-sim: skipping an unreadable record');
            continue;
          }
          if (record.enrollmentUserUuid === user && record.deviceUuid === device && record.kind === kind && record.thumbprint) {
            this.held.set(slotKey(record), record);
          }
        }
      }
    }
  }

  get(slot: Slot): SimUploadRecord | undefined {
    return this.held.get(slotKey(slot));
  }

  /** Everything held now, oldest first. */
  list(): SimUploadRecord[] {
    return [...this.held.values()].sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
  }

  listDeletions(): SimDeletionRecord[] {
    return [...this.deletions];
  }

  /** Run `fn` while no other call for the same slot runs. */
  async withSlot<T>(slot: Slot, fn: () => Promise<T>): Promise<T> {
    const key = slotKey(slot);
    const before = this.locks.get(key) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const settled = run.catch(() => undefined);
    this.locks.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    }
  }

  /**
   * Store a credential in its slot (replacing what was there, archived files included), files
   * first, record last; archived files the new record does not name are removed after it.
   */
  async put(record: SimUploadRecord, pkcs12: Buffer, password: string, archived: ArchivedFile[] = []): Promise<void> {
    const dir = this.deviceDir(record);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const archivedDir = join(dir, `${record.kind}.archived`);
    if (archived.length > 0) await mkdir(archivedDir, { recursive: true, mode: 0o700 });
    // Thumbprints were validated as 64 hex digits by the contract: safe as file names.
    for (const file of archived) await writeAtomically(join(archivedDir, `${file.thumbprint}.p12`), file.pkcs12);
    await writeAtomically(join(dir, `${record.kind}.p12`), pkcs12);
    await writeAtomically(join(dir, `${record.kind}.pass`), password);
    await writeAtomically(join(dir, `${record.kind}.json`), JSON.stringify(record, null, 2) + '\n');
    this.held.set(slotKey(record), record);
    const kept = new Set(archived.map((file) => `${file.thumbprint}.p12`));
    const present = await readdir(archivedDir).catch(() => [] as string[]);
    for (const name of present) if (!kept.has(name)) await rm(join(archivedDir, name), { force: true });
    if (archived.length === 0) await rmdir(archivedDir).catch(() => undefined);
  }

  /** Remove every credential of a device; returns the kinds that were held. */
  async removeDevice(device: { enrollmentUserUuid: string; deviceUuid: string }): Promise<CredentialKind[]> {
    const removed: CredentialKind[] = [];
    for (const kind of KINDS) {
      if (this.held.delete(slotKey({ ...device, kind }))) removed.push(kind);
    }
    const dir = this.deviceDir(device);
    await rm(dir, { recursive: true, force: true });
    await rmdir(join(this.root, device.enrollmentUserUuid)).catch(() => undefined); // only when empty
    this.deletions.push({ ...device, removedKinds: removed, receivedAt: new Date().toISOString() });
    return removed;
  }

  /** Forget everything (tests): records, deletions and files. */
  async reset(): Promise<void> {
    this.held.clear();
    this.deletions.length = 0;
    await rm(this.root, { recursive: true, force: true });
    await mkdir(this.root, { recursive: true, mode: 0o700 });
  }

  private deviceDir(device: { enrollmentUserUuid: string; deviceUuid: string }): string {
    // Both parts were validated as UUIDs by the contract: no path tricks possible.
    return join(this.root, device.enrollmentUserUuid, device.deviceUuid);
  }
}

export interface Slot {
  enrollmentUserUuid: string;
  deviceUuid: string;
  kind: CredentialKind;
}

function slotKey(slot: Slot): string {
  return `${slot.enrollmentUserUuid}/${slot.deviceUuid}/${slot.kind}`;
}

async function writeAtomically(path: string, data: Buffer | string): Promise<void> {
  const temp = `${path}.tmp-${process.pid}-${Date.now()}`;
  await writeFile(temp, data, { mode: 0o600 });
  await rename(temp, path);
}
