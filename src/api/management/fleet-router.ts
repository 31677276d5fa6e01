/**
 * The fleet routes of the management API: the credential register (read from the provider's
 * database) and the sweeps (started, described, listed and cancelled through Temporal with the
 * client helpers of ../../temporal/fleet.ts). What each route takes and answers is in
 * ./fleet-operations.ts. Mounted by the management router, so a token's rate limit covers these
 * routes and the enrollment routes together.
 */
import type { RequestHandler, Response, Router } from 'express';
import type { RegisteredCredential } from '../../activities/register/credential-register';
import type { Logger } from '../../logging';
import { cancelSweep, describeSweep, isSweepId, startBackfill, startReconciliation, startRenewal, stateOf, type SweepView } from '../../temporal/fleet';
import { executionInfoFromRaw } from '../../temporal/sdk-internals';
import {
  BACKFILL_WORKFLOW_TYPE,
  RECONCILE_WORKFLOW_TYPE,
  RENEW_WORKFLOW_TYPE,
  SWEEP_ID_PREFIX,
  SWEEP_MEMO_KEY,
  type RenewalSelector,
  type SweepKind,
  type SweepProgress,
} from '../../workflows/fleet-definitions';
import { withTemporal, type ApiContext } from '../context';
import { RegisterUnavailable, type CredentialReader } from '../credential-reader';
import { expressPath, mountOperation, pathOf } from '../openapi/mount';
import type { OperationSpec } from '../openapi/operation';
import { HttpProblem } from '../problem';
import { rememberRoute } from '../request-log';
import type { CredentialItem, CredentialList } from '../schemas/credentials';
import { GRPC, grpcCode, isWorkflowNotFound } from '../temporal-errors';
import { maskEmail } from './enrollment-view';
import { backfill, listCredentials, reconciliation, renewal } from './fleet-operations';
import { decodePageToken, decodePosition, encodePageToken, encodePosition } from './page-token';
import { backfillView, reconciliationView, renewalView, sweepFailure, sweepViewerView, type SweepFailureInfo } from './sweep-view';

/** Seconds a client waits before asking again when the database is away. */
const DATABASE_RETRY_AFTER_SECONDS = 5;

const WORKFLOW_TYPE_OF: Record<SweepKind, string> = { backfill: BACKFILL_WORKFLOW_TYPE, reconcile: RECONCILE_WORKFLOW_TYPE, renewal: RENEW_WORKFLOW_TYPE };
const NOUN: Record<SweepKind, string> = { backfill: 'backfill', reconcile: 'reconciliation', renewal: 'renewal' };
/** A reconcile asked for through the API; anything else isSweepId accepts is a run of the Schedule. */
const ON_DEMAND_RECONCILE = new RegExp(`^${SWEEP_ID_PREFIX.reconcile}[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`);

type Guards = Record<'viewer' | 'operator', RequestHandler[]>;

