/**
 * A misconfigured CA must not reach the phones: the provider checks every certificate before it
 * packs and uploads it. Against a CA that answers with a certificate for another address, without
 * emailProtection, or for another key (each otherwise perfect, signed by the right intermediate),
 * the run ends Failed as CertificateRejected — non-retryable, so no second attempt — the failure
 * notification names the check, and the gateway received nothing.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { statusQuery } from '../../src/workflows/definitions';
import { enrollmentEvent } from '../helpers/events';
import { misissuingCa, type Flaw } from '../helpers/misissuing-ca';
import { startProviderStack, type ProviderStack } from '../helpers/provider-stack';

async function simUploads(stack: ProviderStack): Promise<{ deviceUuid: string }[]> {
  const response = await fetch(`${stack.sim.adminUrl}/sim/uploads`);
  assert.equal(response.status, 200);
  return (await response.json()) as { deviceUuid: string }[];
}

const CASES: [Flaw, string, RegExp][] = [
  ['another address', 'san-email', /certificate check "san-email" failed: the certificate is for mallory@example\.com, not user-/],
  ['no emailProtection', 'extended-key-usage', /certificate check "extended-key-usage" failed: the certificate does not allow emailProtection/],
  ['another key', 'public-key', /certificate check "public-key" failed: the CA returned a \w+ certificate for a different public key/],
];

describe('a CA that answers with the wrong certificate ends the run as CertificateRejected, nothing uploaded (dev server)', function () {
  this.timeout(120_000);

  for (const [flaw, check, message] of CASES) {
    describe(`a certificate with ${flaw}`, () => {
      let stack: ProviderStack;
      let spoiled: string[] = [];
      before(async () => {
        stack = await startProviderStack({
          codec: false,
          wrapCa: (ca, dataDir) => {
            const wrapped = misissuingCa(ca, join(dataDir, 'embedded-ca'), flaw);
            spoiled = wrapped.misissued;
            return wrapped;
          },
        });
      });
      after(async () => {
        await stack?.stop();
      });

      it(`is refused by the "${check}" check: run Failed, notification names it, no upload`, async () => {
        const event = enrollmentEvent();
        const handle = await stack.start(event);
        const error = await handle.result().then(
          () => assert.fail('the run must not deliver'),
          (e: unknown) => e,
        );
        assert.ok(error instanceof WorkflowFailedError, String(error));
        assert.ok(spoiled.length >= 1, 'the CA did answer with a flawed certificate');

        const status = await handle.query(statusQuery);
        assert.equal(status.stage, 'Failed');
        assert.equal(status.attempt, 1, 'non-retryable: no second attempt');
        assert.equal(status.lastError?.type, 'CertificateRejected');
        assert.match(status.lastError?.message ?? '', message);

        const notice = stack.notices.find((n) => n.workflowId === handle.workflowId);
        assert.ok(notice, 'a failure notification was sent');
        assert.equal(notice.reason, 'NonRetryableError');
        assert.equal(notice.lastError?.type, 'CertificateRejected');
        assert.match(notice.lastError?.message ?? '', message);

        assert.deepEqual((await simUploads(stack)).filter((u) => u.deviceUuid === event.deviceUuid), [], 'nothing reached the gateway');
      });
    });
  }
});
