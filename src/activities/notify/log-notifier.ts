import type { Logger } from '../../logging';
import type { FailureNotice, Notifier } from './notifier';

export const FAILURE_LOG_MESSAGE = 'S/MIME delivery failed';

/**
 * Writes the notice as one pino line at `error` level, its fields at the top level so log
 * pipelines can filter on workflowId, deviceUuid, reason... A notice holds no secret, but the
 * line still goes through the given logger (built by `createLogger`), whose redaction applies.
 */
export class LogNotifier implements Notifier {
  readonly type = 'log';

  constructor(private readonly logger: Logger) {}

  async notifyFailure(notice: FailureNotice): Promise<void> {
    this.logger.error({ ...notice }, FAILURE_LOG_MESSAGE);
  }
}