export function mountFleetRoutes(router: Router, ctx: ApiContext, role: Guards): void {
  const log = (res: Response) => res.locals.log as Logger;
  const isOperator = (res: Response) => res.locals.role === 'operator';

  // --- the credential register ------------------------------------------------------------------

  mountOperation(router, listCredentials, role[listCredentials.access], async ({ query }, _req, res) => {
    const filter = {
      ...(query.deviceUuid ? { deviceUuid: query.deviceUuid } : {}),
      ...(query.userUuid ? { userUuid: query.userUuid } : {}),
      ...(query.state ? { state: query.state } : {}),
      ...(query.expiringBefore ? { expiringBefore: query.expiringBefore } : {}),
    };
    // The token is bound to the filters (and the page size does not matter: positions are rows).
    const key = JSON.stringify(['credentials', filter.deviceUuid, filter.userUuid, filter.state, filter.expiringBefore]);
    const after = query.pageToken ? decodePosition(key, query.pageToken) : undefined;
    if (query.pageToken && after === undefined) throw new HttpProblem('badRequest', 'the page token is not valid for these filters');
    const page = await readRegister(ctx.credentials, log(res), (register) => register.list(filter, { size: query.pageSize, ...(after !== undefined ? { after } : {}) }));
    const operator = isOperator(res);
    const list: CredentialList = {
      items: page.items.map((row) => credentialItem(row, operator)),
      nextPageToken: page.last !== undefined ? encodePosition(key, page.last) : null,
    };
    res.json(list);
  });

  // --- backfills --------------------------------------------------------------------------------

  mountOperation(router, backfill.start, role.operator, async ({ body }, _req, res) => {
    const input = { scope: body.smartGroupId !== undefined ? { smartGroupId: body.smartGroupId } : {}, ...(body.ratePerSecond !== undefined ? { ratePerSecond: body.ratePerSecond } : {}) };
    const id = await withTemporal(ctx, log(res), 'start backfill', () => startBackfill(ctx.client, ctx.config.taskQueue, input));
    log(res).info({ sweepId: id, scope: input.scope, ratePerSecond: input.ratePerSecond, role: res.locals.role }, 'backfill started by API');
    started(res, backfill.get, id);
  });

  mountOperation(router, reconciliation.start, role.operator, async ({ body }, _req, res) => {
    const input = body.smartGroupId !== undefined ? { scope: { smartGroupId: body.smartGroupId } } : {};
    const id = await withTemporal(ctx, log(res), 'start reconciliation', () => startReconciliation(ctx.client, ctx.config.taskQueue, input));
    log(res).info({ sweepId: id, scope: input.scope ?? 'RECONCILE_SMART_GROUP_ID or all', role: res.locals.role }, 'reconciliation started by API');
    started(res, reconciliation.get, id);
  });

  mountOperation(router, renewal.start, role.operator, async ({ body }, _req, res) => {
    const selector: RenewalSelector =
      body.deviceUuid !== undefined
        ? { deviceUuid: body.deviceUuid }
        : body.userUuid !== undefined
          ? { userUuid: body.userUuid }
          : body.expiringBefore !== undefined
            ? { expiringBefore: body.expiringBefore }
            : { all: true };
    const input = { selector, reason: body.reason, ...(body.ratePerSecond !== undefined ? { ratePerSecond: body.ratePerSecond } : {}) };
    const id = await withTemporal(ctx, log(res), 'start renewal', () => startRenewal(ctx.client, ctx.config.taskQueue, input));
    // The reason is an operator's words: logged at the operator's request, as the workflow keeps it.
    log(res).info({ sweepId: id, selector, ratePerSecond: input.ratePerSecond, role: res.locals.role }, 'renewal started by API');
    started(res, renewal.get, id);
  });

  // --- looking at, listing and cancelling sweeps ------------------------------------------------

  for (const [kind, operations] of [
    ['backfill', backfill],
    ['reconcile', reconciliation],
    ['renewal', renewal],
  ] as const) {
    const shape = (view: SweepView, failure?: SweepFailureInfo) =>
      kind === 'backfill' ? backfillView(view, failure) : kind === 'reconcile' ? reconciliationView(view, !ON_DEMAND_RECONCILE.test(view.id), failure) : renewalView(view, failure);
    const forRole = <V extends { failure?: SweepFailureInfo; reason?: string }>(res: Response, view: V): V => (isOperator(res) ? view : sweepViewerView(view));

    mountOperation(router, operations.get, role.viewer, async ({ params: { id } }, _req, res) => {
      const { view, failure } = await withTemporal(ctx, log(res), `describe ${NOUN[kind]}`, async () => {
        const described = await describeSweep(ctx.client, kind, id);
        return { view: described, failure: described?.state === 'Failed' ? await failureOf(id) : undefined };
      });
      if (!view) throw new HttpProblem('notFound', `no ${NOUN[kind]} ${id}`);
      res.json(forRole(res, shape(view, failure)));
    });

    mountOperation(router, operations.list, role.viewer, async ({ query }, _req, res) => {
      // A sweep that continued as new is one sweep: only its latest run is listed.
      const visibilityQuery = `WorkflowType = '${WORKFLOW_TYPE_OF[kind]}' AND ExecutionStatus != 'ContinuedAsNew'`;
      const nextPageToken = query.pageToken ? decodePageToken(visibilityQuery, query.pageToken) : undefined;
      if (query.pageToken && !nextPageToken) throw new HttpProblem('badRequest', 'the page token is not valid for this list');
      const response = await withTemporal(
        ctx,
        log(res),
        `list ${NOUN[kind]}s`,
        () => ctx.client.workflowService.listWorkflowExecutions({ namespace: ctx.client.options.namespace, query: visibilityQuery, pageSize: query.pageSize, nextPageToken }),
        (err) => (grpcCode(err) === GRPC.INVALID_ARGUMENT ? new HttpProblem('badRequest', 'the page token is not valid (it may have expired)') : undefined),
      );
      const converter = ctx.client.workflow.options.loadedDataConverter;
      const items = await Promise.all(
        (response.executions ?? []).map(async (raw) => {
          const info = await executionInfoFromRaw(raw, converter, raw, ctx.client.options.namespace);
          // Only sweep ids are shown (a workflow of that type started by hand under another id is not the API's).
          if (!isSweepId(kind, info.workflowId)) return undefined;
          const progress = (info.memo as Record<string, unknown> | undefined)?.[SWEEP_MEMO_KEY] as SweepProgress | undefined;
          const view: SweepView = {
            id: info.workflowId,
            kind,
            state: stateOf(info.status.name),
            ...(progress ? { progress } : {}),
            startTime: info.startTime.toISOString(),
            ...(info.closeTime ? { closeTime: info.closeTime.toISOString() } : {}),
          };
          return forRole(res, shape(view));
        }),
      );
      const token = response.nextPageToken && response.nextPageToken.length > 0 ? encodePageToken(visibilityQuery, response.nextPageToken) : null;
      res.json({ items: items.filter((item) => item !== undefined), nextPageToken: token });
    });

    mountOperation(router, operations.cancel, role.operator, async ({ params: { id } }, _req, res) => {
      await withTemporal(
        ctx,
        log(res),
        `cancel ${NOUN[kind]}`,
        async () => {
          const view = await describeSweep(ctx.client, kind, id);
          if (!view) throw new HttpProblem('notFound', `no ${NOUN[kind]} ${id}`);
          if (view.state !== 'Running') throw new HttpProblem('conflict', `${NOUN[kind]} ${id} has already ended (${view.state})`);
          await cancelSweep(ctx.client, id);
        },
        // It ended between the look and the cancel.
        (err) => (isWorkflowNotFound(err) ? new HttpProblem('conflict', `${NOUN[kind]} ${id} has already ended`) : undefined),
      );
      log(res).info({ sweepId: id, role: res.locals.role }, `${NOUN[kind]} cancelled by API`);
      res.status(202).json({ id, action: 'cancel' });
    });

    // Other methods on these paths: 405 with Allow.
    router.all(expressPath(operations.list), rememberRoute, methodNotAllowed(['GET', 'POST']));
    router.all(expressPath(operations.get), rememberRoute, methodNotAllowed(['GET']));
    router.all(expressPath(operations.cancel), rememberRoute, methodNotAllowed(['POST']));
  }
  router.all(expressPath(listCredentials), rememberRoute, methodNotAllowed(['GET']));

  /** A closed, failed sweep's innermost error (its result is the failure). */
  async function failureOf(id: string): Promise<SweepFailureInfo | undefined> {
    try {
      await ctx.client.workflow.getHandle(id).result();
      return undefined;
    } catch (err) {
      return sweepFailure(err);
    }
  }
}

