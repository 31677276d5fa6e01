import type { LogLevel, LogMetadata, Logger as SdkLogger } from '@temporalio/common';
import { makeTelemetryFilterString, Runtime } from '@temporalio/worker';
import type { Logger } from '../logging';

/**
 * The SDK's logger interface, backed by pino: workflow logs (replay-aware), activity logs and the
 * SDK core's own logs all come out as one JSON line each, carrying workflowId, runId, activityType
 * and attempt as the SDK attaches them.
 */
export class PinoSdkLogger implements SdkLogger {
  constructor(private readonly logger: Logger) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    const method = ({ TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const)[level] ?? 'info';
    this.logger[method](flatten(meta), message);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

/** The SDK nests some fields (sdkComponent, taskQueue...); keep them, drop undefined noise. */
function flatten(meta: LogMetadata | undefined): Record<string, unknown> {
  if (!meta) return {};
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta)) if (value !== undefined) out[key] = value;
  return out;
}

export interface RuntimeSettings {
  logger: Logger;
  /** host:port for the Prometheus /metrics endpoint; undefined = no endpoint. */
  metricsBindAddress?: string;
}

/** Install the process-wide SDK runtime once: pino logging and Prometheus metrics. */
export function installRuntime({ logger, metricsBindAddress }: RuntimeSettings): Runtime {
  return Runtime.install({
    logger: new PinoSdkLogger(logger.child({ component: 'temporal-sdk' })),
    telemetryOptions: {
      logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }) },
      metrics: metricsBindAddress
        ? { prometheus: { bindAddress: metricsBindAddress, countersTotalSuffix: true, useSecondsForDurations: true, unitSuffix: true } }
        : undefined,
    },
  });
}
