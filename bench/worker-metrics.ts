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
