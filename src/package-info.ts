import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const PACKAGE_NAME = 'smime-escrow-provider';

let cached: string | undefined;

/**
 * The provider's version from its package.json, found by walking up from this module: the
 * repository root when run from source, the same root from `dist/` (which holds no package.json)
 * and the image's /app from a container.
 */
export function packageVersion(): string {
  if (cached) return cached;
  for (let dir = __dirname; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === PACKAGE_NAME && pkg.version) return (cached = pkg.version);
    } catch {
      // no package.json here: keep walking
    }
    if (dir === dirname(dir)) throw new Error(`package.json of ${PACKAGE_NAME} not found above ${__dirname}`);
  }
}
