/**
 * GET /openapi.json: OpenAPI 3.1 for every route the app serves. Written by hand next to the
 * routers; a test walks the express router and fails if a route is missing here, and validates
 * real responses against these schemas, so the document cannot quietly drift from the code.
 */
import { STAGES } from '../domain/stages';
import { packageVersion } from '../package-info';
import { EXECUTION_STATUSES } from './management/enrollment-view';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './management/router';
import { WEBHOOK_BODY_LIMIT_BYTES, WEBHOOK_PATH } from './webhook/router';

type Json = Record<string, unknown>;
export type OpenApiPaths = Record<string, Json>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const uuid = { type: 'string', pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' };
const dateTime = { type: 'string', format: 'date-time' };
const workflowId = { type: 'string', pattern: '^smime-[0-9a-f-]{36}-[0-9a-f-]{36}$', examples: ['smime-b7e8f9a0-1c2d-4e3f-8a9b-0c1d2e3f4a5b-3f6c2d1e-8a4b-4c7d-9e0f-1a2b3c4d5e6f'] };

const problem = (description: string, headers?: Json) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { 'application/problem+json': { schema: ref('Problem') } },
});
const jsonResponse = (description: string, schema: Json, headers?: Json) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { 'application/json': { schema } },
});
const retryAfter = { 'Retry-After': { description: 'Seconds to wait before repeating the request', schema: { type: 'integer', minimum: 1 } } };
const unavailable = problem('Temporal is unreachable or did not answer in time: nothing was changed; repeat later', retryAfter);
const unauthorized = problem('Missing or unknown credentials', { 'WWW-Authenticate': { schema: { type: 'string' } } });

const workflowIdParameter = { name: 'workflowId', in: 'path', required: true, schema: workflowId };

