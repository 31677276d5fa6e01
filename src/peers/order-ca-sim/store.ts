import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { CertificateProfileName } from '../../domain/certificate-profile';
import type { CredentialKind } from '../../domain/enrollment';
import type { OrderStatus } from '../../activities/ca/order-poll/contract';

/** Everything the simulator knows about one order. */
export interface OrderRecord {
  orderId: string;
  externalId: string;
  csrSha256: string;
  csrPem: string;
  email: string;
  displayName?: string;
  usage: CredentialKind;
  /** Absent in orders stored before profiles existed: mailbox-strict. */
  profile?: CertificateProfileName;
  validityDays: number;
  product: string;
  createdAtMs: number;
  /** The simulator's clock time from which the order may be issued. */
  issueAtMs: number;
  status: OrderStatus;
  rejectionReason?: string;
  certificatePem?: string;
  chainPem?: string[];
  serial?: string;
  issuedAtMs?: number;
  revokedAtMs?: number;
}

/**
 * Orders in memory, mirrored to `<dir>/<orderId>.json` when a folder is given (so a restarted
 * simulator still knows its orders, as a real CA would). Writes are atomic (temp file + rename).
 */
export class OrderStore {
  private readonly orders = new Map<string, OrderRecord>();
  private readonly byExternalId = new Map<string, string>();

  constructor(private readonly dir?: string) {
    if (!dir) return;
    mkdirSync(dir, { recursive: true });
    for (const name of readdirSync(dir)) {
      if (!name.endsWith('.json')) continue;
      const record = JSON.parse(readFileSync(join(dir, name), 'utf8')) as OrderRecord;
      this.remember(record);
    }
  }

  get(orderId: string): OrderRecord | undefined {
    return this.orders.get(orderId);
  }

  findByExternalId(externalId: string): OrderRecord | undefined {
    const orderId = this.byExternalId.get(externalId);
    return orderId ? this.orders.get(orderId) : undefined;
  }

  findBySerial(serial: string): OrderRecord | undefined {
    for (const record of this.orders.values()) if (record.serial === serial) return record;
    return undefined;
  }

  all(): OrderRecord[] {
    return [...this.orders.values()].sort((a, b) => a.createdAtMs - b.createdAtMs);
  }

  async save(record: OrderRecord): Promise<void> {
    this.remember(record);
    if (!this.dir) return;
    const target = join(this.dir, `${record.orderId}.json`);
    const temporary = `${target}.tmp`;
    const handle = await open(temporary, 'w', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(record, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, target);
  }

  private remember(record: OrderRecord): void {
    this.orders.set(record.orderId, record);
    this.byExternalId.set(record.externalId, record.orderId);
  }
}
