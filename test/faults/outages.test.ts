/**
 * Fault: long outages of the outside systems, under the time-skipping test server. The worker's
 * real activities (built from settings as worker.ts builds them: embedded CA, mTLS gateway client,
 * escrow, sealing) talk to a real CEG simulator; the CA and the gateway are wrapped at their
 * interfaces so they refuse (as CaUnavailable / GatewayUnavailable, retryable) until a point in
 * server time. The enrollment must be delivered at the first 4-hourly slot after the outages end,
 * each credential issued once and uploaded once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../src/activities';
import type { IssuedCertificateRecord } from '../../src/activities/ca/embedded-ca';
import { readAllJson } from '../../src/activities/ca/embedded/files';
import { buildActivityDeps, closeActivityDeps } from '../../src/activities/deps';
import { simulatedEnrollment } from '../../src/cli/simulate';
import { loadConfig, provisioningPolicy, type Config } from '../../src/config';
import { provisioningWorkflowId } from '../../src/domain/enrollment';
import { retryable } from '../../src/domain/errors';
import { deliveryWindow, HOUR_MS } from '../../src/domain/schedule';
import { createLogger } from '../../src/logging';
import { startCegSimulator, type CegSimulator } from '../../src/peers/ceg-sim';
import { ensureDevPki } from '../../src/peers/dev-pki';
import { developmentSettings } from '../../src/tools/dev-settings';
import { WORKFLOW_TYPE, type DeliveryReport } from '../../src/workflows/definitions';
import { createTimeSkippingEnv, workflowBundle } from '../helpers/temporal';
import { report } from './support';

interface Outage {
  /** Server time (ms) from which the system refuses, and until which. */
  from: number;
  until: number;
}

interface Tally {
  calls: number;
  refused: number;
}

/** Server time of the running activity attempt (the test server's skipped clock, not the host's). */
const serverNow = () => Context.current().info.currentAttemptScheduledTimestampMs;
const down = (outage: Outage) => serverNow() >= outage.from && serverNow() < outage.until;

/** `call`, unless `outage` covers the current server time: then a retryable `failureType`, counted. */
async function unlessDown<T>(outage: Outage, tally: Tally, failureType: 'CaUnavailable' | 'GatewayUnavailable', call: () => Promise<T>): Promise<T> {
  tally.calls += 1;
  if (down(outage)) {
    tally.refused += 1;
    throw retryable(failureType, `${failureType === 'CaUnavailable' ? 'CA' : 'gateway'} is down (fault test)`);
  }
  return call();
}

function withOutages(deps: ActivityDeps, ca: Outage, gateway: Outage, tally: { ca: Tally; gateway: Tally }): ActivityDeps {
  return {
    ...deps,
    ca: {
      type: deps.ca.type,
      submit: (request) => unlessDown(ca, tally.ca, 'CaUnavailable', () => deps.ca.submit(request)),
      poll: (requestId) => unlessDown(ca, tally.ca, 'CaUnavailable', () => deps.ca.poll(requestId)),
    },
    gateway: {
      type: deps.gateway.type,
      carriesArchived: deps.gateway.carriesArchived,
      upload: (credential) => unlessDown(gateway, tally.gateway, 'GatewayUnavailable', () => deps.gateway.upload(credential)),
    },
  };
}

