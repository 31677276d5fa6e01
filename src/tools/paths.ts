import { resolve } from 'node:path';

/** The repository root, wherever the process was started from. */
export const PROJECT_ROOT = resolve(__dirname, '..', '..');

/** The git-ignored tool cache: built CLI, Maven-resolved test server, step-ca. */
export const TOOLS_DIR = resolve(process.env.TOOLS_DIR ?? resolve(PROJECT_ROOT, '.tools'));
export const TOOLS_BIN = resolve(TOOLS_DIR, 'bin');

export function projectPath(...parts: string[]): string {
  return resolve(PROJECT_ROOT, ...parts);
}