const schemas: Record<string, Json> = {
  Problem: {
    type: 'object',
    description: 'RFC 9457 problem details',
    required: ['type', 'title', 'status'],
    additionalProperties: false,
    properties: {
      type: { type: 'string', format: 'uri-reference' },
      title: { type: 'string' },
      status: { type: 'integer', minimum: 400, maximum: 599 },
      detail: { type: 'string' },
      instance: { type: 'string' },
      field: { type: 'string', description: 'The missing or invalid field (UEM field name or JSON property)' },
      requestId: { type: 'string', description: 'Also in the X-Request-Id header and in every log line of the request' },
    },
  },
  UemEvent: {
    type: 'object',
    description:
      'A Workspace ONE UEM Event Notification. As JSON, or as XML with root element Eventlog and the same field names. ' +
      'Only EventType, DeviceUUID, EnrollmentUserUUID and EventTime are checked; unknown fields are ignored.',
    xml: { name: 'Eventlog' },
    required: ['EventType'],
    additionalProperties: true,
    properties: {
      EventId: { type: ['integer', 'string'] },
      EventType: { type: 'string', examples: ['MDM Enrollment Complete', 'Enrollment Complete', 'Break MDM Confirmed', 'BreakMDMConfirmed', 'Enterprise Wipe', 'Device Wipe', 'Device Delete'] },
      DeviceUUID: uuid,
      EnrollmentUserUUID: uuid,
      EventTime: { type: ['string', 'integer'], description: 'ISO 8601 with any number of fractional digits, or the legacy /Date(ms)/', examples: ['2026-11-20T09:14:03.5531290Z', '/Date(1763630400000)/'] },
      EnrollmentEmailAddress: { type: 'string', description: 'May be empty: the user is then looked up in UEM' },
      EnrollmentUserName: { type: 'string' },
      EnrollmentUserId: { type: ['integer', 'string'] },
      DeviceId: { type: ['integer', 'string'] },
      DeviceFriendlyName: { type: 'string' },
      Platform: { type: 'string' },
      OperatingSystem: { type: 'string' },
      OrganizationGroupName: { type: 'string' },
    },
  },
  CancelResult: {
    type: 'object',
    required: ['workflowId', 'outcome'],
    additionalProperties: false,
    properties: {
      workflowId,
      runId: { type: 'string' },
      outcome: { enum: ['cancel-requested', 'retire-started', 'already-retired', 'not-running', 'not-found', 'stale'] },
    },
  },
  WebhookResult: {
    type: 'object',
    required: ['outcome', 'eventType'],
    additionalProperties: false,
    properties: {
      outcome: {
        enum: ['started', 'joined', 'duplicate', 'cancel-requested', 'retire-started', 'already-retired', 'not-running', 'not-found', 'stale', 'ignored'],
        description:
          'started: a new run (202); joined: the open run for this user and device (200); duplicate: this event was handled before (200); ' +
          'cancel-requested (open run cancelled) / retire-started, already-retired (a closed run\'s credentials removed and its signing certificate revoked) / not-running / not-found / stale: an unenrollment (202); ignored: an event type the provider does not act on (202)',
      },
      eventType: { type: 'string' },
      workflowId,
      runId: { type: 'string' },
      workflows: { type: 'array', items: ref('CancelResult') },
      warnings: { type: 'array', items: { type: 'string' } },
    },
  },
  WebhookReady: {
    type: 'object',
    required: ['status', 'message'],
    additionalProperties: false,
    properties: { status: { const: 'ok' }, message: { type: 'string' } },
  },
  StartEnrollmentRequest: {
    type: 'object',
    required: ['enrollmentUserUuid', 'deviceUuid'],
    additionalProperties: false,
    properties: {
      enrollmentUserUuid: uuid,
      deviceUuid: uuid,
      email: { type: 'string', format: 'email' },
      platform: { type: 'string', examples: ['Apple', 'Android', 'WinRT'] },
      userName: { type: 'string' },
      deviceName: { type: 'string' },
    },
  },
  StartResult: {
    type: 'object',
    required: ['workflowId', 'runId', 'outcome'],
    additionalProperties: false,
    properties: { workflowId, runId: { type: 'string' }, outcome: { enum: ['started', 'joined', 'duplicate'] } },
  },
  ErrorSummary: {
    type: 'object',
    required: ['message', 'at', 'attempt'],
    additionalProperties: false,
    properties: { type: { type: 'string' }, message: { type: 'string' }, at: dateTime, attempt: { type: 'integer' } },
  },
  CredentialStatus: {
    type: 'object',
    required: ['kind', 'state'],
    additionalProperties: false,
    properties: {
      kind: { enum: ['signing', 'encryption'] },
      state: { enum: ['not-started', 'requested', 'pending', 'issued', 'encrypted', 'delivered'] },
      requestId: { type: 'string' },
      serial: { type: 'string' },
      thumbprint: { type: 'string' },
      notAfter: { type: 'string' },
      profile: { enum: ['legacy', 'modern'] },
      deliveredAt: dateTime,
      escrowId: { type: 'string', description: "Shared (encryption) credentials: the user's escrowed credential this device received" },
    },
  },
  ProvisioningStatus: {
    type: 'object',
    description: 'The workflow\'s `status` query',
    required: ['stage', 'attempt', 'maxAttempts', 'deadline', 'enrollmentUserUuid', 'deviceUuid', 'credentials'],
    additionalProperties: false,
    properties: {
      stage: { enum: [...STAGES] },
      attempt: { type: 'integer', minimum: 0 },
      maxAttempts: { type: 'integer', minimum: 0 },
      nextAttemptAt: dateTime,
      deadline: dateTime,
      lastError: ref('ErrorSummary'),
      email: { type: 'string' },
      enrollmentUserUuid: uuid,
      deviceUuid: uuid,
      credentials: { type: 'array', items: ref('CredentialStatus') },
    },
  },
  DeliveryReport: {
    type: 'object',
    required: ['stage', 'enrollmentUserUuid', 'deviceUuid', 'email', 'attempts', 'deliveredAt', 'credentials'],
    additionalProperties: false,
    properties: {
      stage: { const: 'Delivered' },
      enrollmentUserUuid: uuid,
      deviceUuid: uuid,
      email: { type: 'string' },
      attempts: { type: 'integer', minimum: 1 },
      deliveredAt: dateTime,
      credentials: { type: 'array', items: ref('CredentialStatus') },
    },
  },
  FailureView: {
    type: 'object',
    required: ['type', 'message'],
    additionalProperties: false,
    properties: {
      type: { type: 'string', examples: ['DeliveryFailed', 'Cancelled', 'Terminated', 'TimedOut'] },
      message: { type: 'string' },
      reason: { enum: ['AttemptsExhausted', 'WindowClosed', 'NonRetryableError'] },
      attempts: { type: 'integer' },
      lastError: ref('ErrorSummary'),
    },
  },
  EnrollmentSummary: {
    type: 'object',
    required: ['workflowId', 'runId', 'executionStatus', 'stage', 'attempt', 'startTime'],
    additionalProperties: false,
    properties: summaryProperties(),
  },
  EnrollmentView: {
    type: 'object',
    required: ['workflowId', 'runId', 'executionStatus', 'stage', 'attempt', 'startTime'],
    additionalProperties: false,
    properties: {
      ...summaryProperties(),
      summary: { type: 'string', description: 'Who and which device, by name' },
      status: ref('ProvisioningStatus'),
      result: ref('DeliveryReport'),
      failure: ref('FailureView'),
    },
  },
  EnrollmentList: {
    type: 'object',
    required: ['items', 'nextPageToken'],
    additionalProperties: false,
    properties: {
      items: { type: 'array', items: ref('EnrollmentSummary') },
      nextPageToken: { type: ['string', 'null'], description: 'Pass as pageToken for the next page; null on the last page' },
    },
  },
  CancelRequest: {
    type: 'object',
    additionalProperties: false,
    properties: { reason: { type: 'string', minLength: 1, maxLength: 500 } },
  },
  TerminateRequest: {
    type: 'object',
    required: ['reason'],
    additionalProperties: false,
    properties: { reason: { type: 'string', minLength: 1, maxLength: 500 } },
  },
  ActionAccepted: {
    type: 'object',
    required: ['workflowId', 'runId', 'action'],
    additionalProperties: false,
    properties: { workflowId, runId: { type: 'string' }, action: { enum: ['cancel', 'retry', 'terminate'] } },
  },
  Health: { type: 'object', required: ['status'], additionalProperties: false, properties: { status: { const: 'ok' } } },
  Ready: {
    type: 'object',
    required: ['status', 'namespace'],
    additionalProperties: false,
    properties: { status: { const: 'ready' }, namespace: { type: 'string' } },
  },
};

