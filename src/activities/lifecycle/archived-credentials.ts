/**
 * The history that goes with an encryption upload: the user's earlier escrowed encryption
 * credentials, so a device renewed onto a new key still opens mail encrypted to the old ones.
 *
 * Only for a shared (escrowed) encryption credential and a gateway that carries archived
 * credentials; newest first, at most `limit` (ARCHIVED_ENCRYPTION_KEYS). Expired ones count like
 * any other: an expired key no longer receives mail, but it still opens what was sent to it. Each
 * becomes a PKCS#12 with the upload's password and profile, here inside the delivery step, so
 * neither the files nor the keys ever reach the workflow.
 */
import type { Pkcs12Profile } from '../../domain/credentials';
import { nonRetryable } from '../../domain/errors';
import type { ArchivedCredential, CredentialGateway } from '../ceg/credential-gateway';
import { buildPkcs12 } from '../crypto/pkcs12';
import type { EscrowedCredential, EscrowStore } from '../escrow/escrow-store';
import type { RegisteredCredential } from '../register/credential-register';

export interface ArchivedCredentialsDeps {
  gateway: Pick<CredentialGateway, 'carriesArchived'>;
  escrow: Pick<EscrowStore, 'history'>;
  /** At most this many (0: none). */
  limit: number;
}

/**
 * The credentials escrowed for the same user, kind and scope before `currentId`, newest first, at
 * most `limit`. `history` is the escrow's, newest first; what was escrowed after the current one
 * (a renewal that already moved on) is not history of it and is left out.
 */
export function earlierCredentials(history: readonly EscrowedCredential[], currentId: string, limit: number): EscrowedCredential[] {
  if (limit <= 0) return [];
  const at = history.findIndex((c) => c.id === currentId);
  if (at < 0) return [];
  const current = history[at]!;
  return history
    .slice(at + 1)
    .filter((c) => c.kind === current.kind && c.scope === current.scope && c.certificate.thumbprint !== current.certificate.thumbprint)
    .slice(0, limit);
}

/** Whether this delivery carries history at all: escrowed encryption, a gateway that takes it, a limit above 0. */
export function carriesHistory(deps: ArchivedCredentialsDeps, row: Pick<RegisteredCredential, 'kind' | 'escrowId'>): boolean {
  return row.kind === 'encryption' && row.escrowId !== undefined && deps.gateway.carriesArchived && deps.limit > 0;
}

/**
 * The archived PKCS#12 files for an upload of `row`, or undefined when it carries none (see
 * `carriesHistory`; also when the user has no earlier credential).
 */
export async function archivedCredentialsFor(
  deps: ArchivedCredentialsDeps,
  row: Pick<RegisteredCredential, 'kind' | 'escrowId' | 'enrollmentUserUuid'>,
  pack: { password: string; profile: Pkcs12Profile; friendlyName: string },
): Promise<ArchivedCredential[] | undefined> {
  if (!carriesHistory(deps, row)) return undefined;
  const history = await deps.escrow.history(row.enrollmentUserUuid, row.kind);
  if (!history.some((c) => c.id === row.escrowId)) throw nonRetryable('SealingError', `escrowed credential ${row.escrowId} is not in the user's escrow history`);
  const earlier = earlierCredentials(history, row.escrowId!, deps.limit);
  if (earlier.length === 0) return undefined;
  return Promise.all(
    earlier.map(async (credential) => ({
      pkcs12: await buildPkcs12({
        privateKeyPkcs8: credential.privateKeyPkcs8,
        certificatePem: credential.certificate.certificatePem,
        chainPem: credential.certificate.chainPem,
        password: pack.password,
        profile: pack.profile,
        friendlyName: `${pack.friendlyName} (until ${credential.certificate.notAfter.slice(0, 10)})`,
      }),
      thumbprint: credential.certificate.thumbprint,
      notAfter: credential.certificate.notAfter,
    })),
  );
}
