/**
 * The lifecycle's activities replaced at the activity boundary for workflow unit tests: each records
 * its calls (with the time-skipping server's clock) and can be told to fail. They keep the real
 * activities' contract with the workflow: a step opening a later slot answers `NotYetDue` first
 * (the real `attempt` wrapper, with quick retries that do not pause), `awaitIssuance` answers
 * `StillPending` until issued. Nothing here is secret.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { CertificateSummary, CredentialProgress, LifecycleActivities } from '../../src/activities/contract';
import { attempt } from '../../src/activities/lifecycle/attempt';
import type { FailureNotice } from '../../src/activities/notify/notifier';
import type { CredentialKind } from '../../src/domain/enrollment';

/** The steps' own work, without the slot and retry handling around it. */
export interface FakeSteps {
  identifyUser: LifecycleActivities['identifyUser'];
  request(kind: CredentialKind, input: Parameters<LifecycleActivities['requestCertificates']>[0]): Promise<CredentialProgress>;
  /** Asked again while waiting: the credential's progress now. */
  check(kind: CredentialKind, input: Parameters<LifecycleActivities['awaitIssuance']>[0]): Promise<CredentialProgress>;
  deliver(kind: CredentialKind, input: Parameters<LifecycleActivities['deliverCredentials']>[0]): Promise<{ alreadyPresent?: boolean }>;
  notifyFailure: LifecycleActivities['notifyFailure'];
  cleanUpEnrollment: LifecycleActivities['cleanUpEnrollment'];
  finishRenewal: LifecycleActivities['finishRenewal'];
}

export interface Call {
  name: string;
  kind?: CredentialKind;
  /** The server's clock when the call ran (skipped time under time skipping). */
  at: number;
  /** Temporal's execution number of the activity. */
  execution: number;
  input: unknown;
}

export type FakeActivities = LifecycleActivities & { calls: Call[]; notices: FailureNotice[]; callsOf(name: string, kind?: CredentialKind): Call[] };

export function fakeSummary(kind: CredentialKind, n = 1): CertificateSummary {
  return {
    serial: `${kind === 'signing' ? '5' : 'e'}${n.toString(16).padStart(7, '0')}`,
    thumbprint: `${kind}-thumb-${n}`,
    notBefore: '2026-01-01T00:00:00.000Z',
    notAfter: '2027-01-01T00:00:00.000Z',
  };
}

/**
 * @param clock the server's current time (the test environment's `currentTimeMs`): an activity's
 *   own scheduled-time fields are not advanced by the time-skipping server on retries.
 */
export function fakeActivities(clock: () => Promise<number>, overrides: Partial<FakeSteps> = {}): FakeActivities {
  const calls: Call[] = [];
  const notices: FailureNotice[] = [];
  let issued = 0;
  const record = async (name: string, input: unknown, kind?: CredentialKind) => {
    calls.push({ name, kind, at: await clock(), execution: Context.current().info.attempt, input });
  };
  const defaults: FakeSteps = {
    async identifyUser({ event }) {
      return { email: event.email ?? `${event.enrollmentUserUuid.slice(0, 8)}@example.test`, source: 'directory' };
    },
    async request(kind) {
      issued += 1;
      return { kind, state: 'issued', certificate: fakeSummary(kind, issued) };
    },
    async check(kind) {
      return { kind, state: 'issued', certificate: fakeSummary(kind, 99) };
    },
    async deliver() {
      return {};
    },
    async notifyFailure(notice) {
      notices.push(notice);
    },
    async cleanUpEnrollment() {
      return { removedFromGateway: true, revokedSerials: [], notes: [] };
    },
    async finishRenewal() {
      return { profile: 'reinstalled', revokedSerials: [], notes: [] };
    },
  };
  const steps: FakeSteps = { ...defaults, ...overrides };
  const quick = [0, 0, 0];

  const activities: LifecycleActivities = {
    identifyUser: (input) =>
      attempt(input, 'identify', async () => {
        await record('identifyUser', input);
        return steps.identifyUser(input);
      }, quick),
    requestCertificates: (input) =>
      attempt(input, 'request', () =>
        Promise.all(
          input.credentials.map(async ({ kind }) => {
            await record('requestCertificates', input, kind);
            return steps.request(kind, input);
          }),
        ), quick),
    async awaitIssuance(input) {
      const progress = await Promise.all(
        input.credentials.map(async ({ kind }) => {
          await record('awaitIssuance', input, kind);
          return steps.check(kind, input);
        }),
      );
      if (progress.some((p) => p.state !== 'issued')) throw ApplicationFailure.create({ type: 'StillPending', message: 'not issued yet' });
      return progress;
    },
    deliverCredentials: (input) =>
      attempt(input, 'deliver', async () => {
        const receipts = [];
        for (const kind of input.kinds) {
          await record('deliverCredentials', input, kind);
          const { alreadyPresent } = await steps.deliver(kind, input);
          receipts.push({ kind, deliveredAt: new Date(await clock()).toISOString(), alreadyPresent: alreadyPresent ?? false, pkcs12Profile: 'legacy' });
        }
        return receipts;
      }, quick),
    notifyFailure: async (notice) => {
      await record('notifyFailure', notice);
      return steps.notifyFailure(notice);
    },
    cleanUpEnrollment: async (input) => {
      await record('cleanUpEnrollment', input);
      return steps.cleanUpEnrollment(input);
    },
    finishRenewal: async (input) => {
      await record('finishRenewal', input);
      return steps.finishRenewal(input);
    },
  };
  return Object.assign(activities, {
    calls,
    notices,
    callsOf: (name: string, kind?: CredentialKind) => calls.filter((c) => c.name === name && (kind === undefined || c.kind === kind)),
  });
}