function summaryProperties(): Json {
  return {
    workflowId,
    runId: { type: 'string' },
    executionStatus: { enum: [...EXECUTION_STATUSES] },
    stage: { enum: [...STAGES] },
    attempt: { type: 'integer', minimum: 0 },
    enrollmentUserUuid: uuid,
    deviceUuid: uuid,
    eventTime: dateTime,
    startTime: dateTime,
    closeTime: dateTime,
  };
}

const basicAuth = [{ uemBasic: [] }];
const viewerAuth = [{ bearer: ['viewer'] }];
const operatorAuth = [{ bearer: ['operator'] }];

function paths(): OpenApiPaths {
  return {
    [WEBHOOK_PATH]: {
      get: {
        operationId: 'testWebhookConnection',
        tags: ['webhook'],
        summary: 'The UEM console\'s "Test Connection"',
        security: basicAuth,
        responses: { '200': jsonResponse('Credentials accepted', ref('WebhookReady')), '401': unauthorized },
      },
      post: {
        operationId: 'receiveUemEvent',
        tags: ['webhook'],
        summary: 'Receive a UEM Event Notification',
        description:
          'Enrollment events start provisioning (idempotent per user, device and EventTime); Break MDM, wipe and delete events cancel the open run ' +
          `for the device; other events are acknowledged and ignored. A 2xx is sent only after Temporal accepted the change. Body at most ${WEBHOOK_BODY_LIMIT_BYTES} bytes.`,
        security: basicAuth,
        requestBody: {
          required: true,
          content: { 'application/json': { schema: ref('UemEvent') }, 'application/xml': { schema: ref('UemEvent') } },
        },
        responses: {
          '200': jsonResponse('Already handled: joined the open run, or a duplicate of an earlier event', ref('WebhookResult')),
          '202': jsonResponse('Accepted: a run started, a cancellation was requested, or the event was ignored', ref('WebhookResult')),
          '400': problem('Malformed body (not JSON/XML, a DOCTYPE, wrong root element, empty)'),
          '401': unauthorized,
          '405': problem('Method not allowed'),
          '413': problem(`Body over ${WEBHOOK_BODY_LIMIT_BYTES} bytes`),
          '415': problem('Content-Type is neither JSON nor XML'),
          '422': problem('A field the provider needs is missing or invalid (named in `field`)'),
          '503': unavailable,
        },
      },
    },
    '/v1/enrollments': {
      get: {
        operationId: 'listEnrollments',
        tags: ['management'],
        summary: 'List provisioning workflows (Temporal visibility; newest first)',
        security: viewerAuth,
        parameters: [
          { name: 'stage', in: 'query', schema: { enum: [...STAGES] } },
          { name: 'deviceUuid', in: 'query', schema: uuid },
          { name: 'userUuid', in: 'query', schema: uuid },
          { name: 'pageSize', in: 'query', schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE } },
          { name: 'pageToken', in: 'query', schema: { type: 'string' } },
        ],
        responses: {
          '200': jsonResponse('One page', ref('EnrollmentList')),
          '400': problem('The page token is not valid'),
          '401': unauthorized,
          '422': problem('A filter is not valid'),
          '503': unavailable,
        },
      },
      post: {
        operationId: 'startEnrollment',
        tags: ['management'],
        summary: 'Start provisioning for a user and device (EventTime: now)',
        security: operatorAuth,
        requestBody: { required: true, content: { 'application/json': { schema: ref('StartEnrollmentRequest') } } },
        responses: {
          '200': jsonResponse('Joined the open run for this user and device', ref('StartResult')),
          '201': jsonResponse('Started', ref('StartResult'), { Location: { schema: { type: 'string' } } }),
          '400': problem('Malformed JSON'),
          '401': unauthorized,
          '403': problem('Needs the operator role'),
          '413': problem('Body too large'),
          '415': problem('Not JSON'),
          '422': problem('A field is missing or invalid'),
          '503': unavailable,
        },
      },
    },
    '/v1/enrollments/{workflowId}': {
      get: {
        operationId: 'getEnrollment',
        tags: ['management'],
        summary: 'One provisioning workflow: stage, attempt, status, result or failure',
        security: viewerAuth,
        parameters: [workflowIdParameter],
        responses: {
          '200': jsonResponse('The workflow\'s latest run', ref('EnrollmentView')),
          '401': unauthorized,
          '404': problem('No such provisioning workflow'),
          '503': unavailable,
        },
      },
    },
    ...action('cancel', 'Cancel the open run: clean-up runs, the workflow ends Cancelled', 'CancelRequest', false),
    ...action('retry', 'Signal retryNow: skip the wait for the next attempt', undefined, false),
    ...action('terminate', 'Terminate the open run at once (no clean-up); a reason is required', 'TerminateRequest', true),
    '/openapi.json': {
      get: {
        operationId: 'getOpenApi',
        tags: ['meta'],
        summary: 'This document',
        security: [],
        responses: { '200': jsonResponse('OpenAPI 3.1', { type: 'object' }) },
      },
    },
    '/healthz': {
      get: {
        operationId: 'getHealth',
        tags: ['meta'],
        summary: 'Liveness: the process is up',
        security: [],
        responses: { '200': jsonResponse('Up', ref('Health')) },
      },
    },
    '/readyz': {
      get: {
        operationId: 'getReadiness',
        tags: ['meta'],
        summary: 'Readiness: Temporal answers for the namespace',
        security: [],
        responses: { '200': jsonResponse('Ready', ref('Ready')), '503': problem('Temporal does not answer', retryAfter) },
      },
    },
    '/metrics': {
      get: {
        operationId: 'getMetrics',
        tags: ['meta'],
        summary: 'Prometheus metrics (when the process provides a registry)',
        security: [],
        responses: { '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } },
      },
    },
  };
}

