/**
 * The UEM simulator's users. Any user exists: a UUID (REST v2) or numeric id (REST v1) nobody
 * described is a stable synthetic user derived from it, and is remembered from then on, so the
 * v1 read by its id and the user search by its user name find the same user the v2 read answered
 * (the provider learns a user's numeric id that way). A fixture user (a file, `users`, or
 * `POST /sim/users`) sets a user's record: id, email (empty exercises UserHasNoEmail), user name,
 * names; or an HTTP status to answer with instead (404 exercises UserNotFound, 503 an outage,
 * optionally with Retry-After), for look-ups and uploads alike.
 *
 * Ids are unique: a synthetic id that is taken goes to the next free one; a fixture id that is
 * another UUID's is refused.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { UUID_PATTERN } from '../../domain/enrollment';

/**
 * Under example.com (RFC 2606), not .test: .test is not a public suffix, and the S/MIME linters
 * report an address there as an internal name — the dev stack's certificates should lint clean.
 */
export const SIM_EMAIL_DOMAIN = 'uem-sim.example.com';
/** UEM's ids are 32-bit signed integers. */
export const MAX_UEM_ID = 2_147_483_647;

const simUserSchema = z.strictObject({
  uuid: z.string().regex(UUID_PATTERN, 'must be a UUID').transform((v) => v.toLowerCase()).optional(),
  id: z.union([z.number().int().positive().max(MAX_UEM_ID), z.string().regex(/^\d{1,10}$/, 'must be a number')]).transform((v) => String(Number(v))).optional(),
  userName: z.string().optional(),
  email: z.string().optional(),
  firstName: z.string().optional(),
  lastName: z.string().optional(),
  displayName: z.string().optional(),
  /** Answer with this HTTP status instead of the user (404, 429, 500, 503...). */
  status: z.number().int().min(400).max(599).optional(),
  /** With `status`: send Retry-After with this many seconds. */
  retryAfterSeconds: z.number().int().nonnegative().optional(),
});

export type SimUserInput = z.input<typeof simUserSchema>;
export type SimUser = z.output<typeof simUserSchema>;

/** A user as the simulator answers it: every field filled (email may be ''). */
export interface SimUserRecord {
  uuid: string;
  id: string;
  userName: string;
  email: string;
  firstName: string;
  lastName: string;
  displayName: string;
}

/** `synthetic`: no fixture describes this user; the record is derived from the UUID or id asked for. */
export type LookUpResult = { user: SimUserRecord; synthetic?: true } | { status: number; retryAfterSeconds?: number };

interface Entry {
  user: SimUserRecord;
  synthetic: boolean;
}

interface Fault {
  status: number;
  retryAfterSeconds?: number;
}

/** The synthetic user for a UUID: email `user-<first 8 hex>@uem-sim.example.com`. */
export function syntheticUserForUuid(uuid: string): SimUserRecord {
  const lower = uuid.toLowerCase();
  const short = lower.slice(0, 8);
  return {
    uuid: lower,
    id: String(parseInt(short.slice(0, 7), 16) || 1),
    userName: `user-${short}`,
    email: `user-${short}@${SIM_EMAIL_DOMAIN}`,
    firstName: 'Sim',
    lastName: `User ${short}`,
    displayName: `Sim User ${short}`,
  };
}

/** The synthetic user for a numeric id (v1): email `user-<id>@uem-sim.example.com`, UUID derived from the id. */
export function syntheticUserForId(id: string): SimUserRecord {
  const hex = createHash('sha256').update(`uem-sim-user:${id}`).digest('hex');
  const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  return {
    uuid,
    id,
    userName: `user-${id}`,
    email: `user-${id}@${SIM_EMAIL_DOMAIN}`,
    firstName: 'Sim',
    lastName: `User ${id}`,
    displayName: `Sim User ${id}`,
  };
}

/** A fixture user whose id another described user holds. */
export class SimUserConflict extends Error {}

export class SimUserDirectory {
  private readonly byUuid = new Map<string, Entry>();
  private readonly byId = new Map<string, Entry>();
  private readonly faultsByUuid = new Map<string, Fault>();
  private readonly faultsById = new Map<string, Fault>();

  constructor(users: readonly SimUserInput[] = []) {
    for (const user of users) this.add(user);
  }

