/**
 * The embedded CA's public repository: what the URLs in its certificates point to. The S/MIME
 * Baseline Requirements want every certificate to name an HTTP CRL (and, SHOULD, its issuer's
 * certificate), so a relying party can fetch and check them. The files live in the CA's folder;
 * a small HTTP server (src/peers/ca-repository) publishes them on loopback for the dev stack and
 * the tests, under `<base URL>/<file>`:
 *
 *   intermediate.crl   DER CRL signed by the intermediate: the leaves it revoked   (leaves' CRL DP)
 *   intermediate.cer   DER certificate of the intermediate                        (leaves' AIA caIssuers)
 *   root.crl           DER CRL signed by the root: revoked intermediates (none)    (intermediate's CRL DP)
 *   root.cer           DER certificate of the root                                (intermediate's AIA caIssuers)
 */
import type { PublicationUrls } from '../../../domain/certificate-profile';

export const REPOSITORY_FILES = {
  intermediateCrl: 'intermediate.crl',
  intermediateCertificate: 'intermediate.cer',
  rootCrl: 'root.crl',
  rootCertificate: 'root.cer',
} as const;

export type RepositoryFile = (typeof REPOSITORY_FILES)[keyof typeof REPOSITORY_FILES];

/** Where the embedded CA's certificates point: leaves at the intermediate's files, the intermediate at the root's. */
export interface RepositoryUrls {
  /** Written into every certificate the intermediate issues. */
  leaves: PublicationUrls;
  /** Written into the intermediate when the hierarchy is made (and kept for its lifetime). */
  intermediate: PublicationUrls;
}

/** The URLs of a repository published at `baseUrl` (e.g. `http://127.0.0.1:8446/embedded-ca`). */
export function repositoryUrls(baseUrl: string): RepositoryUrls {
  const base = baseUrl.replace(/\/+$/, '');
  return {
    leaves: { crl: `${base}/${REPOSITORY_FILES.intermediateCrl}`, caIssuers: `${base}/${REPOSITORY_FILES.intermediateCertificate}` },
    intermediate: { crl: `${base}/${REPOSITORY_FILES.rootCrl}`, caIssuers: `${base}/${REPOSITORY_FILES.rootCertificate}` },
  };
}

/** The loopback base URL of a CA published by the dev stack's repository server under `name`. */
export function loopbackRepositoryBase(port: number, name: string): string {
  return `http://127.0.0.1:${port}/${encodeURIComponent(name)}`;
}
