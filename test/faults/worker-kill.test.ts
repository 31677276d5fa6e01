/**
 * Fault: the worker process is SIGKILLed again and again while a burst of enrollments is being
 * delivered (activities cut off mid-flight: key generation, CA submission, PKCS#12, upload).
 * Every enrollment must still be Delivered, each (user, device, kind) credential issued exactly
 * once by the CA and held once by the gateway, none lost.
 */
import assert from 'node:assert/strict';
import { postEnrollments, sleep } from '../../bench/load';
import type { BenchStack } from '../../bench/stack';
import { checkDelivered, KEY_ALGORITHM, outcomeCounts, report, SIZES, startFaultStack } from './support';

describe('fault: worker SIGKILLed during a burst', function () {
  let stack: BenchStack;

  before(async () => {
    stack = await startFaultStack('worker-kill');
  });

  after(async () => {
    await stack?.stop();
  });

  it(`delivers all ${SIZES.burst} enrollments through ${SIZES.workerKills} SIGKILLs, each credential issued once`, async () => {
    const sending = postEnrollments({ url: stack.webhookUrl, authorization: stack.webhookAuthorization, count: SIZES.burst, concurrency: 16 });
    const client = await stack.client();
    let kills = 0;
    let openAtKills = 0;
    // Kill while work is in flight: a few seconds after each (re)start, whenever something is still open.
    for (let i = 0; i < SIZES.workerKills; i++) {
      await sleep(2000 + Math.floor(Math.random() * 3000));
      const { running } = await outcomeCounts(client);
      if (running === 0) break;
      openAtKills += running;
      await stack.killProcess('worker');
      kills += 1;
      await sleep(500);
      await stack.startWorker();
    }
    const sent = await sending;
    const acknowledged = new Set(sent.filter((s) => s.workflowId).map((s) => s.workflowId!));
    assert.equal(acknowledged.size, SIZES.burst, 'the webhook acknowledged every event (the API was not touched)');

    // Activities cut off by a kill come back after their start-to-close timeout (2 min).
    const result = await checkDelivered(stack, acknowledged, 15 * 60_000);
    report({
      test: 'worker SIGKILL',
      loadHeld: acknowledged.size,
      faultsSurvived: `${kills} × SIGKILL worker (mean ${Math.round(openAtKills / Math.max(1, kills))} open workflows at each)`,
      lost: result.lost,
      duplicates: result.duplicates,
      delivered: result.delivered,
      harmlessRepeats: result.harmlessRepeats,
      keys: KEY_ALGORITHM,
    });
    assert.equal(kills, SIZES.workerKills, 'every kill found work in flight');
  });
});
