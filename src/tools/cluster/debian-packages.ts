/**
 * Debian packages `npm run cluster` (and so `npm run test:cluster`) needs beyond what the test suite
 * does, in the shape of the bootstrap's list of machine packages: one entry each, so it can join
 * that list as one line. PostgreSQL and OpenSSL are already on it for the tests.
 */
export interface ClusterPackage {
  need: string;
  package: string;
}

export const CLUSTER_DEBIAN_PACKAGES: readonly ClusterPackage[] = [{ need: 'haproxy', package: 'haproxy' }];
