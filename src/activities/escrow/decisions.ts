/**
 * What `claim` and `store` decide, given what the database holds for one escrow key. Pure
 * functions: each backend reads the state inside its exclusive transaction (SQLite `BEGIN
 * IMMEDIATE`, a PostgreSQL advisory lock per key), asks here, and writes what the decision says,
 * so both backends follow exactly the same rules.
 *
 * Invariants the backends also enforce with partial unique indexes:
 *   - at most one active credential per key;
 *   - at most one open (not ended) claim per key. An open claim may have expired: it stays open
 *     until its owner stores or releases, or another owner takes it over (which ends it).
 */
import { DEFAULT_WAIT_POLL_MS, MIN_RETRY_AFTER_MS, type EscrowKey } from './escrow-store';

/** The active credential, as far as the decisions need it. */
export interface ActiveFacts {
  id: string;
  thumbprint: string;
  notAfterMs: number;
  /** When it was escrowed (absent where a caller does not know: never renewed for its age). */
  createdAtMs?: number;
}

export interface ClaimFacts {
  claimId: string;
  key: EscrowKey;
  owner: string;
  expiresAtMs: number;
  /** The credential this claim renews, if it was granted for a renewal. */
  replacingId?: string;
  ended: boolean;
  outcome?: 'stored' | 'released' | 'expired';
  /** For a claim that ended by storing: the credential it stored, and that certificate's thumbprint. */
  storedCredentialId?: string;
  storedThumbprint?: string;
}

export type ClaimDecision =
  | { action: 'exists'; credentialId: string }
  | { action: 'renew'; claimId: string; expiresAtMs: number; replacingId?: string }
  | { action: 'grant'; expiresAtMs: number; replacingId?: string; takeOverClaimId?: string }
  | { action: 'wait'; heldBy: string; expiresAtMs: number; retryAfterMs: number };

export function decideClaim(
  state: { active?: ActiveFacts; openClaim?: ClaimFacts },
  request: { owner: string; nowMs: number; leaseMs: number; renewBeforeMs?: number; renewIssuedBeforeMs?: number; waitPollMs?: number },
): ClaimDecision {
  const { active, openClaim } = state;
  const expiring = active !== undefined && request.renewBeforeMs !== undefined && active.notAfterMs < request.renewBeforeMs;
  // A forced renewal (an operator's re-issue) replaces what was escrowed before it was asked for; a
  // credential escrowed since (by another device of the user, renewing at the same time) is the new one.
  const stale = active?.createdAtMs !== undefined && request.renewIssuedBeforeMs !== undefined && active.createdAtMs < request.renewIssuedBeforeMs;
  const needsRenewal = expiring || stale;
  if (active && !needsRenewal) return { action: 'exists', credentialId: active.id };
  const expiresAtMs = request.nowMs + request.leaseMs;
  if (openClaim?.owner === request.owner) {
    // A retry or a renewal by the holder; an expired lease nobody took over is still its own.
    return { action: 'renew', claimId: openClaim.claimId, expiresAtMs, replacingId: openClaim.replacingId };
  }
  if (openClaim && openClaim.expiresAtMs > request.nowMs) {
    const remaining = openClaim.expiresAtMs - request.nowMs;
    const retryAfterMs = Math.max(MIN_RETRY_AFTER_MS, Math.min(remaining, request.waitPollMs ?? DEFAULT_WAIT_POLL_MS));
    return { action: 'wait', heldBy: openClaim.owner, expiresAtMs: openClaim.expiresAtMs, retryAfterMs };
  }
  return { action: 'grant', expiresAtMs, replacingId: active?.id, takeOverClaimId: openClaim?.claimId };
}

export type StoreDecision =
  | { action: 'store'; supersedeId?: string }
  | { action: 'already-stored'; credentialId: string }
  | { action: 'theirs'; credentialId: string }
  | { action: 'lost'; reason: string };

export function decideStore(
  state: { claim?: ClaimFacts; active?: ActiveFacts },
  request: { claimId: string; owner: string; key: EscrowKey; thumbprint: string },
): StoreDecision {
  const { claim, active } = state;
  if (claim && !sameKey(claim.key, request.key)) {
    return { action: 'lost', reason: `claim ${request.claimId} is for another user, kind or scope` };
  }
  const mine = claim !== undefined && claim.owner === request.owner;
  if (mine && !claim.ended) return { action: 'store', supersedeId: active?.id };
  if (mine && claim.outcome === 'stored' && claim.storedCredentialId && claim.storedThumbprint === request.thumbprint) {
    // A retry of a store whose answer was lost: the same certificate went in already.
    return { action: 'already-stored', credentialId: claim.storedCredentialId };
  }
  // Not (or no longer) held. A credential stored by someone else meanwhile is the one to use;
  // the one this claim was renewing is not (it is what the caller wanted replaced).
  if (active && active.id !== claim?.replacingId) return { action: 'theirs', credentialId: active.id };
  const why = !claim
    ? `claim ${request.claimId} is unknown`
    : claim.owner !== request.owner
      ? `claim ${request.claimId} belongs to another owner`
      : `claim ${request.claimId} has ended (${claim.outcome ?? 'ended'})`;
  return { action: 'lost', reason: why };
}

function sameKey(a: EscrowKey, b: EscrowKey): boolean {
  return a.enrollmentUserUuid === b.enrollmentUserUuid && a.kind === b.kind && a.scope === b.scope;
}
