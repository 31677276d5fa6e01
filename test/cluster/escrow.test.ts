/**
 * The escrow on the cluster's PostgreSQL: a user's devices get one encryption key (mail encrypted
 * to the user must open on every device), even when their enrollments arrive together and are
 * served by different workers racing for the same user's credential.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { simulatedEnrollment } from '../../src/cli/simulate';
import { provisioningWorkflowId, type EnrollmentEvent } from '../../src/domain/enrollment';
import type { Cluster } from '../../src/tools/cluster/stack';
import { postEnrollments } from '../../bench/load';
import { activityAttempts, cegUploads, identityOf, report, sharedCluster } from './support';

const USERS = 12;

describe('cluster escrow: one encryption key per user across workers', function () {
  this.timeout(600_000);
  let cluster: Cluster;

  before(async () => {
    cluster = await sharedCluster();
  });

  it(`two devices of each of ${USERS} users, enrolled at once: each user's devices hold one encryption certificate, also when different workers served them`, async () => {
    const events: EnrollmentEvent[] = [];
    for (let u = 0; u < USERS; u++) {
      const first = simulatedEnrollment(2 * u);
      events.push(first, { ...simulatedEnrollment(2 * u + 1), enrollmentUserUuid: first.enrollmentUserUuid, email: first.email, userName: first.userName, enrollmentUserId: first.enrollmentUserId, deviceUuid: randomUUID() });
    }
    const sent = await postEnrollments({ url: cluster.webhookUrl, authorization: cluster.webhookAuthorization, count: events.length, concurrency: events.length, events, fetch: cluster.fetch });
    assert.equal(sent.filter((s) => s.workflowId).length, events.length, 'every event acknowledged');
    const client = await cluster.client();
    const ids = events.map((e) => provisioningWorkflowId(e.enrollmentUserUuid, e.deviceUuid));
    await Promise.all(ids.map((id) => client.workflow.getHandle(id).result()));

    const uploads = (await cegUploads(cluster)).filter((u) => events.some((e) => e.enrollmentUserUuid === u.enrollmentUserUuid));
    const workers = cluster.workerNames.map((name) => ({ name, pattern: identityOf(cluster.process(name)!.pid) }));
    const histories = new Map(await Promise.all(ids.map(async (id) => [id, await client.workflow.getHandle(id).fetchHistory()] as const)));
    const workerOf = (workflowId: string): string => {
      const names = new Set(
        activityAttempts(new Map([[workflowId, histories.get(workflowId)!]]))
          .map((a) => workers.find((w) => w.pattern.test(a.identity))?.name)
          .filter((n): n is string => !!n),
      );
      return [...names].sort().join('+');
    };
    let acrossWorkers = 0;
    for (let u = 0; u < USERS; u++) {
      const [a, b] = [events[2 * u]!, events[2 * u + 1]!];
      const encryption = uploads.filter((x) => x.enrollmentUserUuid === a.enrollmentUserUuid && x.kind === 'encryption');
      assert.equal(encryption.length, 2, `user ${u}: both devices hold an encryption credential`);
      assert.equal(new Set(encryption.map((x) => x.thumbprint)).size, 1, `user ${u}: one encryption certificate (and key) on both devices`);
      const signing = uploads.filter((x) => x.enrollmentUserUuid === a.enrollmentUserUuid && x.kind === 'signing');
      assert.equal(new Set(signing.map((x) => x.thumbprint)).size, 2, `user ${u}: a signing certificate per device`);
      const wa = workerOf(provisioningWorkflowId(a.enrollmentUserUuid, a.deviceUuid));
      const wb = workerOf(provisioningWorkflowId(b.enrollmentUserUuid, b.deviceUuid));
      if (wa !== wb || wa.includes('+')) acrossWorkers += 1;
    }
    assert.ok(acrossWorkers > 0, 'at least one user had devices served by different workers');
    report({
      test: 'escrow across workers',
      loadHeld: events.length,
      faultsSurvived: `${USERS} users × 2 devices enrolled at once on 2 workers`,
      lost: 0,
      duplicates: 0,
      usersServedByBothWorkers: acrossWorkers,
      encryptionCertificatesPerUser: 1,
    });
  });
});
