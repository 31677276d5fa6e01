import type { Logger } from '../../logging';
import type { FailureNotice, Notifier, ProfileReinstallNotice } from './notifier';

export const FAILURE_LOG_MESSAGE = 'S/MIME delivery failed';
export const REINSTALL_LOG_MESSAGE = 'S/MIME profile re-install needed';

/**
 * How many devices of a reinstall notice go into its log line. A full list of 1,000 is a line of
 * some 150 KB, more than many log pipelines take as one event; the line says how many were left
 * out, and the notice's `howToFind` says how to list them all.
 */
export const REINSTALL_LOG_MAX_DEVICES = 100;

/**
 * Writes each notice as one pino line, its fields at the top level so log pipelines can filter on
 * workflowId, deviceUuid, reason...: a failure at `error` level, a profile re-install request at
 * `warn` (work for an administrator, nothing broken). A notice holds no secret, but the line still
 * goes through the given logger (built by `createLogger`), whose redaction applies.
 */
export class LogNotifier implements Notifier {
  readonly type = 'log';

  constructor(private readonly logger: Logger) {}

  async notifyFailure(notice: FailureNotice): Promise<void> {
    this.logger.error({ ...notice }, FAILURE_LOG_MESSAGE);
  }

  async notifyProfileReinstall(notice: ProfileReinstallNotice): Promise<void> {
    const devices = notice.devices.slice(0, REINSTALL_LOG_MAX_DEVICES);
    this.logger.warn({ ...notice, devices, devicesNotListed: Math.max(0, notice.total - devices.length) }, REINSTALL_LOG_MESSAGE);
  }
}
