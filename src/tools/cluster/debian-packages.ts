import type { Requirement } from '../debian-packages';

/**
 * Debian packages `npm run cluster` (and so `npm run test:cluster`, part of `npm test`) needs
 * beyond what the rest of the suite does; the bootstrap's list (src/tools/debian-packages.ts)
 * includes them. PostgreSQL and OpenSSL are on it already.
 */
export const CLUSTER_DEBIAN_PACKAGES: readonly Requirement[] = [
  // The TLS-terminating reverse proxy in front of the API replicas (Debian puts it in /usr/sbin).
  { need: 'haproxy', package: 'haproxy', purposes: ['test'], present: (m) => m.onPath('haproxy') || m.isFile('/usr/sbin/haproxy') },
];
