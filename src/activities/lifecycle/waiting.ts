/**
 * Waiting for the CA (AwaitingIssuance) is Temporal's: `awaitIssuance` answers `StillPending` until
 * every credential is issued, and Temporal asks again at the retry interval the workflow chose (the
 * poll interval, at least hourly after a day). A CA outage during the wait is one more "not yet",
 * not the end of the attempt: the deadline still holds. A refusal (CertificateRejected) ends it.
 */
import { ApplicationFailure, log } from '@temporalio/activity';
import type { AwaitIssuanceInput, CredentialProgress } from '../contract';
import { assertDue, isTransient } from './attempt';
import { advance, type IssuanceDeps } from './issuance';

export const STILL_PENDING = 'StillPending';

export async function awaitIssuance(deps: IssuanceDeps, input: AwaitIssuanceInput): Promise<CredentialProgress[]> {
  assertDue(input, 'ask about the pending certificates');
  const progress: CredentialProgress[] = [];
  const outages: string[] = [];
  for (const plan of input.credentials) {
    try {
      progress.push(await advance(deps, { enrollment: input.enrollment, user: input.user, plan, device: input.device, reissueSharedIssuedBefore: input.reissueSharedIssuedBefore }));
    } catch (err) {
      if (!isTransient(err)) throw err;
      outages.push(`${plan.kind}: ${(err as Error).message}`);
      log.warn('could not ask about a pending certificate; asking again later', { kind: plan.kind, error: (err as Error).message });
    }
  }
  if (outages.length === 0 && progress.every((p) => p.state === 'issued')) return progress;
  throw ApplicationFailure.create({
    type: STILL_PENDING,
    message: [...progress.filter((p) => p.state !== 'issued').map(describe), ...outages].join('; '),
    details: [progress],
  });
}

function describe(p: CredentialProgress): string {
  return p.state === 'pending' ? `${p.kind}: request ${p.requestId} is pending at the CA` : p.state === 'waiting' ? `${p.kind}: another device of the user is issuing it` : `${p.kind}: issued`;
}
