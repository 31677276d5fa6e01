import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * Runs the processes of a local stack in one terminal: each line prefixed with the process's name,
 * pino JSON rendered compactly, and a stop that leaves nothing behind. Every child runs in its own
 * process group, so stopping a `tsx` launcher also stops the node process it started.
 */
export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

const COLORS = [36, 35, 33, 32, 34, 31, 96, 95];
const LEVEL_NAMES: Record<string, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/**
 * How a stack's output reads on a terminal: `[name    ] 12:00:01 INFO message key=value`, one
 * colour per process. Used by the Supervisor and by `npm run cluster` (whose processes are
 * ManagedProcesses that also keep a log file).
 */
export class LinePrinter {
  private colorIndex = 0;
  private readonly width: number;
  private readonly prefixes = new Map<string, string>();

  constructor(
    names: string[] = [],
    private readonly options: { raw?: boolean; color?: boolean } = {},
  ) {
    this.width = Math.max(8, ...names.map((n) => n.length));
  }

  /** The name in brackets, padded, in the process's own colour (the same one on every call). */
  prefix(name: string): string {
    let prefix = this.prefixes.get(name);
    if (!prefix) {
      const text = name.padEnd(this.width);
      if (this.options.color === false) prefix = `[${text}]`;
      else prefix = `\x1b[${COLORS[this.colorIndex++ % COLORS.length]}m[${text}]\x1b[0m`;
      this.prefixes.set(name, prefix);
    }
    return prefix;
  }

  /** One line of a process's output, prefixed and rendered. */
  print(name: string, line: string): void {
    process.stdout.write(`${this.prefix(name)} ${this.render(line)}\n`);
  }

  /** pino (and Temporal server) JSON lines → `12:00:01 INFO message key=value`; anything else unchanged. */
  render(line: string): string {
    if (this.options.raw || !line.startsWith('{')) return line;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return line;
    }
    const time = String(entry.time ?? entry.ts ?? '').replace(/^.*T(\d\d:\d\d:\d\d).*$/, '$1');
    const levelValue = entry.level;
    const level = ((typeof levelValue === "number" ? LEVEL_NAMES[levelValue] : undefined) ?? String(levelValue ?? "info")).toUpperCase();
    const message = String(entry.msg ?? entry.message ?? '');
    const skip = new Set(['time', 'ts', 'level', 'msg', 'message', 'pid', 'hostname', 'component', 'sdkComponent', 'logger', 'caller', 'stacktrace']);
    const fields = Object.entries(entry)
      .filter(([k, v]) => !skip.has(k) && v !== undefined && v !== null && v !== '')
      .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
      .join(' ');
    return `${time} ${level.padEnd(5)} ${message}${fields ? `  ${fields}` : ''}`;
  }
}

export class Supervisor {
  private readonly children = new Map<string, ChildProcess>();
  private stopping = false;
  private readonly printer: LinePrinter;

  constructor(
    private readonly options: { raw?: boolean; color?: boolean; onUnexpectedExit?: (name: string, code: number | null) => void } = {},
    names: string[] = [],
  ) {
    this.printer = new LinePrinter(names, options);
  }

  start(spec: ProcessSpec): ChildProcess {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group: see stop()
    });
    this.children.set(spec.name, child);
    const prefix = this.prefix(spec.name);
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${prefix} ${this.render(line)}\n`));
    }
    child.on('exit', (code, signal) => {
      this.children.delete(spec.name);
      if (!this.stopping) {
        process.stdout.write(`${prefix} exited (${signal ?? `code ${code}`})\n`);
        this.options.onUnexpectedExit?.(spec.name, code);
      }
    });
    child.on('error', (err) => process.stdout.write(`${prefix} failed to start: ${err.message}\n`));
    return child;
  }

  /**
   * Stop in two waves: first everything started after the first process (worker, API, peers),
   * then the first (the Temporal server), so clients never log a server that vanished under them.
   * Each wave: SIGTERM to every process group, SIGKILL to what is left after the grace period.
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    const running = [...this.children.entries()];
    await this.stopGroup(running.slice(1), graceMs);
    await this.stopGroup(running.slice(0, 1), graceMs);
  }

  private async stopGroup(running: [string, ChildProcess][], graceMs: number): Promise<void> {
    const exits = running.map(([, child]) => new Promise<void>((done) => (child.exitCode !== null || child.signalCode !== null ? done() : child.once('exit', () => done()))));
    for (const [, child] of running) signalGroup(child, 'SIGTERM');
    const timer = setTimeout(() => {
      for (const [name, child] of running) {
        if (child.exitCode === null && child.signalCode === null) {
          process.stdout.write(`${this.prefix(name)} did not stop in ${graceMs / 1000}s; killing\n`);
          signalGroup(child, 'SIGKILL');
        }
      }
    }, graceMs);
    await Promise.all(exits);
    clearTimeout(timer);
    // A launcher may exit before its own children: sweep the groups once more.
    for (const [, child] of running) signalGroup(child, 'SIGKILL');
  }

  private prefix(name: string): string {
    return this.printer.prefix(name);
  }

  private render(line: string): string {
    return this.printer.render(line);
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}
