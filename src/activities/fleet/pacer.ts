/**
 * Paces per-device starts to at most `ratePerSecond`: one start every 1/rate seconds, never two
 * closer together — also across pages, because each page hands the next the instant its first
 * start may happen (the pages may run on different workers). A steady interval rather than a
 * bucket with a burst: CEG's sizing (40 per second) is a sustained rate, and a burst of a whole
 * page at once is what it cannot take.
 */
import { sleep } from '@temporalio/activity';

export class Pacer {
  readonly #intervalMs: number;
  #nextAtMs: number;

  constructor(ratePerSecond: number, notBeforeMs = 0) {
    if (!(ratePerSecond > 0)) throw new RangeError(`rate must be positive, got ${ratePerSecond}`);
    this.#intervalMs = 1000 / ratePerSecond;
    this.#nextAtMs = notBeforeMs;
  }

  /** Waits until the next start may happen, and books it. */
  async next(): Promise<void> {
    const now = Date.now();
    if (this.#nextAtMs > now) await sleep(this.#nextAtMs - now);
    this.#nextAtMs = Math.max(this.#nextAtMs, Date.now()) + this.#intervalMs;
  }

  /** When the start after the last booked one may happen (epoch ms): the next page's `notBeforeMs`. */
  get nextAtMs(): number {
    return this.#nextAtMs;
  }
}