describe('fault: CA and gateway outages lasting days (time skipping)', function () {
  let env: TestWorkflowEnvironment;
  let dataDir: string;
  let sim: CegSimulator;
  let config: Config;
  const logger = createLogger({ level: 'silent' });

  before(async () => {
    env = await createTimeSkippingEnv();
  });

  after(async () => {
    await env?.teardown();
  });

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'faults-outage-'));
    const pki = await ensureDevPki(dataDir, logger);
    sim = await startCegSimulator({ port: 0, adminPort: 0, dataDir, allowedThumbprints: [pki.clientThumbprint], pki, logger });
    config = loadConfig({
      env: { ...(await developmentSettings(dataDir, logger)), DATA_DIR: dataDir, KEY_POOL_SIZE: '0', CEG_URL: sim.url, CEG_RECIPIENT_CERT: pki.recipientCertPath, LOG_LEVEL: 'silent' },
    });
  });

  afterEach(async () => {
    await sim?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function deliverThrough(outages: (t0: number) => { ca: Outage; gateway: Outage }): Promise<{ report: DeliveryReport; t0: number; tally: { ca: Tally; gateway: Tally }; issued: IssuedCertificateRecord[]; uploads: unknown[] }> {
    const t0 = await env.currentTimeMs();
    const tally = { ca: { calls: 0, refused: 0 }, gateway: { calls: 0, refused: 0 } };
    const deps = await buildActivityDeps(config, logger);
    const { ca, gateway } = outages(t0);
    const taskQueue = `faults-outage-${t0}`;
    try {
      const worker = await Worker.create({
        connection: env.nativeConnection,
        namespace: 'default',
        taskQueue,
        workflowBundle: await workflowBundle(),
        activities: createActivities(withOutages(deps, ca, gateway, tally)),
      });
      const event = { ...simulatedEnrollment(0), eventTime: new Date(t0).toISOString() };
      const result = await worker.runUntil(async () => {
        const handle = await env.client.workflow.start(WORKFLOW_TYPE, {
          taskQueue,
          workflowId: provisioningWorkflowId(event.enrollmentUserUuid, event.deviceUuid),
          args: [{ event, policy: provisioningPolicy(config) }],
        });
        return (await handle.result()) as DeliveryReport;
      });
      const uploads = (await (await fetch(`${sim.adminUrl}/sim/uploads`)).json()) as unknown[];
      return { report: result, t0, tally, issued: readAllJson<IssuedCertificateRecord>(join(dataDir, 'embedded-ca', 'issued')), uploads };
    } finally {
      await closeActivityDeps(deps);
    }
  }

  function firstSlotFrom(t0: number, from: number): { attempt: number; at: number } {
    const { attemptTimes } = deliveryWindow(provisioningPolicy(config).schedule, t0, t0);
    const index = attemptTimes.findIndex((time) => time >= from);
    return { attempt: index + 1, at: attemptTimes[index]! };
  }

  it('CA down for the first day and the gateway for the first two: delivered at the first slot after 48 h', async () => {
    const run = await deliverThrough((t0) => ({ ca: { from: t0, until: t0 + 24 * HOUR_MS }, gateway: { from: t0, until: t0 + 48 * HOUR_MS } }));
    const expected = firstSlotFrom(run.t0, run.t0 + 48 * HOUR_MS);
    const deliveredAt = Date.parse(run.report.deliveredAt);
    report({
      test: 'CA down 1 day + gateway down 2 days',
      loadHeld: 1,
      faultsSurvived: `CA refused ${run.tally.ca.refused} of ${run.tally.ca.calls} calls over 24 h, gateway ${run.tally.gateway.refused} of ${run.tally.gateway.calls} over 48 h`,
      lost: run.report.stage === 'Delivered' ? 0 : 1,
      duplicates: run.issued.length - 2 + (run.uploads.length - 2),
      attempts: run.report.attempts,
      deliveredAfterHours: Math.round(((deliveredAt - run.t0) / HOUR_MS) * 100) / 100,
    });
    assert.equal(run.report.stage, 'Delivered');
    assert.equal(run.report.attempts, expected.attempt, 'delivered by the first attempt after the gateway came back');
    assert.ok(deliveredAt >= expected.at && deliveredAt < expected.at + HOUR_MS, `delivered at ${new Date(deliveredAt).toISOString()}, the slot was ${new Date(expected.at).toISOString()}`);
    assert.equal(run.issued.length, 2, 'each credential issued once, although the CA refused for a day');
    assert.equal(run.uploads.length, 2, 'the gateway holds each credential once');
    assert.ok(run.tally.ca.refused > 0 && run.tally.gateway.refused > 0, 'both outages were felt');
  });

  it('CA down on day one, then the gateway down for the next two days: delivered at the first slot after 72 h', async () => {
    const run = await deliverThrough((t0) => ({ ca: { from: t0, until: t0 + 24 * HOUR_MS }, gateway: { from: t0 + 24 * HOUR_MS, until: t0 + 72 * HOUR_MS } }));
    const expected = firstSlotFrom(run.t0, run.t0 + 72 * HOUR_MS);
    const deliveredAt = Date.parse(run.report.deliveredAt);
    report({
      test: 'CA down day 1, then gateway down days 2-3',
      loadHeld: 1,
      faultsSurvived: `CA refused ${run.tally.ca.refused} calls, gateway ${run.tally.gateway.refused}`,
      lost: run.report.stage === 'Delivered' ? 0 : 1,
      duplicates: run.issued.length - 2 + (run.uploads.length - 2),
      attempts: run.report.attempts,
      deliveredAfterHours: Math.round(((deliveredAt - run.t0) / HOUR_MS) * 100) / 100,
    });
    assert.equal(run.report.stage, 'Delivered');
    assert.equal(run.report.attempts, expected.attempt);
    assert.ok(deliveredAt >= expected.at && deliveredAt < expected.at + HOUR_MS);
    assert.equal(run.issued.length, 2);
    assert.equal(run.uploads.length, 2);
  });
});
