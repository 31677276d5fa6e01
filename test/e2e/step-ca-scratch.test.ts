import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStepCa, opensslSmimeCsr } from '../helpers/step-ca';
import { StepCa } from '../../src/activities/ca/step-ca';
import { createLogger } from '../../src/logging';

describe('scratch', function () {
  this.timeout(600_000);
  it('signs', async () => {
    const ca = await startStepCa({ allowedEmails: ['@example.com'] });
    const dir = mkdtempSync(join(tmpdir(), 'scratch-'));
    try {
      const adapter = await StepCa.create({ url: ca.url, rootPem: ca.rootPem, provisionerName: ca.provisionerName, provisionerJwk: StepCa.readProvisionerKey(ca.provisionerKeyFile), ledgerDir: join(dir, 'ledger'), requestTimeoutMs: 10_000, logger: createLogger({ level: 'debug' }) });
      for (const [kind, keyType, cn] of [['signing', 'ec', 'Alice Example'], ['encryption', 'rsa', undefined]] as const) {
        const csrPem = await opensslSmimeCsr({ email: 'alice@example.com', commonName: cn, keyType, dir });
        try {
          const answer = await adapter.submit({ idempotencyKey: 'k-' + kind, kind, csrPem, email: 'alice@example.com', validityDays: 365 });
          console.log(JSON.stringify(answer).slice(0, 200));
          if (answer.status === 'issued') require('fs').writeFileSync(`/tmp/scratch/${kind}.pem`, answer.certificatePem);
        } catch (e) { console.log('ERR', e); }
      }
      await adapter.close();
    } finally {
      console.log(ca.logs().split('\n').slice(-8).join('\n'));
      await ca.stop();
    }
  });
});
