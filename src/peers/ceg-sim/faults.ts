/**
 * Fault injection for the CEG simulator: the next N uploads are delayed, answered with an error
 * status, or have their connection dropped. Set with `POST /sim/faults`; a new plan replaces the
 * old one; `DELETE /sim/faults` clears it.
 */
import { z } from 'zod';

export const faultPlanSchema = z
  .object({
    /** How many of the next uploads the fault applies to. */
    count: z.number().int().min(1).max(10_000),
    /** Answer with this status (problem+json) instead of processing the upload. */
    status: z.number().int().min(400).max(599).optional(),
    /** Hold the request this long first (then fail as asked, or process it normally). */
    delayMs: z.number().int().min(0).max(600_000).optional(),
    /** Destroy the connection without an answer. */
    dropConnection: z.boolean().optional(),
    /** With `status`: send a Retry-After header of this many seconds. */
    retryAfterSeconds: z.number().int().min(0).max(86_400).optional(),
  })
  .strict()
  .refine((f) => f.status !== undefined || f.delayMs !== undefined || f.dropConnection === true, {
    message: 'give at least one of status, delayMs, dropConnection',
  })
  .refine((f) => !(f.status !== undefined && f.dropConnection === true), {
    message: 'status and dropConnection exclude each other',
  });

export type FaultPlan = z.output<typeof faultPlanSchema>;
export type Fault = Omit<FaultPlan, 'count'>;

export class FaultInjector {
  private plan: FaultPlan | undefined;

  set(plan: FaultPlan): void {
    this.plan = { ...plan };
  }

  clear(): void {
    this.plan = undefined;
  }

  /** What is left of the current plan (count = uploads still affected). */
  current(): FaultPlan | undefined {
    return this.plan ? { ...this.plan } : undefined;
  }

  /** The fault for the upload arriving now, if any; uses up one of the plan's count. */
  take(): Fault | undefined {
    if (!this.plan) return undefined;
    const { count, ...fault } = this.plan;
    if (count <= 1) this.plan = undefined;
    else this.plan = { ...this.plan, count: count - 1 };
    return fault;
  }
}
