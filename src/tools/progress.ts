/**
 * Progress lines for long tool builds. On a terminal it redraws one line; in CI (no TTY) it
 * prints a line every few seconds so a log shows the build is alive without flooding it.
 */
export class Progress {
  private lastPrint = 0;
  private readonly started = Date.now();
  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  update(detail: string): void {
    const now = Date.now();
    const elapsed = `${Math.round((now - this.started) / 1000)}s`;
    if (this.stream.isTTY) {
      const line = `[${this.label}] ${elapsed} ${detail}`.slice(0, (this.stream.columns ?? 100) - 1);
      this.stream.write(`\r\x1b[2K${line}`);
    } else if (now - this.lastPrint >= 5000) {
      this.stream.write(`[${this.label}] ${elapsed} ${detail}\n`);
      this.lastPrint = now;
    }
  }

  done(message: string): void {
    if (this.stream.isTTY) this.stream.write('\r\x1b[2K');
    this.stream.write(`[${this.label}] ${message} (${Math.round((Date.now() - this.started) / 1000)}s)\n`);
  }
}

export function say(label: string, message: string): void {
  process.stderr.write(`[${label}] ${message}\n`);
}
