/**
 * Fault: the Temporal dev server is killed (SIGKILL) in the middle of a burst and started again
 * on the same SQLite file. Worker and API are left alone: they must reconnect by themselves.
 * Events that arrive while Temporal is down are refused (503, or no answer), which is UEM's cue to
 * send them again; the test re-sends them as UEM would. Every acknowledged enrollment is delivered.
 */
import assert from 'node:assert/strict';
import { postEnrollments, sleep } from '../../bench/load';
import type { BenchStack } from '../../bench/stack';
import { checkDelivered, KEY_ALGORITHM, report, resendUntilAcknowledged, SIZES, startFaultStack } from './support';

const DOWN_MS = 8000;

describe('fault: Temporal dev server restarted mid-burst', function () {
  let stack: BenchStack;

  before(async () => {
    stack = await startFaultStack('temporal-restart');
  });

  after(async () => {
    await stack?.stop();
  });

  it(`delivers every acknowledged enrollment of ${SIZES.burst} after a SIGKILL and restart of the server on the same database`, async () => {
    // Spread the burst over ~15 s so events arrive before, during and after the outage.
    const rate = Math.max(4, Math.round(SIZES.burst / 15));
    const sending = postEnrollments({ url: stack.webhookUrl, authorization: stack.webhookAuthorization, count: SIZES.burst, concurrency: SIZES.burst, rate, requestTimeoutMs: 30_000 });
    await sleep(4000);
    const worker = stack.process('worker')!;
    const api = stack.process('api')!;
    await stack.stopTemporal({ kill: true });
    await sleep(DOWN_MS);
    await stack.startTemporal();
    const sent = await sending;

    const refused = sent.filter((s) => !s.workflowId);
    const statuses = refused.reduce<Record<string, number>>((acc, s) => ({ ...acc, [String(s.status)]: (acc[String(s.status)] ?? 0) + 1 }), {});
    for (const status of Object.keys(statuses)) assert.ok(status === '503' || status === 'network', `refusals are 503 or no answer, got ${status}`);
    const resent = await resendUntilAcknowledged(stack, refused);
    const acknowledged = new Set([...sent, ...resent.acknowledged].filter((s) => s.workflowId).map((s) => s.workflowId!));
    assert.equal(acknowledged.size, SIZES.burst, 'after re-sending, every event is acknowledged');

    const result = await checkDelivered(stack, acknowledged, 15 * 60_000);
    report({
      test: 'Temporal restart',
      loadHeld: acknowledged.size,
      faultsSurvived: `SIGKILL of the dev server, ${DOWN_MS / 1000} s down, restart on the same SQLite file`,
      lost: result.lost,
      duplicates: result.duplicates,
      refusedDuringOutage: refused.length,
      refusals: JSON.stringify(statuses),
      resent: resent.resent,
      delivered: result.delivered,
      harmlessRepeats: result.harmlessRepeats,
      workerRestarts: worker === stack.process('worker') && worker.running ? 0 : 1,
      apiRestarts: api === stack.process('api') && api.running ? 0 : 1,
      keys: KEY_ALGORITHM,
    });
    assert.ok(worker.running && stack.process('worker') === worker, 'the worker rode the outage out without a restart');
    assert.ok(api.running && stack.process('api') === api, 'the API rode the outage out without a restart');
  });
});
