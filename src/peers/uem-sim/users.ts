/**
 * The UEM simulator's users: any user exists, as a stable synthetic user derived from its UUID
 * (REST v2) or numeric id (REST v1), unless a fixture says otherwise. A fixture user may have an
 * empty email (exercises UserHasNoEmail) or an HTTP status to answer with instead (404 exercises
 * UserNotFound, 503 an outage, optionally with Retry-After), for look-ups and uploads alike.
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

const simUserSchema = z.strictObject({
  uuid: z.string().regex(UUID_PATTERN, 'must be a UUID').transform((v) => v.toLowerCase()).optional(),
  id: z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/, 'must be a number')]).transform(String).optional(),
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

/** The synthetic user for a UUID: email `user-<first 8 hex>@uem-sim.example.com`. */
export function syntheticUserForUuid(uuid: string): SimUserRecord {
  const lower = uuid.toLowerCase();
  const short = lower.slice(0, 8);
  return {
    uuid: lower,
    id: String(parseInt(short.slice(0, 7), 16)),
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

export class SimUserDirectory {
  private readonly byUuid = new Map<string, SimUser>();
  private readonly byId = new Map<string, SimUser>();

  constructor(users: readonly SimUserInput[] = []) {
    for (const user of users) this.add(user);
  }

  /** Add or replace a fixture user (by UUID and/or id). */
  add(input: SimUserInput): void {
    const user = parseSimUser(input);
    if (user.uuid) this.byUuid.set(user.uuid, user);
    if (user.id) this.byId.set(user.id, user);
  }

  lookUpByUuid(uuid: string): LookUpResult {
    const lower = uuid.toLowerCase();
    return resolve(this.byUuid.get(lower), syntheticUserForUuid(lower));
  }

  lookUpById(id: string): LookUpResult {
    return resolve(this.byId.get(id), syntheticUserForId(id));
  }
}

function resolve(fixture: SimUser | undefined, synthetic: SimUserRecord): LookUpResult {
  if (!fixture) return { user: synthetic, synthetic: true };
  if (fixture.status) return fixture.retryAfterSeconds === undefined ? { status: fixture.status } : { status: fixture.status, retryAfterSeconds: fixture.retryAfterSeconds };
  const firstName = fixture.firstName ?? synthetic.firstName;
  const lastName = fixture.lastName ?? synthetic.lastName;
  const named = fixture.firstName !== undefined || fixture.lastName !== undefined;
  const user: SimUserRecord = {
    uuid: fixture.uuid ?? synthetic.uuid,
    id: fixture.id ?? synthetic.id,
    userName: fixture.userName ?? synthetic.userName,
    email: fixture.email ?? synthetic.email,
    firstName,
    lastName,
    displayName: fixture.displayName ?? (named ? `${firstName} ${lastName}` : synthetic.displayName),
  };
  return { user };
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
