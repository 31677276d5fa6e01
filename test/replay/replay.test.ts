import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { readHistoryFile, replayAll, type ReplayOutcome } from '../../src/cli/replay';
import { installTestRuntime, workflowBundle } from '../helpers/temporal';

const DIR = join(__dirname, 'histories');
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

async function replayCorpus(bundle: WorkflowBundleWithSourceMap): Promise<ReplayOutcome[]> {
  const histories = (async function* () {
    for (const file of FILES) yield { workflowId: file, history: readHistoryFile(join(DIR, file)) };
  })();
  const outcomes: ReplayOutcome[] = [];
  for await (const outcome of replayAll({ workflowBundle: bundle, replayName: 'corpus' }, histories)) outcomes.push(outcome);
  return outcomes;
}

describe('replay corpus (test/replay/histories)', function () {
  this.timeout(120_000);
  before(() => installTestRuntime());

  it('holds the delivered, 75-attempt failure, pending-then-issued and cancelled paths, of both lifecycle shapes, and a renewal', () => {
    const paths = ['ca-pending-then-issued.json', 'cancelled-while-waiting.json', 'delivered.json', 'failed-after-75-attempts.json'];
    assert.deepEqual(FILES, [...paths, ...paths.map((p) => `legacy-${p}`), 'renewal-delivered.json'].sort());
  });

  it('replays every recorded history with the current workflow code', async () => {
    const outcomes = await replayCorpus(await workflowBundle());
    assert.equal(outcomes.length, FILES.length);
    for (const outcome of outcomes) assert.ok(outcome.ok, `${outcome.workflowId}: ${outcome.error}`);
  });

  it('fails the corpus for a change that is not replay-safe', async () => {
    const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./variants/unsafe'), logger: new DefaultLogger('ERROR') });
    const outcomes = await replayCorpus(bundle);
    assert.ok(outcomes.length === FILES.length && outcomes.every((o) => !o.ok), 'every history must fail');
    assert.match(outcomes[0]!.error!, /DeterminismViolationError|Nondeterminism/i);
  });

  it('passes the corpus with the same change behind patched()', async () => {
    const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./variants/patched'), logger: new DefaultLogger('ERROR') });
    const outcomes = await replayCorpus(bundle);
    for (const outcome of outcomes) assert.ok(outcome.ok, `${outcome.workflowId}: ${outcome.error}`);
  });
});
