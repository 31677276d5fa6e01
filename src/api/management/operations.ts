/** The management API's operations on provisioning workflows (/v1/enrollments). */
import { z } from 'zod';
import { defineOperation, JSON_BODY_PROBLEMS, TEMPORAL_UNAVAILABLE, type BodySpec } from '../openapi/operation';
import {
  ActionAccepted,
  CancelRequest,
  EnrollmentList,
  EnrollmentView,
  ListEnrollmentsQuery,
  RetryRequest,
  StartEnrollmentRequest,
  StartResult,
  TerminateRequest,
  WorkflowIdParams,
} from '../schemas/enrollments';

const NO_SUCH_WORKFLOW = 'No such provisioning workflow';

export const listEnrollments = defineOperation({
  operationId: 'listEnrollments',
  method: 'get',
  path: '/v1/enrollments',
  tag: 'management',
  summary: 'List provisioning workflows (Temporal visibility; newest first)',
  access: 'viewer',
  query: ListEnrollmentsQuery,
  responses: { 200: { description: 'One page', schema: EnrollmentList } },
  problems: { badRequest: 'The page token is not valid', invalidField: 'A filter is not valid', unavailable: TEMPORAL_UNAVAILABLE },
});

export const startEnrollment = defineOperation({
  operationId: 'startEnrollment',
  method: 'post',
  path: '/v1/enrollments',
  tag: 'management',
  summary: 'Start provisioning for a user and device (EventTime: now)',
  access: 'operator',
  body: { schema: StartEnrollmentRequest },
  responses: {
    200: { description: 'Joined the open run for this user and device', schema: StartResult },
    201: { description: 'Started', schema: StartResult, headers: { Location: { description: 'The new enrollment', schema: z.string() } } },
  },
  problems: { ...JSON_BODY_PROBLEMS, unavailable: TEMPORAL_UNAVAILABLE },
});

export const getEnrollment = defineOperation({
  operationId: 'getEnrollment',
  method: 'get',
  path: '/v1/enrollments/{workflowId}',
  tag: 'management',
  summary: 'One provisioning workflow: stage, attempt, status, result or failure',
  description:
    'What a token sees depends on its role. operator: everything. viewer: identifiers (UUIDs, workflow and run IDs), stage, attempts, times, ' +
    'serials, thumbprints and failure types, but no personal data in the clear: `email` is masked (m***@example.test), `summary` (user and ' +
    'device names) is left out, and free-text messages (`failure.message`, `lastError.message`) read "(shown to operators only)".',
  access: 'viewer',
  params: WorkflowIdParams,
  responses: { 200: { description: "The workflow's latest run", schema: EnrollmentView } },
  problems: { notFound: NO_SUCH_WORKFLOW, unavailable: TEMPORAL_UNAVAILABLE },
});

/** cancel, retry, terminate: the same shape, one body each. */
function action<const N extends 'cancel' | 'retry' | 'terminate', const B extends BodySpec>(name: N, summary: string, body: B) {
  return defineOperation({
    operationId: `${name}Enrollment`,
    method: 'post',
    path: `/v1/enrollments/{workflowId}/${name}`,
    tag: 'management',
    summary,
    access: 'operator',
    params: WorkflowIdParams,
    body,
    responses: { 202: { description: 'Accepted', schema: ActionAccepted } },
    problems: { ...JSON_BODY_PROBLEMS, notFound: NO_SUCH_WORKFLOW, conflict: 'The workflow is not running', unavailable: TEMPORAL_UNAVAILABLE },
  });
}

export const cancelEnrollment = action('cancel', 'Cancel the open run: clean-up runs, the workflow ends Cancelled', { schema: CancelRequest, required: false });
export const retryEnrollment = action('retry', 'Signal retryNow: skip the wait for the next attempt', {
  schema: RetryRequest,
  required: false,
  description: 'Optional; retryNow takes no arguments and the content is ignored',
});
export const terminateEnrollment = action('terminate', 'Terminate the open run at once (no clean-up); a reason is required', { schema: TerminateRequest });

export const enrollmentOperations = [listEnrollments, startEnrollment, getEnrollment, cancelEnrollment, retryEnrollment, terminateEnrollment];
