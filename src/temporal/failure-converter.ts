import { DefaultFailureConverter } from '@temporalio/common';

/**
 * Failure messages and stack traces are encoded (moved into an encrypted payload) too.
 * Why: messages name users and email addresses ("UEM has no usable email for user …",
 * "certificate for mira.kovac@…"), which are personal data; with the codec server operators
 * still read them in the UI, while the Temporal database and anyone without the codec key see
 * only "Encoded failure". The failure *type* (e.g. GatewayUnavailable) stays in the clear, so
 * the workflow and visibility can still branch and filter on it.
 *
 * Loaded by path inside the workflow sandbox (DataConverter.failureConverterPath) and directly
 * by clients, so both sides agree.
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
