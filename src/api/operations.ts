/**
 * Every operation the API serves, in the order /openapi.json lists them. A new endpoint: its
 * schemas (src/api/schemas/), its `defineOperation`s next to its router, and one line here; the
 * OpenAPI test fails if a route is served but not listed, or listed but not served.
 */
import { fleetOperations } from './management/fleet-operations';
import { enrollmentOperations } from './management/operations';
import { metaOperations } from './meta-operations';
import type { OperationSpec } from './openapi/operation';
import { webhookOperations } from './webhook/operations';

export const API_OPERATIONS: readonly OperationSpec[] = [...webhookOperations, ...enrollmentOperations, ...fleetOperations, ...metaOperations];
