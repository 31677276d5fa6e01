/**
 * Outside-system call metrics, recorded through the activity context's meter so they reach the
 * worker's Prometheus endpoint with the SDK's own metrics: latency histograms by outcome and
 * error counters by type, for the CA and the gateway.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';

export type OutsideSystem = 'ca' | 'gateway' | 'directory' | 'notifier';

/** Run `call` and record its latency (seconds) and, on failure, the error type. */
export async function measured<T>(system: OutsideSystem, tags: Record<string, string>, call: () => Promise<T>, outcomeOf?: (result: T) => string): Promise<T> {
  const meter = Context.current().metricMeter;
  const latency = meter.createHistogram(`smime_${system}_call_latency`, 'float', 'seconds', `Latency of calls to the ${system}`);
  const started = performance.now();
  try {
    const result = await call();
    latency.record((performance.now() - started) / 1000, { ...tags, outcome: outcomeOf?.(result) ?? 'ok' });
    return result;
  } catch (err) {
    const type = err instanceof ApplicationFailure && err.type ? err.type : 'Error';
    latency.record((performance.now() - started) / 1000, { ...tags, outcome: 'error' });
    meter.createCounter(`smime_${system}_errors`, 'errors', `Failed calls to the ${system}, by error type`).add(1, { ...tags, type });
    throw err;
  }
}