  /**
   * Add or replace a fixture user (by UUID and/or id). Throws SimUserConflict when its id belongs
   * to another described user.
   * Returns the record look-ups now answer (none for a user that answers with a status).
   */
  add(input: SimUserInput): SimUserRecord | undefined {
    const fixture = parseSimUser(input);
    if (fixture.status !== undefined) {
      const fault = fixture.retryAfterSeconds === undefined ? { status: fixture.status } : { status: fixture.status, retryAfterSeconds: fixture.retryAfterSeconds };
      if (fixture.uuid) this.faultsByUuid.set(fixture.uuid, fault);
      if (fixture.id) this.faultsById.set(fixture.id, fault);
      return undefined;
    }
    const uuid = fixture.uuid ?? this.byId.get(fixture.id!)?.user.uuid ?? syntheticUserForId(fixture.id!).uuid;
    const synthetic = fixture.uuid ? syntheticUserForUuid(uuid) : syntheticUserForId(fixture.id!);
    const base = this.byUuid.get(uuid)?.user ?? synthetic;
    let id = base === synthetic ? this.freeId(synthetic.id) : base.id;
    if (fixture.id) {
      const holder = this.byId.get(fixture.id);
      if (holder && holder.user.uuid !== uuid) {
        // A synthetic user only borrowed the id: it moves to a free one. A described user keeps it.
        if (!holder.synthetic) throw new SimUserConflict(`id ${fixture.id} already belongs to user ${holder.user.uuid}`);
        this.store({ user: { ...holder.user, id: this.freeId(fixture.id) }, synthetic: true });
      }
      id = fixture.id;
    }
    const named = fixture.firstName !== undefined || fixture.lastName !== undefined;
    const firstName = fixture.firstName ?? base.firstName;
    const lastName = fixture.lastName ?? base.lastName;
    const user: SimUserRecord = {
      uuid,
      id,
      userName: fixture.userName ?? base.userName,
      email: fixture.email ?? base.email,
      firstName,
      lastName,
      displayName: fixture.displayName ?? (named ? `${firstName} ${lastName}` : base.displayName),
    };
    if (fixture.uuid) this.faultsByUuid.delete(fixture.uuid);
    if (fixture.id) this.faultsById.delete(fixture.id);
    this.store({ user, synthetic: false });
    return { ...user };
  }

  /** Set a user's address (a device registered with an email): the user is materialised if new. */
  setEmail(uuid: string, email: string): SimUserRecord {
    const entry = this.entryForUuid(uuid);
    entry.user = { ...entry.user, email };
    entry.synthetic = false;
    return { ...entry.user };
  }

  lookUpByUuid(uuid: string): LookUpResult {
    const lower = uuid.toLowerCase();
    const fault = this.faultsByUuid.get(lower);
    if (fault) return { ...fault };
    const entry = this.entryForUuid(lower);
    return entry.synthetic ? { user: { ...entry.user }, synthetic: true } : { user: { ...entry.user } };
  }

  lookUpById(id: string): LookUpResult {
    const fault = this.faultsById.get(id);
    if (fault) return { ...fault };
    let entry = this.byId.get(id);
    if (!entry) {
      entry = { user: syntheticUserForId(id), synthetic: true };
      if (this.byUuid.has(entry.user.uuid)) return { status: 404 };
      this.store(entry);
    }
    return entry.synthetic ? { user: { ...entry.user }, synthetic: true } : { user: { ...entry.user } };
  }

  /** Who holds a numeric id, and whether only as a synthetic user. */
  idHolder(id: string): { uuid: string; synthetic: boolean } | undefined {
    const entry = this.byId.get(id);
    return entry && { uuid: entry.user.uuid, synthetic: entry.synthetic };
  }

  /** The user's record whatever faults say (device records carry their user). */
  record(uuid: string): SimUserRecord {
    return { ...this.entryForUuid(uuid.toLowerCase()).user };
  }

  /** v1 user search by user name: every known user whose user name contains it (case ignored), by id. */
  searchByUserName(userName: string): SimUserRecord[] {
    const wanted = userName.toLowerCase();
    return [...this.byUuid.values()]
      .filter((entry) => entry.user.userName.toLowerCase().includes(wanted) && !this.faultsByUuid.has(entry.user.uuid))
      .map((entry) => ({ ...entry.user }))
      .sort((a, b) => Number(a.id) - Number(b.id));
  }

  private entryForUuid(lower: string): Entry {
    let entry = this.byUuid.get(lower);
    if (!entry) {
      const user = syntheticUserForUuid(lower);
      user.id = this.freeId(user.id);
      entry = { user, synthetic: true };
      this.store(entry);
    }
    return entry;
  }

  private store(entry: Entry): void {
    const previous = this.byUuid.get(entry.user.uuid);
    if (previous && previous.user.id !== entry.user.id && this.byId.get(previous.user.id) === previous) this.byId.delete(previous.user.id);
    this.byUuid.set(entry.user.uuid, entry);
    this.byId.set(entry.user.id, entry);
  }

  /** This id, or the next one nobody holds. */
  private freeId(id: string): string {
    let n = Number(id);
    while (this.byId.has(String(n))) n = n >= MAX_UEM_ID ? 1 : n + 1;
    return String(n);
  }
}

function parseSimUser(input: SimUserInput): SimUser {
  const result = simUserSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`UEM simulator user ${JSON.stringify(input)}: ${issue.path.join('.') || 'entry'}: ${issue.message}`);
  }
  if (!result.data.uuid && !result.data.id) throw new Error(`UEM simulator user ${JSON.stringify(input)}: needs a uuid or an id`);
  return result.data;
}

/** A fixture file: a JSON list of users (uuid and/or id, optional userName, email, names, status). */
export function loadSimUsers(file: string): SimUserInput[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`UEM simulator fixture ${file}: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new Error(`UEM simulator fixture ${file}: must be a JSON list of users`);
  return parsed as SimUserInput[];
}
