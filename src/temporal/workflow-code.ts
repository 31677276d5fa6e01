/**
 * Where a worker gets its workflow code. `npm run build` bundles the workflows once, into
 * `dist/workflow-bundle.js`, next to the compiled `dist/worker.js`; a worker started from `dist/`
 * loads that file (no webpack at start, the bundle that was tested is the one that runs). A worker
 * started from source (tsx) finds no bundle beside it and bundles `src/workflows` as it starts.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { WorkerOptions } from '@temporalio/worker';

export const WORKFLOW_BUNDLE_FILE = 'workflow-bundle.js';

/** The root of the running code: the repository (source run) or `dist/` (compiled run). */
const CODE_ROOT = resolve(__dirname, '..', '..');

export type WorkflowCode = Required<Pick<WorkerOptions, 'workflowBundle'>> | Required<Pick<WorkerOptions, 'workflowsPath'>>;

/** The prebuilt bundle when this code was built with it, else the workflows to bundle now. */
export function workflowCode(root: string = CODE_ROOT): WorkflowCode & { source: string } {
  const codePath = resolve(root, WORKFLOW_BUNDLE_FILE);
  if (existsSync(codePath)) return { workflowBundle: { codePath }, source: codePath };
  const workflowsPath = require.resolve('../workflows');
  return { workflowsPath, source: workflowsPath };
}
