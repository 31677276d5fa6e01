/**
 * Where a worker's time goes, from its Prometheus endpoint: per activity type, the mean execution
 * time and the mean wait between scheduling and start (time spent queued because the worker was
 * busy), plus the same wait for workflow tasks. Histograms are read as sum/count and compared
 * between two scrapes, so one phase's figures do not include another's.
 */

export interface MetricSample {
  sum: number;
  count: number;
}

export type Scrape = Map<string, MetricSample>;

export interface TimeBreakdown {
  /** activity type → mean execution ms and how many ran. */
  activityExecutionMs: Record<string, { mean: number; count: number }>;
  activityScheduleToStartMs: number;
  workflowTaskScheduleToStartMs: number;
  workflowTaskExecutionMs: number;
  /** Calls to outside systems (CA, gateway...) → mean ms. */
  outsideCallsMs: Record<string, { mean: number; count: number }>;
}

const INTERESTING = /^(temporal_activity_execution_latency_seconds|temporal_activity_schedule_to_start_latency_seconds|temporal_workflow_task_schedule_to_start_latency_seconds|temporal_workflow_task_execution_latency_seconds|smime_\w+_call_latency_seconds)_(sum|count)\{([^}]*)\}\s+(\S+)$/;

export async function scrape(url: string): Promise<Scrape> {
  const result: Scrape = new Map();
  let text: string;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
    text = await response.text();
  } catch {
    return result; // no worker running: nothing to attribute
  }
  for (const line of text.split('\n')) {
    const match = INTERESTING.exec(line);
    if (!match) continue;
    const [, metric, part, labels, value] = match;
    const label = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(labels!)?.[1] ?? '';
    let key = metric!;
    if (metric === 'temporal_activity_execution_latency_seconds') key = `activity:${label('activity_type')}`;
    else if (metric!.startsWith('smime_')) key = `call:${metric!.replace(/^smime_|_call_latency_seconds$/g, '')}/${label('operation') || label('activityType')}`;
    const sample = result.get(key) ?? { sum: 0, count: 0 };
    if (part === 'sum') sample.sum += Number(value);
    else sample.count += Number(value);
    result.set(key, sample);
  }
  return result;
}

export function breakdown(before: Scrape, after: Scrape): TimeBreakdown {
  const delta = (key: string): MetricSample => {
    const a = after.get(key) ?? { sum: 0, count: 0 };
    const b = before.get(key) ?? { sum: 0, count: 0 };
    return { sum: a.sum - b.sum, count: a.count - b.count };
  };
  const meanMs = (s: MetricSample) => (s.count > 0 ? (s.sum / s.count) * 1000 : 0);
  const activityExecutionMs: TimeBreakdown['activityExecutionMs'] = {};
  const outsideCallsMs: TimeBreakdown['outsideCallsMs'] = {};
  for (const key of after.keys()) {
    const d = delta(key);
    if (d.count <= 0) continue;
    if (key.startsWith('activity:')) activityExecutionMs[key.slice('activity:'.length)] = { mean: meanMs(d), count: d.count };
    if (key.startsWith('call:')) outsideCallsMs[key.slice('call:'.length)] = { mean: meanMs(d), count: d.count };
  }
  return {
    activityExecutionMs,
    activityScheduleToStartMs: meanMs(delta('temporal_activity_schedule_to_start_latency_seconds')),
    workflowTaskScheduleToStartMs: meanMs(delta('temporal_workflow_task_schedule_to_start_latency_seconds')),
    workflowTaskExecutionMs: meanMs(delta('temporal_workflow_task_execution_latency_seconds')),
    outsideCallsMs,
  };
}

/**
 * Requests the Temporal server's frontend answered, by operation (StartWorkflowExecution,
 * DescribeWorkflowExecution, …), from its Prometheus endpoint; empty when it cannot be read.
 * Compared between two scrapes it says how many calls to Temporal a phase made.
 */
export async function scrapeFrontendRequests(url: string): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  let text: string;
  try {
    text = await (await fetch(url, { signal: AbortSignal.timeout(5000) })).text();
  } catch {
    return result;
  }
  for (const line of text.split('\n')) {
    if (!line.startsWith('service_requests{') || !line.includes('service_name="frontend"')) continue;
    const operation = /operation="([^"]*)"/.exec(line)?.[1];
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (operation && Number.isFinite(value)) result.set(operation, (result.get(operation) ?? 0) + value);
  }
  return result;
}

/** What workers call (polls, task answers, heartbeats): not a client's calls. */
const WORKER_OPERATIONS = /^(Poll|Respond|RecordActivityTaskHeartbeat|ShutdownWorker)/;

/** after − before, by operation, without the ones that did not move; workers' own calls left out. */
export function requestsBetween(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [operation, value] of after) {
    if (WORKER_OPERATIONS.test(operation)) continue;
    const d = value - (before.get(operation) ?? 0);
    if (d > 0) delta[operation] = d;
  }
  return delta;
}
