/**
 * The SDK's non-public helpers the provider relies on, in one place. They are not part of the
 * SDK's public API, so they may move between releases: the @temporalio/* packages are pinned to
 * one exact version in package.json, and an upgrade only needs this file checked.
 *
 * - executionInfoFromRaw: a raw ListWorkflowExecutions entry as the client's WorkflowExecutionInfo
 *   (the management API lists with its own page tokens, which the client's list() hides);
 * - decodeArrayFromPayloads, encodeToPayloadsWithContext, encodeMapToPayloads, encodeUserMetadata,
 *   encodeUnifiedSearchAttributes: payloads through the provider's data converter, for the raw
 *   history and start calls the client has no typed method for (client.workflow.start drops the
 *   answer's `started` and `status`, which tell a start from a join in one call);
 * - historyFromJSON: a history exported as JSON (the UI, `temporal workflow show -o json`) for replay;
 * - msNumberToTs: a namespace's retention as the proto duration registerNamespace takes.
 *
 * One exception lives elsewhere: refused-payload.ts runs inside the workflow sandbox, which must not
 * load this file's client helpers, so it takes the SDK's sandbox-safe UTF-8 codec directly.
 */
export { executionInfoFromRaw } from '@temporalio/client/lib/helpers';
export { decodeArrayFromPayloads, encodeMapToPayloads, encodeToPayloads, encodeToPayloadsWithContext, encodeUserMetadata } from '@temporalio/common/lib/internal-non-workflow';
export { encodeUnifiedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
export { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
export { msNumberToTs } from '@temporalio/common/lib/time';