function action(name: 'cancel' | 'retry' | 'terminate', summary: string, body: string | undefined, bodyRequired: boolean): OpenApiPaths {
  return {
    [`/v1/enrollments/{workflowId}/${name}`]: {
      post: {
        operationId: `${name}Enrollment`,
        tags: ['management'],
        summary,
        security: operatorAuth,
        parameters: [workflowIdParameter],
        ...(body ? { requestBody: { required: bodyRequired, content: { 'application/json': { schema: ref(body) } } } } : {}),
        responses: {
          '202': jsonResponse('Accepted', ref('ActionAccepted')),
          '400': problem('Malformed JSON'),
          '401': unauthorized,
          '403': problem('Needs the operator role'),
          '404': problem('No such provisioning workflow'),
          '409': problem('The workflow is not running'),
          '415': problem('The body is not JSON'),
          ...(body ? { '422': problem('A field is missing or invalid') } : {}),
          '503': unavailable,
        },
      },
    },
  };
}

/** The document; `extraPaths` lets whoever mounts extra routers (codec endpoints) document them too. */
export function openApiDocument(extraPaths: OpenApiPaths = {}): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'smime-escrow-provider',
      version: packageVersion(),
      description:
        'Webhook for Workspace ONE UEM Event Notifications and management API for the S/MIME provisioning workflows. ' +
        'Errors are RFC 9457 problem details. Every response carries X-Request-Id.',
    },
    tags: [
      { name: 'webhook', description: 'Called by Workspace ONE UEM (HTTP Basic, UEM_WEBHOOK_USERS)' },
      { name: 'management', description: 'Bearer tokens from API_TOKENS: viewer reads, operator also acts' },
      { name: 'meta', description: 'Unauthenticated' },
      { name: 'codec', description: 'Remote payload codec for the Temporal UI: operator token or codec session' },
    ],
    paths: { ...paths(), ...extraPaths },
    components: {
      schemas,
      securitySchemes: {
        uemBasic: { type: 'http', scheme: 'basic', description: 'A user:password pair from UEM_WEBHOOK_USERS' },
        bearer: { type: 'http', scheme: 'bearer', description: 'A token from API_TOKENS; its role (viewer, operator) decides what it may do' },
        codecSession: { type: 'apiKey', in: 'cookie', name: 'smime_codec_session', description: 'Session from POST /codec/login (operator token)' },
      },
    },
  };
}
