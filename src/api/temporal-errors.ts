/**
 * How a failed call to Temporal becomes an HTTP answer. The API never guesses whether Temporal
 * accepted something: if the call did not succeed, the caller hears 503 with Retry-After and can
 * repeat the request safely (every start and action is idempotent).
 */
import { isGrpcServiceError, WorkflowNotFoundError } from '@temporalio/client';
import { causeChain } from '../domain/errors';
import { HttpProblem } from './problem';

/** gRPC status codes (fixed by the gRPC spec). */
export const GRPC = { INVALID_ARGUMENT: 3, NOT_FOUND: 5 } as const;

/** Seconds a client should wait before repeating a request Temporal could not take. */
export const RETRY_AFTER_SECONDS = 30;

export function temporalUnavailable(): HttpProblem {
  return new HttpProblem('unavailable', 'Temporal did not accept the request; nothing was started or changed — repeat it later', {
    retryAfterSeconds: RETRY_AFTER_SECONDS,
  });
}

/** The gRPC status code behind a client error, if there is one. */
export function grpcCode(err: unknown): number | undefined {
  for (const e of causeChain(err, 5)) if (isGrpcServiceError(e)) return e.code;
  return undefined;
}

export function isWorkflowNotFound(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || grpcCode(err) === GRPC.NOT_FOUND;
}
