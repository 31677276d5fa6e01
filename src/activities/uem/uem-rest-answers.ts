/**
 * How the UEM REST adapters read an answer: the body through its contract schema, and a failure
 * as a typed error decided by the status (the same classes for every call):
 *   - 5xx, 429, 408                      → the caller's retryable "unavailable" type, with
 *                                           Retry-After (or the budget's reset) as the retry delay
 *   - 401, 403                           → ConfigurationError (credentials, API key or role)
 *   - 404                                → what the call says it means (UserNotFound, ...)
 *   - any other 4xx                      → what the call says, else ConfigurationError
 *   - a 2xx body that is not JSON        → ConfigurationError (a login page or a proxy: UEM_API_URL)
 * Messages carry the status and UEM's own message (clipped), never what was sent.
 */
import type { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { nonRetryable, retryable } from '../../domain/errors';
import { parseJson } from '../transport';
import { uemErrorBody } from './rest-contract';
import { isTransientStatus, retryDelayFor, type UemAnswer, type UemUnavailableType } from './uem-rest-client';

/** UEM's messages are short; a longer one is clipped so it cannot flood workflow history. */
const MAX_UEM_MESSAGE_CHARS = 200;

export const isSuccess = (answer: UemAnswer): boolean => answer.status >= 200 && answer.status <= 299;

/** No content: 204, or a 2xx with an empty body (UEM's answer for "no records"). */
export const isEmpty = (answer: UemAnswer): boolean => answer.status === 204 || answer.text.trim() === '';

/** A 2xx body read through its schema; a body that is not JSON is a configuration problem. */
export function readBody<S extends z.ZodTypeAny>(answer: UemAnswer, schema: S, what: string): z.output<S> {
  const json = parseJson(answer.text);
  if (json === undefined) {
    throw nonRetryable('ConfigurationError', `the answer to ${what} is not JSON (HTTP ${answer.status}, content-type ${answer.contentType || 'none'}): check UEM_API_URL`, { httpStatus: answer.status });
  }
  return schema.parse(json) as z.output<S>;
}

/** UEM's error code and message from an error answer, when it sent its JSON error document. */
export function uemSaid(answer: UemAnswer): { uemErrorCode?: number | string; uemMessage?: string } {
  const json = parseJson(answer.text);
  if (json === undefined) return {};
  const body = uemErrorBody.parse(json);
  const message = body.message?.replace(/[A-Za-z0-9+/=]{64,}/g, '[redacted]').slice(0, MAX_UEM_MESSAGE_CHARS);
  return { ...(body.errorCode !== undefined ? { uemErrorCode: body.errorCode } : {}), ...(message ? { uemMessage: message } : {}) };
}

export interface FailureMeaning {
  /** The caller's retryable type for outages. */
  unavailable: UemUnavailableType;
  /** What a 404 means for this call. */
  notFound?: (message: string, details: Record<string, unknown>) => ApplicationFailure;
  /** What another 4xx means for this call (default: ConfigurationError). */
  rejected?: (message: string, details: Record<string, unknown>) => ApplicationFailure;
}

/** The typed error for a non-2xx answer to `what`. */
export function failureFor(answer: UemAnswer, what: string, meaning: FailureMeaning): ApplicationFailure {
  const said = uemSaid(answer);
  const details = { httpStatus: answer.status, ...said };
  const message = `UEM answered ${answer.status} to ${what}${said.uemMessage ? `: ${said.uemMessage}` : ''}`;
  if (isTransientStatus(answer.status)) {
    const nextRetryDelayMs = retryDelayFor(answer);
    return retryable(meaning.unavailable, message, { ...details, retryAfterMs: answer.retryAfterMs }, { nextRetryDelayMs });
  }
  if (answer.status === 401 || answer.status === 403) {
    return nonRetryable('ConfigurationError', `${message} (check UEM_API_USERNAME/UEM_API_PASSWORD or the UEM_OAUTH_* client, UEM_API_TENANT_CODE, and the API account's role)`, details);
  }
  if (answer.status === 404 && meaning.notFound) return meaning.notFound(message, details);
  if (meaning.rejected) return meaning.rejected(message, details);
  return nonRetryable('ConfigurationError', message, details);
}