function started(res: Response, get: OperationSpec, id: string): void {
  res.setHeader('Location', pathOf(get, { id }));
  res.status(202).json({ id });
}

/** Read the register; a database that cannot be opened or read is 503 + Retry-After (logged with its cause). */
async function readRegister<T>(register: CredentialReader | undefined, log: Logger, read: (register: CredentialReader) => Promise<T>): Promise<T> {
  if (!register) throw new HttpProblem('databaseUnavailable', 'this API process was started without the credential register', { retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS });
  try {
    return await read(register);
  } catch (err) {
    log.warn({ err: err instanceof RegisterUnavailable ? (err.cause ?? err) : err }, 'credential register unavailable');
    throw new HttpProblem('databaseUnavailable', 'the provider database did not answer; nothing was read — repeat later', { retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS });
  }
}

/** A register row as the API shows it: public facts only (never the key, the CSR or the certificate's PEM); the address masked for viewers. */
export function credentialItem(row: RegisteredCredential, operator: boolean): CredentialItem {
  const optional = <K extends string, V>(key: K, value: V | undefined) => (value !== undefined && value !== null ? ({ [key]: value } as Record<K, V>) : {});
  return {
    id: row.id,
    kind: row.kind,
    state: row.state,
    ...optional('stateReason', row.stateReason),
    ...optional('serialNumber', row.serialNumber),
    ...optional('thumbprintSha256', row.thumbprintSha256),
    ...optional('notAfter', row.notAfter),
    enrollmentUserUuid: row.enrollmentUserUuid,
    deviceUuid: row.deviceUuid,
    ...optional('deviceId', row.deviceId),
    ...optional('platform', row.platform),
    email: operator ? row.email : maskEmail(row.email),
    ...optional('escrowId', row.escrowId),
    ...optional('gateway', row.gateway),
    ...optional('deliveredAt', row.deliveredAt),
    workflowId: row.workflowId,
    runId: row.runId,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function methodNotAllowed(allow: string[]) {
  return (_req: unknown, _res: unknown, next: (err?: unknown) => void) => next(new HttpProblem('methodNotAllowed', undefined, { allow }));
}
