/**
 * Outside-system call metrics, put around an adapter where it is built (not inside every
 * activity): latency histograms by outcome and error counters by type, recorded through the
 * activity context's meter so they reach the worker's Prometheus endpoint with the SDK's own
 * metrics. Outside an activity (start-up, shutdown, tests) calls simply pass through.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';

export type OutsideSystem = 'ca' | 'gateway' | 'directory' | 'notifier' | 'escrow';

type Method = (...args: never[]) => Promise<unknown>;

/**
 * The adapter with each of `operations` measured; `outcomes` name a successful result (e.g. a CA's
 * `issued`/`pending`) for the latency histogram. Everything else is the adapter's own.
 */
export function withCallMetrics<T extends { readonly type: string }>(
  system: OutsideSystem,
  adapter: T,
  operations: readonly (keyof T & string)[],
  outcomes: Partial<Record<keyof T & string, (result: never) => string>> = {},
): T {
  // Methods run on the adapter itself (not the proxy), so private fields keep working.
  return new Proxy(adapter, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      if (typeof property !== 'string' || !operations.includes(property as keyof T & string)) return (value as Method).bind(target);
      const outcome = outcomes[property as keyof T & string] as ((result: unknown) => string) | undefined;
      return (...args: never[]) =>
        measured(system, { [system]: target.type, operation: property }, () => (value as Method).apply(target, args), outcome);
    },
  });
}

/** Run `call` and record its latency (seconds) and, on failure, the error type. */
async function measured<T>(system: OutsideSystem, tags: Record<string, string>, call: () => Promise<T>, outcomeOf?: (result: T) => string): Promise<T> {
  const meter = activityMeter();
  if (!meter) return call();
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

function activityMeter() {
  try {
    return Context.current().metricMeter;
  } catch {
    return undefined; // not inside an activity
  }
}
