import type { Requirement } from '../debian-packages';

/**
 * Debian packages `npm run cluster` (and so `npm run test:cluster`) needs beyond what the test
 * suite does, in the shape of the bootstrap's list (src/tools/debian-packages.ts): that list takes
 * them with one line, `...CLUSTER_DEBIAN_PACKAGES,` (and its test's complete machine gains
 * `haproxy`), when the cluster suite joins `npm test`. PostgreSQL and OpenSSL are on it already.
 */
export const CLUSTER_DEBIAN_PACKAGES: readonly Requirement[] = [
  // The TLS-terminating reverse proxy in front of the API replicas (Debian puts it in /usr/sbin).
  { need: 'haproxy', package: 'haproxy', purposes: ['test'], present: (m) => m.onPath('haproxy') || m.isFile('/usr/sbin/haproxy') },
];
