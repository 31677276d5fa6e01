/**
 * Fault: the API process is SIGKILLed (and started again) while events keep arriving. A request
 * cut off by the kill, or sent while the API is down, gets no answer — UEM's to send again. Every
 * event the API did acknowledge must be delivered; re-sending the rest must neither lose nor
 * duplicate anything (an event whose start reached Temporal before the kill joins that run).
 */
import assert from 'node:assert/strict';
import { postEnrollments, sleep } from '../../bench/load';
import type { BenchStack } from '../../bench/stack';
import { checkDelivered, KEY_ALGORITHM, report, resendUntilAcknowledged, SIZES, startFaultStack, waitUntilClosed } from './support';

describe('fault: API SIGKILLed while events arrive', function () {
  let stack: BenchStack;

  before(async () => {
    stack = await startFaultStack('api-kill');
  });

  after(async () => {
    await stack?.stop();
  });

  it(`delivers every acknowledged event of ${SIZES.burst} through ${SIZES.apiKills} API kills, then every re-sent one`, async () => {
    const rate = Math.max(4, Math.round(SIZES.burst / 20));
    const sending = postEnrollments({ url: stack.webhookUrl, authorization: stack.webhookAuthorization, count: SIZES.burst, concurrency: SIZES.burst, rate, requestTimeoutMs: 30_000 });
    let kills = 0;
    for (let i = 0; i < SIZES.apiKills; i++) {
      await sleep(3000 + Math.floor(Math.random() * 2000));
      await stack.killProcess('api');
      kills += 1;
      await sleep(1000);
      await stack.startApi();
    }
    const sent = await sending;
    const acknowledgedFirst = new Set(sent.filter((s) => s.workflowId).map((s) => s.workflowId!));
    const unacknowledged = sent.filter((s) => !s.workflowId);
    for (const s of unacknowledged) assert.ok(s.status === 'network' || s.status === 503, `an unacknowledged event got ${s.status}`);

    // First: what was acknowledged is delivered, without any help.
    const firstRound = await waitUntilClosed(stack, acknowledgedFirst, 15 * 60_000, 'acknowledged');
    const deliveredFirst = [...acknowledgedFirst].filter((id) => firstRound.get(id)?.stage === 'Delivered').length;
    assert.equal(deliveredFirst, acknowledgedFirst.size, 'every acknowledged event was delivered');

    // Then UEM re-sends the rest: those that reached Temporal before the kill join their run.
    const resent = await resendUntilAcknowledged(stack, unacknowledged);
    const joined = resent.acknowledged.filter((s) => s.status === 200).length;
    const acknowledged = new Set([...acknowledgedFirst, ...resent.acknowledged.map((s) => s.workflowId!)]);
    assert.equal(acknowledged.size, SIZES.burst, 'after re-sending, every event is acknowledged');
    const result = await checkDelivered(stack, acknowledged, 15 * 60_000);
    report({
      test: 'API SIGKILL',
      loadHeld: SIZES.burst,
      faultsSurvived: `${kills} × SIGKILL API while events arrived at ${rate}/s`,
      lost: acknowledgedFirst.size - deliveredFirst,
      duplicates: result.duplicates,
      acknowledged: acknowledgedFirst.size,
      unacknowledged: unacknowledged.length,
      resentThatHadStarted: joined,
      delivered: result.delivered,
      keys: KEY_ALGORITHM,
    });
  });
});
