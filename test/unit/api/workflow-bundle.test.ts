/**
 * The API's schemas are zod; the workflow bundle must not be. Workflow code runs in a sandbox on
 * every replay, so whatever it imports is loaded into each workflow context: zod (and the API
 * modules that use it) would weigh down every one of them, and nothing in a workflow needs it.
 * Bundles the workflows as the worker does and looks at what went in.
 */
import assert from 'node:assert/strict';
import { workflowBundle } from '../../helpers/temporal';

describe('workflow bundle', function () {
  this.timeout(120_000);

  it('contains no zod and no API module', async () => {
    const { code } = await workflowBundle();
    // webpack names every module it bundles by its path: ./node_modules/... and ./src/...
    const modules = new Set(code.match(/\.\/(?:node_modules|src)\/[\w@./-]+/g) ?? []);
    assert.ok([...modules].some((m) => m.startsWith('./src/workflows/')), 'the module list was not found: has the bundle format changed?');
    assert.deepEqual([...modules].filter((m) => m.startsWith('./node_modules/zod/')), []);
    assert.deepEqual([...modules].filter((m) => m.startsWith('./src/api/') || m.startsWith('./src/config/')), []);
    assert.doesNotMatch(code, /\bzod\b|ZodError|\$ZodType/);
  });
});
