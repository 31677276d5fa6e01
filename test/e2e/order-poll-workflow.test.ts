/**
 * The provisioning workflow (time-skipping server) against the order-and-poll CA simulator through
 * the real adapter, real keys and CSRs and the real requestCertificates/awaitIssuance activities
 * (register and escrow on SQLite):
 * an order pending for 3 days is delivered inside the 12.5-day window; one pending past the window
 * ends in the failure notification. The simulator's clock is the server's skipped clock, read at
 * every CA call, so "3 days" means 3 days of workflow time.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createActivities, type ActivityDeps } from '../../src/activities';
import type { CertificateAuthority } from '../../src/activities/ca/certificate-authority';
import { CertificateChecks } from '../../src/activities/ca/certificate-checks';
import { EmbeddedCa } from '../../src/activities/ca/embedded-ca';
import { UNSERVED_REPOSITORY } from '../helpers/repository';
import { OrderPollCa } from '../../src/activities/ca/order-poll';
import { onDemandKeys } from '../../src/activities/crypto/key-pool';
import { Keyring, Sealer } from '../../src/activities/crypto/sealing';
import { SqliteDatabase } from '../../src/activities/database/sqlite-database';
import { SqlEscrowStore } from '../../src/activities/escrow';
import { CredentialRegister } from '../../src/activities/register/credential-register';
import { defaultPolicy } from '../../src/domain/policy';
import { DAY_MS, HOUR_MS } from '../../src/domain/schedule';
import { createLogger } from '../../src/logging';
import { startOrderCaSimulator, type OrderCaSimulator } from '../../src/peers/order-ca-sim';
import { enrollmentEvent } from '../helpers/events';
import { fakeActivities } from '../helpers/fake-activities';
import { createTimeSkippingEnv, holdingTime } from '../helpers/temporal';
import { withProvisioning } from '../helpers/workflow-harness';

const logger = createLogger({ level: 'silent' });
const API_KEY = 'order-ca-workflow-test-key';

describe('provisionSmime with the order-and-poll CA (time-skipping, simulator, real adapter)', function () {
  this.timeout(180_000);
  let env: TestWorkflowEnvironment;
  let dir: string;
  let sim: OrderCaSimulator;
  let adapter: OrderPollCa;
  let simClock = 0;
  let issuer: EmbeddedCa;

  before(async function () {
    this.timeout(120_000);
    env = await createTimeSkippingEnv();
    dir = mkdtempSync(join(tmpdir(), 'order-poll-wf-'));
    issuer = await EmbeddedCa.open({ repository: UNSERVED_REPOSITORY, dir: join(dir, 'issuer'), pendingForMs: 0, logger });
    sim = await startOrderCaSimulator({ port: 0, apiKey: API_KEY, issueAfterMs: 3 * DAY_MS, now: () => simClock, issuer, logger });
    adapter = new OrderPollCa({ url: sim.url, apiKey: API_KEY, requestTimeoutMs: 5_000, logger });
  });
  after(async () => {
    await adapter?.close();
    await sim?.close();
    await env?.teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const clock = () => env.currentTimeMs();
  /** The adapter, with the simulator's clock set to the server's clock before every call. */
  const clockedCa: CertificateAuthority = {
    type: 'order-poll',
    submit: async (request) => {
      simClock = await clock();
      return adapter.submit(request);
    },
    poll: async (requestId) => {
      simClock = await clock();
      return adapter.poll(requestId);
    },
  };

  /** The real issuance steps (keys, CSRs, the register and the escrow on SQLite) around the clocked adapter; the rest faked. */
  async function activitiesWithRealCa() {
    const dbDir = mkdtempSync(join(dir, 'db-'));
    const keyring = new Keyring([{ kid: 'k1', key: randomBytes(32) }]);
    const database = await SqliteDatabase.open({ file: join(dbDir, 'escrow.db'), logger });
    const real = createActivities({
      ca: clockedCa,
      validityDays: 365,
      certificateChecks: new CertificateChecks({ profile: 'mailbox-strict', trustRootsPem: [issuer.rootCertificatePem], maxValidityDays: 365, minValidityDays: 30 }),
      certificateProfile: 'mailbox-strict',
      keys: onDemandKeys({ algorithm: 'ec', rsaBits: 2048, ecCurve: 'P-256' }),
      escrow: await SqlEscrowStore.open(database, { keyring, logger }),
      register: await CredentialRegister.open(database, new Sealer(keyring)),
      claimLeaseMs: DAY_MS,
      renewWithinMs: 30 * DAY_MS,
    } as Partial<ActivityDeps> as ActivityDeps);
    const fakes = fakeActivities(clock);
    return Object.assign(fakes, holdingTime(env, { requestCertificates: real.requestCertificates, awaitIssuance: real.awaitIssuance }));
  }

  async function freshEvent() {
    return enrollmentEvent({ eventTime: new Date(await env.currentTimeMs()).toISOString() });
  }

  it('an order pending for 3 days is delivered inside the 12.5-day window, one order per kind', async () => {
    sim.setIssueAfter(3 * DAY_MS);
    const activities = await activitiesWithRealCa();
    const event = await freshEvent();
    const policy = { ...defaultPolicy(), issuancePollIntervalMs: HOUR_MS };
    await withProvisioning(
      env,
      activities,
      event,
      async ({ handle, startedAt }) => {
        const report = await handle.result();
        assert.equal(report.stage, 'Delivered');
        assert.equal(report.attempts, 1);
        const deliveredAt = Date.parse(report.deliveredAt);
        assert.ok(deliveredAt >= startedAt + 3 * DAY_MS, 'not before the CA issued');
        assert.ok(deliveredAt < startedAt + 3 * DAY_MS + 2 * HOUR_MS, 'within a poll interval of issuance');
      },
      policy,
    );
    const orders = sim.orders().filter((o) => o.email === event.email!.toLowerCase());
    assert.deepEqual(orders.map((o) => o.status).sort(), ['issued', 'issued']);
    assert.equal(activities.notices.length, 0);
  });

  it('an order still pending when the window closes ends in one failure notification', async () => {
    sim.setIssueAfter(20 * DAY_MS);
    const activities = await activitiesWithRealCa();
    const policy = { ...defaultPolicy(), issuancePollIntervalMs: 6 * HOUR_MS };
    const event = await freshEvent();
    await withProvisioning(
      env,
      activities,
      event,
      async ({ handle }) => {
        const error = await handle.result().then(
          () => assert.fail('expected the workflow to fail'),
          (e: unknown) => e,
        );
        assert.ok(error instanceof WorkflowFailedError);
        assert.ok(error.cause instanceof ApplicationFailure);
        assert.equal(error.cause.type, 'DeliveryFailed');
        assert.match(error.cause.message, /window closed/);
        // The window counts from the event time (the earlier of event time and start).
        assert.ok((await env.currentTimeMs()) >= Date.parse(event.eventTime) + 12.5 * DAY_MS);
      },
      policy,
    );
    assert.equal(activities.notices.length, 1);
    assert.equal(activities.notices[0]!.reason, 'WindowClosed');
    const polls = sim.orders().filter((o) => o.email === event.email!.toLowerCase());
    assert.equal(polls.length, 2, 'one order per kind, never a second');
  });
});
