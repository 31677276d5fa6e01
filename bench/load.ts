/**
 * Load for the bench and the fault suite: UEM enrollment events posted to the webhook (as fast as
 * `concurrency` allows, or at a fixed rate), floor workflows started straight on Temporal, and
 * waiting for all of them to close. Every request is timed from just before it is sent to the
 * end of its answer; the webhook answers 2xx only after Temporal accepted the start, so that is
 * the acknowledgement latency UEM sees.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { simulatedEnrollment } from '../src/cli/simulate';
import type { EnrollmentEvent } from '../src/domain/enrollment';
import { enrollmentPayload, type EventFormat } from '../src/peers/uem-sim/events';
import { searchAttributes } from '../src/workflows/definitions';

export interface Sent {
  /** Set when the answer was a 2xx with a workflow id. */
  workflowId?: string;
  /** Epoch ms just before the request went out. */
  sentAt: number;
  /** Milliseconds to the complete answer. */
  ackMs: number;
  /** HTTP status, or 'network' when there was no answer. */
  status: number | 'network';
  event?: EnrollmentEvent;
}

export interface Progress {
  update(detail: string): void;
  done(message: string): void;
}

export interface PostOptions {
  url: string;
  authorization: string;
  count: number;
  /** Requests in flight at once (ignored with `rate`, which opens as many as the rate needs). */
  concurrency: number;
  /** Events per second, evenly spaced; unset: as fast as `concurrency` allows. */
  rate?: number;
  format?: EventFormat;
  /** Number the events from here (the simulator alternates Apple and Android by number). */
  firstIndex?: number;
  /** Stop sending early (e.g. a fault test that has seen enough). */
  signal?: AbortSignal;
  /** Send these events (e.g. again, as UEM re-sends) instead of fresh ones; `count` is capped by their number. */
  events?: EnrollmentEvent[];
  requestTimeoutMs?: number;
  /** The fetch to send with (e.g. one that trusts a private CA, for a TLS proxy); default the global one. */
  fetch?: typeof fetch;
}

export async function postEnrollments(requested: PostOptions, progress?: Progress): Promise<Sent[]> {
  const options = requested.events ? { ...requested, count: Math.min(requested.count, requested.events.length) } : requested;
  const results: Sent[] = [];
  const format = options.format ?? 'json';
  const started = Date.now();
  let next = 0;
  const sendOne = async (n: number): Promise<void> => {
    const event = options.events?.[n] ?? simulatedEnrollment((options.firstIndex ?? 0) + n);
    const payload = enrollmentPayload(event, format);
    const sentAt = Date.now();
    const t0 = performance.now();
    let sent: Sent;
    try {
      const response = await (options.fetch ?? fetch)(options.url, {
        method: 'POST',
        headers: { 'Content-Type': payload.contentType, Authorization: options.authorization },
        body: payload.body,
        signal: AbortSignal.timeout(options.requestTimeoutMs ?? 60_000),
      });
      const text = await response.text();
      const ackMs = performance.now() - t0;
      let workflowId: string | undefined;
      if (response.status >= 200 && response.status < 300) workflowId = (JSON.parse(text) as { workflowId?: string }).workflowId;
      sent = { workflowId, sentAt, ackMs, status: response.status, event };
    } catch {
      sent = { sentAt, ackMs: performance.now() - t0, status: 'network', event };
    }
    results.push(sent);
    progress?.update(`sent ${results.length}/${options.count}, acknowledged ${results.filter((r) => r.workflowId).length}`);
  };

  if (options.rate) {
    // Open loop: each event leaves at its time whatever the earlier ones are doing, as UEM would send them.
    const inFlight: Promise<void>[] = [];
    for (let n = 0; n < options.count && !options.signal?.aborted; n++) {
      const due = started + (n * 1000) / options.rate;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      inFlight.push(sendOne(n));
    }
    await Promise.all(inFlight);
  } else {
    const lanes = Array.from({ length: Math.min(options.concurrency, options.count) }, async () => {
      while (next < options.count && !options.signal?.aborted) await sendOne(next++);
    });
    await Promise.all(lanes);
  }
  progress?.done(`sent ${results.length}, acknowledged ${results.filter((r) => r.workflowId).length} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return results;
}

export interface FloorStartOptions {
  count: number;
  concurrency: number;
  taskQueue: string;
}

/**
 * Start floor workflows straight on Temporal (no webhook), timed like webhook posts, with what the
 * webhook's start carries: the four search attributes (Stage=Received) and a summary.
 */
export async function startFloorWorkflows(client: Client, options: FloorStartOptions, progress?: Progress): Promise<Sent[]> {
  const results: Sent[] = [];
  let next = 0;
  const lanes = Array.from({ length: Math.min(options.concurrency, options.count) }, async () => {
    while (next < options.count) {
      next += 1;
      const workflowId = `floor-${randomUUID()}`;
      const sentAt = Date.now();
      const t0 = performance.now();
      await client.workflow.start('floorWorkflow', {
        workflowId,
        taskQueue: options.taskQueue,
        args: [],
        staticSummary: 'Floor: a no-op delivery with provisionSmime\'s shape',
        typedSearchAttributes: [
          { key: searchAttributes.stage, value: 'Received' },
          { key: searchAttributes.attempt, value: 0 },
          { key: searchAttributes.deviceUuid, value: 'floor-device' },
          { key: searchAttributes.enrollmentUserUuid, value: 'floor-user' },
        ],
      });
      results.push({ workflowId, sentAt, ackMs: performance.now() - t0, status: 201 });
      progress?.update(`started ${results.length}/${options.count}`);
    }
  });
  await Promise.all(lanes);
  progress?.done(`started ${results.length} floor workflows`);
  return results;
}

export interface Closed {
  status: string;
  startTime: number;
  closeTime: number;
  stage?: string;
}

/**
 * Wait until `expected` workflows matching `query` (a visibility query) have closed; progress every
 * second. Resolves with how many closed (it may be fewer at the timeout).
 */
export async function waitForClosed(client: Client, query: string, expected: number, options: { timeoutMs: number; label?: string }, progress?: Progress): Promise<number> {
  const deadline = Date.now() + options.timeoutMs;
  let closed = 0;
  for (;;) {
    try {
      closed = (await client.workflow.count(`${query} AND ExecutionStatus != 'Running'`)).count;
    } catch {
      // the server may be restarting (fault tests): keep waiting
    }
    progress?.update(`${options.label ?? 'closed'} ${closed}/${expected}`);
    if (closed >= expected || Date.now() > deadline) break;
    await sleep(1000);
  }
  progress?.done(`${options.label ?? 'closed'} ${closed}/${expected}`);
  return closed;
}

/** Start and close times (and final Stage, where set) of the closed workflows matching `query`. */
export async function closedWorkflows(client: Client, query: string): Promise<Map<string, Closed>> {
  const result = new Map<string, Closed>();
  for await (const execution of client.workflow.list({ query: `${query} AND ExecutionStatus != 'Running'`, pageSize: 1000 })) {
    const stage = (execution.searchAttributes?.Stage as string[] | undefined)?.[0];
    result.set(execution.workflowId, {
      status: execution.status.name,
      startTime: execution.startTime.getTime(),
      closeTime: execution.closeTime?.getTime() ?? Number.NaN,
      stage,
    });
  }
  return result;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
