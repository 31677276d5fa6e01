/**
 * GET /openapi.json: OpenAPI 3.1 generated from the operations the app serves and their zod
 * schemas. Tests walk the express router against it both ways and validate real answers with it.
 */
import { version } from '../../../package.json';
import { API_OPERATIONS } from '../operations';
import { buildOpenApiDocument } from './document';
import type { OperationSpec } from './operation';

/** The document; `extra` are the operations of routers mounted beside the API's own (the codec endpoints). */
export function openApiDocument(extra: readonly OperationSpec[] = []): Record<string, unknown> {
  return buildOpenApiDocument(
    {
      title: 'smime-escrow-provider',
      version,
      description:
        'Webhook for Workspace ONE UEM Event Notifications and management API for the S/MIME provisioning workflows. ' +
        'Errors are RFC 9457 problem details. Every response carries X-Request-Id.',
    },
    [...API_OPERATIONS, ...extra],
  );
}
