/** The UEM webhook's operations: GET is the console's "Test Connection", POST an Event Notification. */
import { defineOperation, TEMPORAL_UNAVAILABLE } from '../openapi/operation';
import { UemEvent, WebhookReady, WebhookResult } from '../schemas/webhook';

export const WEBHOOK_PATH = '/webhooks/uem';
/** UEM events are a few hundred bytes; anything near this is not one. */
export const WEBHOOK_BODY_LIMIT_BYTES = 64 * 1024;

export const testWebhookConnection = defineOperation({
  operationId: 'testWebhookConnection',
  method: 'get',
  path: WEBHOOK_PATH,
  tag: 'webhook',
  summary: 'The UEM console\'s "Test Connection"',
  access: 'webhook',
  responses: { 200: { description: 'Credentials accepted', schema: WebhookReady } },
});

export const receiveUemEvent = defineOperation({
  operationId: 'receiveUemEvent',
  method: 'post',
  path: WEBHOOK_PATH,
  tag: 'webhook',
  summary: 'Receive a UEM Event Notification',
  description:
    'Enrollment events start provisioning (idempotent per user, device and EventTime); Break MDM, wipe and delete events cancel the open run ' +
    `for the device; other events are acknowledged and ignored. A 2xx is sent only after Temporal accepted the change. Body at most ${WEBHOOK_BODY_LIMIT_BYTES} bytes.`,
  access: 'webhook',
  body: { schema: UemEvent, contentTypes: ['application/json', 'application/xml'] },
  responses: {
    200: { description: 'Already handled: joined the open run, or a duplicate of an earlier event', schema: WebhookResult },
    202: { description: 'Accepted: a run started, a cancellation was requested, or the event was ignored', schema: WebhookResult },
  },
  problems: {
    badRequest: 'Malformed body (not JSON/XML, a DOCTYPE, wrong root element, empty)',
    methodNotAllowed: 'Method not allowed',
    tooLarge: `Body over ${WEBHOOK_BODY_LIMIT_BYTES} bytes`,
    unsupportedMediaType: 'Content-Type is neither JSON nor XML',
    invalidField: 'A field the provider needs is missing or invalid (named in `field`)',
    unavailable: TEMPORAL_UNAVAILABLE,
  },
});

export const webhookOperations = [testWebhookConnection, receiveUemEvent];
